"""Shared fixtures: a real HTTP server on 127.0.0.1, a data home, feeds files."""

from __future__ import annotations

import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_SHOWS = REPO / "demo" / "shows"


class Handler(SimpleHTTPRequestHandler):
    """Serves files from the server's root, plus a few faults on special paths."""

    server_version = "TestFeeds/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        if self.path.startswith("/slow"):
            time.sleep(3)
        if self.path.startswith("/flaky"):
            self.server.flaky_calls += 1
            if self.server.flaky_calls < 3:
                self.send_response(503)
                self.end_headers()
                return
            self.path = self.path.replace("/flaky", "", 1)
        if self.path.startswith("/etag/"):
            path = Path(self.translate_path(self.path.replace("/etag", "", 1)))
            etag = f'"{path.stat().st_mtime_ns}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class Server:
    def __init__(self, root: Path):
        handler = lambda *a, **kw: Handler(*a, directory=str(root), **kw)  # noqa: E731
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.httpd.flaky_calls = 0
        self.root = root
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[tuple[str, dict]]:
        return self.httpd.requests

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(root: Path) -> Server:
        s = Server(root)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
