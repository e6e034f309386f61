"""Shared fixtures: a real HTTP server on 127.0.0.1, a data home, feeds files."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import threading
import time
from email.utils import formatdate
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
DEMO_SHOWS = REPO / "demo" / "shows"


def pytest_configure(config: pytest.Config) -> None:
    """With workers (`pytest -n N`, scripts/test.sh): parse the dbt project once, here, before
    they start, so no two of them write dbt/target/manifest.json at once while loading the
    definitions."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        from dagster_project.assets.marts import build_marts

        build_marts()


def stop_group(process: subprocess.Popen, timeout: float) -> None:
    """End a process started with `start_new_session=True` and its children: SIGTERM to its
    group, SIGKILL if it is still there after `timeout` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def demo_feeds(url: str, path: Path, shows: tuple[str, ...] = ()) -> Path:
    """A feeds file naming the demo shows (all, or `shows`), served over HTTP from `url`
    (loopback allowed)."""
    names = sorted(shows or (p.stem for p in (DEMO_SHOWS / "feeds").glob("*.xml")))
    path.write_text(
        "allow_private_network: true\nfeeds:\n"
        + "".join(f"  - {{name: {n}, url: '{url}/feeds/{n}.xml'}}\n" for n in names)
    )
    return path


class Handler(SimpleHTTPRequestHandler):
    """Serves files from the server's root, plus a few faults on special paths."""

    server_version = "TestFeeds/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        self.server.times.append((self.path, time.monotonic()))
        if self.server.on_request:
            self.server.on_request(self.path)
        try:
            if self._fault():
                return
        except OSError:  # the client gave up (a deadline): nothing to clean up
            return
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

    def _fault(self) -> bool:
        """The faults of a real slow or busy server; True when the request was answered.

        /drip-body/N      N body bytes, one a second (a read timeout never fires)
        /drip-headers/N   the status line, then header bytes one a second, for N seconds
        /gate/FILE        waits (up to 10 s) for server.gate before serving FILE
        /retry-after/STATUS/VALUE/FILE  the first request gets STATUS with Retry-After: VALUE
                          (VALUE "dateN": an HTTP-date N seconds ahead); later ones get FILE
        /reset-once/FILE  the first request gets half of FILE and a TCP reset; later ones FILE
        """
        stopping = self.server.stopping
        parts = self.path.strip("/").split("/")
        if parts[0] == "drip-body":
            n = int(parts[1])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for _ in range(n):
                if stopping.wait(1):
                    return True
                self.wfile.write(b"x")
                self.wfile.flush()
            return True
        if parts[0] == "drip-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(int(parts[1])):
                if stopping.wait(1):
                    return True
                self.wfile.write(b"a")
                self.wfile.flush()
            self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
            return True
        if parts[0] == "gate":
            self.server.gate_opened.append(self.server.gate.wait(10))
            self.path = "/" + "/".join(parts[1:])
            return False
        first = self.server.calls.get(self.path, 0) == 0
        self.server.calls[self.path] = self.server.calls.get(self.path, 0) + 1
        if parts[0] == "retry-after":
            status, value = int(parts[1]), parts[2]
            if first:
                if value.startswith("date"):
                    value = formatdate(time.time() + int(value[4:]), usegmt=True)
                self.send_response(status)
                self.send_header("Retry-After", value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            self.path = "/" + "/".join(parts[3:])
            return False
        if parts[0] == "reset-once":
            self.path = "/" + "/".join(parts[1:])
            if not first:
                return False
            body = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # Linger 0: close() sends RST, the reset a client meets mid-body.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return True
        return False


class Server:
    def __init__(self, root: Path, host: str = "127.0.0.1"):
        handler = lambda *a, **kw: Handler(*a, directory=str(root), **kw)  # noqa: E731
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.requests = []
        self.httpd.times = []  # (path, time.monotonic()) of each request
        self.httpd.calls = {}
        self.httpd.flaky_calls = 0
        self.httpd.stopping = threading.Event()  # ends the dripping handlers at teardown
        self.httpd.gate = threading.Event()
        self.httpd.gate_opened = []
        self.httpd.on_request = None  # called with each request's path
        self.root = root
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[tuple[str, dict]]:
        return self.httpd.requests

    def close(self):
        self.httpd.stopping.set()
        self.httpd.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(root: Path, host: str = "127.0.0.1") -> Server:
        s = Server(root, host)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def database():
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    import uuid

    psycopg2 = pytest.importorskip("psycopg2")
    name = f"pi_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{PG_SERVER}/postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield name
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards nothing: it records the first line of each
    request it is asked to carry ("CONNECT pypi.org:443 HTTP/1.0") and closes it."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.asked: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                con, _ = self._server.accept()
            except OSError:  # closed: the test is over
                return
            with con:
                con.settimeout(5)
                try:
                    self.asked.append(con.recv(4096).decode(errors="replace").split("\r\n")[0])
                except OSError:
                    self.asked.append("(a connection that sent nothing)")

    def environ(self, no_proxy: str = "") -> dict[str, str]:
        """The variables that send a process's (and its children's) HTTP(S) requests here,
        but for the hosts in `no_proxy` (e.g. "127.0.0.1,localhost": the test's own servers)."""
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
        return {**dict.fromkeys(names, self.url), "NO_PROXY": no_proxy, "no_proxy": no_proxy}

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def recording_proxy():
    """Point a test's HTTP_PROXY/HTTPS_PROXY here: what reaches `asked` tried the network."""
    proxy = RecordingProxy()
    yield proxy
    proxy.close()
