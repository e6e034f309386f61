"""The web fetcher: feeds, audio and published transcripts over HTTP(S) (or file: URLs), with
deadlines, retries and safe redirects."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol, TypeVar
from urllib.parse import urljoin, urlparse
from urllib.request import url2pathname

import dagster as dg
import requests
import urllib3
import urllib3.connection
from pydantic import PrivateAttr
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError
from urllib3.util.retry import Retry

from dagster_project.lib.netguard import BlockedAddressError, check_public, is_public

RETRY_STATUS = {429, 500, 502, 503, 504}
REDIRECT_STATUS = {301, 302, 303, 307, 308}
# A read returns what one recv brings, at most this: the deadline is checked between reads, so
# a server that drips is noticed byte by byte, not once a large buffer has filled.
READ_SIZE = 8192

T = TypeVar("T")
R = TypeVar("R")

_current = threading.local()  # .deadline: the _Deadline of the request this thread is making


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


class _Deadline:
    """One request's wall clock: connect, TLS, headers and body all count against it.

    A socket timeout restarts with every byte, so a server that drips one byte a second never
    trips it. When the deadline passes, a timer shuts the request's sockets down, which wakes a
    read blocked in any phase (headers included, where no code of ours runs between bytes).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self._fired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def over(self) -> bool:
        return self._fired or time.monotonic() >= self.end

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self._fired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._socks:
                _shutdown(sock)

    def __enter__(self) -> _Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        _current.deadline = None


class _UnderDeadline(urllib3.connection.HTTPConnection):
    """Puts each socket the connection uses under the deadline of the request it serves."""

    def _new_conn(self):
        sock = super()._new_conn()
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def getresponse(self, *args, **kwargs):
        # A kept-alive connection from the pool was opened under an earlier request's deadline.
        deadline = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _PeerMustBePublic(urllib3.connection.HTTPConnection):
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


class _HTTPConnection(_UnderDeadline, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_UnderDeadline, urllib3.connection.HTTPSConnection):
    pass


class _PublicHTTPConnection(_PeerMustBePublic, _HTTPConnection):
    pass


class _PublicHTTPSConnection(_PeerMustBePublic, _HTTPSConnection):
    pass


# urllib3 declares ConnectionCls as its connection Protocol, which its own HTTPConnection does not
# satisfy in pyright's eyes: the ignores below are for urllib3's annotation.
class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection  # pyright: ignore[reportAssignmentType]


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection  # pyright: ignore[reportAssignmentType]


class _PublicHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection  # pyright: ignore[reportAssignmentType]


class _PublicHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection  # pyright: ignore[reportAssignmentType]


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections' sockets obey the request's wall-clock deadline."""

    pool_classes: ClassVar[dict[str, type]] = {"http": _HTTPPool, "https": _HTTPSPool}

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self.pool_classes)


class PublicOnlyAdapter(DeadlineAdapter):
    """A requests adapter whose connections may only reach public addresses."""

    pool_classes: ClassVar[dict[str, type]] = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


def retry_policy(
    retries: int = 3, backoff_s: float = 1.0, max_retry_after_s: float = 60.0
) -> Retry:
    """What urllib3 retries before a response's body is read: connection failures and timeouts,
    and 429/5xx answers, after Retry-After (up to `max_retry_after_s`) or an exponential backoff
    (none before the first retry, then backoff_s x 2, x 4, ...). GET and HEAD only."""
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=False,  # redirects are followed by hand, each hop checked
        status_forcelist=RETRY_STATUS,
        allowed_methods=frozenset({"GET", "HEAD"}),
        backoff_factor=backoff_s,
        respect_retry_after_header=True,
        retry_after_max=math.ceil(max_retry_after_s),
        raise_on_status=False,  # the last answer is returned: its status names the failure
    )


def session(
    allow_private: bool, pool_size: int = 10, retry: Retry | None = None
) -> requests.Session:
    """One requests Session: connections kept and reused, retries on its adapter."""
    s = requests.Session()
    adapter_class = DeadlineAdapter if allow_private else PublicOnlyAdapter
    adapter = adapter_class(
        pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry or Retry(0)
    )
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


class FetchError(RuntimeError):
    """A URL that could not be fetched; the message says why."""


class _BodyCut(Exception):
    """The connection was lost after the response began: the whole request is made again."""


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


@dataclass
class _Got:
    status: int
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    location: str | None = None  # a redirect's target, as sent


class _Sink(Protocol):
    def reset(self) -> None: ...  # a retried attempt starts the body again

    def write(self, chunk: bytes) -> None: ...


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def reset(self) -> None:
        self.parts.clear()

    def write(self, chunk: bytes) -> None:
        self.parts.append(chunk)

    def value(self) -> bytes:
        return b"".join(self.parts)


class _HashingFile:
    """A download's temporary file with its hash and size, emptied when a retry starts over."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.reset()

    def reset(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.digest.update(chunk)
        self.out.write(chunk)


class WebFetcher(dg.ConfigurableResource):
    """Fetches what the pipeline reads from the web (feeds, audio, published transcripts), over
    HTTP(S) or from file: URLs; the resource key `web`."""

    user_agent: str = "PodcastInsights/0.1 (+https://example.com/podcast-insights)"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # silence between two reads
    retries: int = 3
    backoff_s: float = 1.0
    # A 429/503's Retry-After is waited, up to this long (whole seconds: urllib3 rounds it up).
    max_retry_after_s: float = 60.0
    max_redirects: int = 5
    max_feed_bytes: int = 20_000_000
    # Wall clock per request: connect, first byte, whole body, and urllib3's retries of them.
    max_transfer_s: float = 900.0
    max_parallel: int = 8  # requests in flight at once
    max_per_host: int = 2  # requests in flight to one host

    _sessions: dict[bool, requests.Session] = PrivateAttr(default_factory=dict)
    _sessions_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def session_for(self, allow_private: bool) -> requests.Session:
        """One session per client and network policy, so connections are kept and reused."""
        with self._sessions_lock:
            if allow_private not in self._sessions:
                retry = retry_policy(self.retries, self.backoff_s, self.max_retry_after_s)
                self._sessions[allow_private] = session(allow_private, self.max_parallel, retry)
            return self._sessions[allow_private]

    def map_by_host(
        self, work: Callable[[T], R], items: Sequence[T], url_of: Callable[[T], str]
    ) -> list[R]:
        """work(item) for every item, side by side; results in the items' order.

        At most max_per_host items of one host are in flight, and an item waits for its host's
        turn in a queue of its own rather than in a worker: a slow host holds max_per_host
        workers at most, and the other hosts' items go on.
        """
        queues: dict[str, deque[int]] = {}
        for i, item in enumerate(items):
            queues.setdefault(urlparse(url_of(item)).hostname or "", deque()).append(i)
        results: list[R] = [None] * len(items)  # type: ignore[list-item]
        with ThreadPoolExecutor(max(1, self.max_parallel), "fetch") as pool:
            running: dict[Future, tuple[str, int]] = {}

            def start(host: str) -> None:
                i = queues[host].popleft()
                running[pool.submit(work, items[i])] = (host, i)

            for host, queue in queues.items():
                for _ in range(min(max(1, self.max_per_host), len(queue))):
                    start(host)
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    host, i = running.pop(future)
                    results[i] = future.result()
                    if queues[host]:
                        start(host)
        return results

    def _get(
        self,
        url: str,
        allow_private: bool,
        sink: _Sink,
        max_bytes: int,
        headers: dict[str, str] | None = None,
    ) -> _Got:
        """GET into sink, with redirects followed by hand, each hop checked."""
        hops = 0
        while True:
            if not allow_private:
                try:
                    check_public(url)
                except ValueError as exc:
                    raise FetchError(str(exc)) from exc
            got = self._get_with_retries(url, allow_private, sink, max_bytes, headers)
            if got.location is None:
                return got
            hops += 1
            if not got.location:
                raise FetchError(f"{url}: redirect without a Location header")
            if hops > self.max_redirects:
                raise FetchError(f"{url}: more than {self.max_redirects} redirects")
            url = urljoin(url, got.location)
            if urlparse(url).scheme not in ("http", "https"):
                raise FetchError(f"redirect to a non-HTTP URL: {url}")

    def _get_with_retries(
        self,
        url: str,
        allow_private: bool,
        sink: _Sink,
        max_bytes: int,
        headers: dict[str, str] | None,
    ) -> _Got:
        """urllib3's Retry on the session's adapter retries what fails before the body
        (`retry_policy`); a streamed body is read after urllib3 returns, so a body cut off half
        way is fetched again here, after the same backoff."""
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        last: _BodyCut | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self._attempt(url, allow_private, sink, max_bytes, all_headers)
            except _BodyCut as exc:
                last = exc
        raise self._gave_up(url, last)

    def _attempt(
        self,
        url: str,
        allow_private: bool,
        sink: _Sink,
        max_bytes: int,
        headers: dict[str, str],
    ) -> _Got:
        with _Deadline(self.max_transfer_s) as deadline:
            try:
                response = self.session_for(allow_private).get(
                    url,
                    headers=headers,
                    timeout=(
                        min(self.connect_timeout_s, deadline.remaining()),
                        min(self.read_timeout_s, deadline.remaining()),
                    ),
                    allow_redirects=False,
                    stream=True,
                )
            except BlockedAddressError as exc:
                raise FetchError(f"{url}: {exc}") from exc
            except (requests.RequestException, OSError) as exc:
                if deadline.over():
                    raise self._too_slow(url) from exc
                raise self._gave_up(url, exc) from exc
            with response:  # closed on every way out, a deadline's too
                status = response.status_code
                if status in REDIRECT_STATUS:
                    return _Got(status, url, location=response.headers.get("Location", ""))
                if status in RETRY_STATUS:  # still, after the retries
                    raise self._gave_up(url, f"HTTP {status}")
                if status != 200:
                    return _Got(status, url, response.headers)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"{url}: over the {max_bytes} byte limit")
                sink.reset()
                size = 0
                for chunk in self._body(response, url, deadline):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{url}: over the {max_bytes} byte limit")
                    sink.write(chunk)
                return _Got(status, url, response.headers)

    def _body(self, response: requests.Response, url: str, deadline: _Deadline) -> Iterator[bytes]:
        """The body in small reads; a drip stops at the deadline, a reset is tried again."""
        raw = response.raw
        while True:
            if deadline.over():
                raise self._too_slow(url)
            sock = getattr(raw.connection, "sock", None)
            if sock is not None:
                # Never wait past the deadline for the next bytes (the timer is the backstop).
                sock.settimeout(max(0.001, min(self.read_timeout_s, deadline.remaining())))
            try:
                chunk = raw.read1(READ_SIZE, decode_content=True)
            except DecodeError as exc:
                raise FetchError(f"{url}: the body does not decode ({exc})") from exc
            except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
                if deadline.over():
                    raise self._too_slow(url) from exc
                raise _BodyCut(f"connection lost mid-body: {exc}") from exc
            if not chunk:
                if deadline.over():  # the shut-down socket read as the end of the body
                    raise self._too_slow(url)
                return
            yield chunk

    def _gave_up(self, url: str, why: object) -> FetchError:
        return FetchError(f"{url}: failed after {self.retries + 1} attempts: {why}")

    def _too_slow(self, url: str) -> FetchError:
        return FetchError(f"{url}: transfer took longer than {self.max_transfer_s:.0f} s")

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
        body = _Buffer()
        got = self._get(url, allow_private, body, self.max_feed_bytes, headers)
        if got.status == 304:
            return FeedResponse(304, b"", etag, last_modified, got.url)
        if got.status != 200:
            raise FetchError(f"{url}: HTTP {got.status}")
        return FeedResponse(
            200, body.value(), got.headers.get("ETag"), got.headers.get("Last-Modified"), got.url
        )

    def get_bytes(self, url: str, allow_private: bool, limit: int = 10_000_000) -> bytes:
        body = _Buffer()
        self._into(url, allow_private, body, limit)
        return body.value()

    def download(self, url: str, allow_private: bool, max_bytes: int, tmp_dir: Path) -> Download:
        """Stream a file to a temporary path, hashing as it goes; stop at max_bytes."""
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                sink = _HashingFile(out)
                self._into(url, allow_private, sink, max_bytes)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Download(sha256=sink.digest.hexdigest(), size=sink.size, path=Path(name))

    def _into(self, url: str, allow_private: bool, sink: _Sink, max_bytes: int) -> None:
        """The body of a file: or http(s) URL into sink; refuses more than max_bytes."""
        if urlparse(url).scheme == "file":
            path = _file_path(url)
            if not path.is_file():
                raise FetchError(f"{url}: no such file")
            size = 0
            with path.open("rb") as src:
                for chunk in iter(lambda: src.read(65536), b""):
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"{url}: over the {max_bytes} byte limit")
                    sink.write(chunk)
            return
        got = self._get(url, allow_private, sink, max_bytes)
        if got.status != 200:
            raise FetchError(f"{got.url}: HTTP {got.status}")


def _file_path(url: str) -> Path:
    return Path(url2pathname(urlparse(url).path))
