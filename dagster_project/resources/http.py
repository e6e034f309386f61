"""HTTP for feeds, audio and published transcripts: timeouts, retries, safe redirects."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.request import url2pathname

import dagster as dg
import requests
import urllib3
from requests.adapters import HTTPAdapter

from dagster_project.lib.netguard import BlockedAddressError, check_public, is_public

RETRY_STATUS = {429, 500, 502, 503, 504}


class _PeerMustBePublic:
    """Checks the address a connection actually reached, before a byte of the request is sent.

    The name was checked before the request, but DNS may answer differently the second time
    (rebinding); this closes that gap.
    """

    def _new_conn(self):
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if not is_public(peer):
            sock.close()
            raise BlockedAddressError(f"{self.host} connected to {peer}, a private address")
        return sock


class _PublicHTTPConnection(_PeerMustBePublic, urllib3.connection.HTTPConnection):
    pass


class _PublicHTTPSConnection(_PeerMustBePublic, urllib3.connection.HTTPSConnection):
    pass


class _PublicHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """A requests adapter whose connections may only reach public addresses."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def session(allow_private: bool) -> requests.Session:
    s = requests.Session()
    if not allow_private:
        adapter = PublicOnlyAdapter()
        s.mount("http://", adapter)
        s.mount("https://", adapter)
    return s


class FetchError(RuntimeError):
    """A URL that could not be fetched; the message says why."""


@dataclass
class FeedResponse:
    status: int  # 200, or 304 when the stored copy is still current
    body: bytes
    etag: str | None
    last_modified: str | None
    url: str  # after redirects


@dataclass
class Download:
    sha256: str
    size: int
    path: Path  # a temporary file; the caller moves it into the store


class FeedClient(dg.ConfigurableResource):
    """Fetches over HTTP(S) or from file: URLs."""

    user_agent: str = "PodcastInsights/0.1 (+https://example.com/podcast-insights)"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 1.0
    max_redirects: int = 5
    max_feed_bytes: int = 20_000_000
    max_transfer_s: float = 900.0  # a whole body, however slowly it trickles in

    def _get(self, url: str, allow_private: bool, headers: dict[str, str] | None = None):
        """GET with redirects followed by hand, each hop checked, retried with backoff."""
        hops = 0
        while True:
            if not allow_private:
                try:
                    check_public(url)
                except ValueError as exc:
                    raise FetchError(str(exc)) from exc
            response = self._get_with_retries(url, headers, allow_private)
            if response.is_redirect or response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                response.close()
                hops += 1
                if not location:
                    raise FetchError(f"{url}: redirect without a Location header")
                if hops > self.max_redirects:
                    raise FetchError(f"{url}: more than {self.max_redirects} redirects")
                url = urljoin(url, location)
                if urlparse(url).scheme not in ("http", "https"):
                    raise FetchError(f"redirect to a non-HTTP URL: {url}")
                continue
            return url, response

    def _get_with_retries(self, url: str, headers: dict[str, str] | None, allow_private: bool):
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = session(allow_private).get(
                    url,
                    headers=all_headers,
                    timeout=(self.connect_timeout_s, self.read_timeout_s),
                    allow_redirects=False,
                    stream=True,
                )
            except BlockedAddressError as exc:
                raise FetchError(f"{url}: {exc}") from exc
            except requests.RequestException as exc:
                last = exc
                continue
            if response.status_code in RETRY_STATUS:
                last = FetchError(f"{url}: HTTP {response.status_code}")
                response.close()
                continue
            return response
        raise FetchError(f"{url}: failed after {self.retries + 1} attempts: {last}")

    def fetch_feed(
        self,
        url: str,
        allow_private: bool,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FeedResponse:
        """A conditional GET: 304 when the stored copy (etag / last_modified) is current."""
        if urlparse(url).scheme == "file":
            return FeedResponse(
                200, self.get_bytes(url, False, self.max_feed_bytes), None, None, url
            )
        headers = {"Accept": "application/rss+xml, application/xml;q=0.9, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        final, response = self._get(url, allow_private, headers)
        with response:
            if response.status_code == 304:
                return FeedResponse(304, b"", etag, last_modified, final)
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            body = b"".join(_limited(self._body(response, url), self.max_feed_bytes, url))
            return FeedResponse(
                200,
                body,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                final,
            )

    def _body(self, response, url: str) -> Iterator[bytes]:
        """The response body; stops a server that sends a byte now and then forever."""
        deadline = time.monotonic() + self.max_transfer_s
        for chunk in response.iter_content(65536):
            if time.monotonic() > deadline:
                raise FetchError(f"{url}: transfer took longer than {self.max_transfer_s:.0f} s")
            yield chunk

    def get_bytes(self, url: str, allow_private: bool, limit: int = 10_000_000) -> bytes:
        return b"".join(_limited(self._chunks(url, allow_private, limit), limit, url))

    def download(self, url: str, allow_private: bool, max_bytes: int, tmp_dir: Path) -> Download:
        """Stream a file to a temporary path, hashing as it goes; stop at max_bytes."""
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _limited(self._chunks(url, allow_private, max_bytes), max_bytes, url):
                    size += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Download(sha256=digest.hexdigest(), size=size, path=Path(name))

    def _chunks(self, url: str, allow_private: bool, max_bytes: int) -> Iterator[bytes]:
        """The body of a file: or http(s) URL in pieces; refuses a declared size over the limit."""
        if urlparse(url).scheme == "file":
            path = _file_path(url)
            if not path.is_file():
                raise FetchError(f"{url}: no such file")
            with path.open("rb") as src:
                yield from iter(lambda: src.read(65536), b"")
            return
        final, response = self._get(url, allow_private)
        with response:
            if response.status_code != 200:
                raise FetchError(f"{final}: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url}: over the {max_bytes} byte limit")
            yield from self._body(response, url)


def _file_path(url: str) -> Path:
    return Path(url2pathname(urlparse(url).path))


def _limited(chunks: Iterator[bytes], limit: int, url: str) -> Iterator[bytes]:
    """Pass the chunks on; stop with an error once more than `limit` bytes have come."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: over the {limit} byte limit")
        yield chunk
