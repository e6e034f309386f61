"""The digest's page as a reader's browser shows it: rendered by headless Chromium (Debian's
`chromium`, started here; scripts/test.sh installs it), on a phone's viewport and a desktop's,
with screenshots saved under data/screenshots/ and the text the browser lays out checked."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

from dagster_project.lib.digest import Digest
from dagster_project.lib.render import to_html

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("PODCAST_INSIGHTS_SCREENSHOTS", REPO / "data" / "screenshots"))
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}

SHOWS = [("signal-and-noise", "Signal and Noise"), ("the-long-view", "The Long View"),
         ("market-hours", "Market Hours")]  # fmt: skip


def citation(i: int, quote: str) -> dict:
    feed, title = SHOWS[i % len(SHOWS)]
    return {"podcast": feed, "podcast_title": title, "episode_guid": f"{feed}/{i}",
            "episode_title": f"Episode {40 + i}", "speaker": "Marc Andreessen" if i == 0 else None,
            "start_s": 60.0 * i + 12.5, "end_s": 60.0 * i + 19.0, "quote": quote,
            "url": f"https://cdn.example.com/{feed}/{i}.mp3#t={60 * i + 12}"}  # fmt: skip


def digest() -> dict:
    """Five insights; the first folds three of its six citations under "+3 more"."""
    lead = [citation(i, f"Open-weight model number {i + 1} was released as a loss leader.")
            for i in range(6)]  # fmt: skip
    topics = ["Mortgage rates", "Battery prices", "Shipping costs", "Café chains"]
    return {
        "date": "2026-11-18",
        "insights": [
            {"rank": 1, "topic_id": "t-open", "topic_label": "china / open / models",
             "headline": "Marc Andreessen posits that China releases open-weight AI models "
                         "as a strategy to commoditise its rivals.",
             "summary": "Discussed by 3 shows in 6 episodes; new today.",
             "keywords": ["china", "open"], "novelty": "new",
             "support": {"podcasts": 3, "episodes": 6, "claims": 6}, "citations": lead},
            *[
                {"rank": r + 2, "topic_id": f"t{r}", "topic_label": t.lower(),
                 "headline": f"{t} moved more this quarter than in any quarter since 2019.",
                 "summary": "Discussed by The Long View.", "keywords": [t.lower()],
                 "novelty": "new", "support": {"podcasts": 1, "episodes": 1, "claims": 1},
                 "citations": [citation(1, f"{t} are up a third on a year ago — «quoted».")]}
                for r, t in enumerate(topics)
            ],
        ],
    }  # fmt: skip


class Chromium:
    """A headless Chromium driven over the DevTools protocol (one page, one WebSocket)."""

    def __init__(self, binary: str, profile: Path):
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            line = self.process.stderr.readline()
            if (not line and self.process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start: {line}")
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = found and int(found[1])
        # Keep reading its log, so a chatty browser never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.ws = None
        self.ids = 0

    def open(self, url: str, viewport: dict) -> None:
        from websockets.sync.client import connect

        request = urllib.request.Request(f"{self.endpoint}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            target = json.load(response)
        if self.ws is not None:
            self.ws.close()
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", **viewport)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def call(self, method: str, **params) -> dict:
        self.ids += 1
        self.ws.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.ids:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def wait_for(self, event: str) -> None:
        while json.loads(self.ws.recv(timeout=60)).get("method") != event:
            pass

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"][
            "value"
        ]

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    chromium = Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digests") / "2026-11-18.html"
    path.write_text(to_html(Digest.model_validate(digest())), encoding="utf-8")
    return path


def png_facts(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the image data."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    data, offset = b"", 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return width, height, len(set(zlib.decompress(data)))


def test_the_page_on_a_phone(browser, page):
    browser.open(page.as_uri(), PHONE)
    text = browser.evaluate("document.body.innerText")
    assert text.startswith("Top insights for 2026-11-18")
    for ins in digest()["insights"]:
        assert ins["headline"] in text
    # Three citations shown, the other three folded under "+3 more" (closed: not laid out).
    assert "Open-weight model number 3 was released" in text
    assert "Open-weight model number 4" not in text
    assert "+3 more" in text
    assert "Signal and Noise: Episode 40 at 0:12 (Marc Andreessen)" in text
    assert "«quoted»" in text and "Café chains" in text  # the page's charset holds
    # Readable on a phone: nothing wider than the screen, text at a readable size.
    assert browser.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    size = browser.evaluate("parseFloat(getComputedStyle(document.querySelector('li p')).fontSize)")
    assert size >= 16
    width, height, shades = png_facts(browser.screenshot(SCREENSHOTS / "digest-page-phone.png"))
    assert (width, height) == (PHONE["width"] * 2, PHONE["height"] * 2)
    assert shades > 50, "the screenshot is (nearly) blank"

    # Opened, "+3 more" shows the rest.
    browser.evaluate("document.querySelector('details').open = true")
    assert "Open-weight model number 6 was released" in browser.evaluate("document.body.innerText")


def test_the_page_on_a_desktop(browser, page):
    browser.open(page.as_uri(), DESKTOP)
    text = browser.evaluate("document.body.innerText")
    assert all(ins["headline"] in text for ins in digest()["insights"])
    # The column stays a readable measure on a wide screen instead of running edge to edge.
    column = browser.evaluate("document.querySelector('h1').getBoundingClientRect().width")
    assert column < DESKTOP["width"] * 0.75
    width, height, shades = png_facts(browser.screenshot(SCREENSHOTS / "digest-page-desktop.png"))
    assert (width, height) == (DESKTOP["width"], DESKTOP["height"])
    assert shades > 50
