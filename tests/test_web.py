"""WebFetcher against a real HTTP server on 127.0.0.1."""

import time

import pytest

from dagster_project.resources.web import FetchError, WebFetcher


@pytest.fixture
def site(tmp_path, serve):
    (tmp_path / "feed.xml").write_bytes(b"<rss><channel><title>x</title></channel></rss>")
    (tmp_path / "big.bin").write_bytes(b"\0" * 200_000)
    return serve(tmp_path)


def client(**kw) -> WebFetcher:
    return WebFetcher(**{"backoff_s": 0.01, "retries": 2, **kw})


def test_conditional_get_returns_304_when_unchanged(site):
    c = client()
    first = c.fetch_feed(f"{site.url}/etag/feed.xml", allow_private=True)
    assert first.status == 200 and first.etag
    again = c.fetch_feed(f"{site.url}/etag/feed.xml", allow_private=True, etag=first.etag)
    assert again.status == 304 and again.body == b""
    assert site.requests[-1][1]["If-None-Match"] == first.etag
    assert site.requests[-1][1]["User-Agent"].startswith("PodcastInsights/")


def test_private_addresses_are_refused_unless_allowed(site):
    with pytest.raises(FetchError, match="private or local address"):
        client().fetch_feed(f"{site.url}/feed.xml", allow_private=False)
    assert site.requests == []  # refused before connecting


def test_redirect_loops_stop(site):
    with pytest.raises(FetchError, match="more than 5 redirects"):
        client().fetch_feed(f"{site.url}/loop", allow_private=True)


def test_404_is_an_error_naming_the_url(site):
    with pytest.raises(FetchError, match="HTTP 404") as err:
        client().fetch_feed(f"{site.url}/missing.xml", allow_private=True)
    assert "/missing.xml" in str(err.value)


def test_timeouts_are_retried_then_reported(site):
    with pytest.raises(FetchError, match="failed after 2 attempts"):
        client(read_timeout_s=0.5, retries=1).fetch_feed(f"{site.url}/slow", allow_private=True)


def test_server_errors_are_retried_with_backoff(site):
    response = client(retries=3).fetch_feed(f"{site.url}/flaky/feed.xml", allow_private=True)
    assert response.status == 200 and b"<rss>" in response.body
    assert site.httpd.flaky_calls == 3


def test_server_errors_past_the_retries_name_the_url_and_the_status(site):
    with pytest.raises(FetchError, match="failed after 2 attempts: HTTP 503") as err:
        client(retries=1).fetch_feed(f"{site.url}/flaky/feed.xml", allow_private=True)
    assert "/flaky/feed.xml" in str(err.value)
    assert site.httpd.flaky_calls == 2


def test_retries_are_urllib3s_on_the_one_session(site):
    c = client(retries=2, backoff_s=0.25, max_retry_after_s=7)
    retry = c.session_for(True).get_adapter(site.url).max_retries
    assert (retry.total, retry.backoff_factor, retry.retry_after_max) == (2, 0.25, 7)
    assert set(retry.status_forcelist or ()) == {429, 500, 502, 503, 504}
    assert retry.allowed_methods == frozenset({"GET", "HEAD"})
    c.fetch_feed(f"{site.url}/flaky/feed.xml", allow_private=True)
    assert site.httpd.flaky_calls == 3  # two 503s retried inside one call


def test_download_streams_hashes_and_enforces_the_size_limit(site, tmp_path):
    import hashlib

    dl = client().download(f"{site.url}/big.bin", True, 1_000_000, tmp_path / "tmp")
    assert dl.size == 200_000
    assert dl.sha256 == hashlib.sha256(b"\0" * 200_000).hexdigest()
    with pytest.raises(FetchError, match="over the 100000 byte limit"):
        client().download(f"{site.url}/big.bin", True, 100_000, tmp_path / "tmp")
    assert list((tmp_path / "tmp").glob("*.part")) == [dl.path]  # the partial file is gone


def test_file_urls(tmp_path):
    p = tmp_path / "feed.xml"
    p.write_bytes(b"<rss/>")
    assert client().fetch_feed(p.as_uri(), allow_private=False).body == b"<rss/>"
    with pytest.raises(FetchError, match="no such file"):
        client().fetch_feed((tmp_path / "nope.xml").as_uri(), allow_private=False)


def test_a_trickling_server_hits_the_transfer_deadline(tmp_path, serve):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.2)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(FetchError, match="longer than 1 s"):
            client(max_transfer_s=1.0).download(
                f"http://127.0.0.1:{httpd.server_address[1]}/a.mp3", True, 10_000, tmp_path
            )
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_connections_to_private_addresses_are_refused_at_connect_time(site):
    """What a DNS answer that changes between check and connect (rebinding) would meet."""
    from dagster_project.lib.netguard import BlockedAddressError
    from dagster_project.resources.web import session

    with pytest.raises(BlockedAddressError, match="private address"):
        session(allow_private=False).get(f"{site.url}/feed.xml", timeout=5)
    assert session(allow_private=True).get(f"{site.url}/feed.xml", timeout=5).status_code == 200
    assert len(site.requests) == 1  # the refused connection sent no request


def test_is_public_unwraps_ipv4_inside_ipv6():
    from dagster_project.lib.netguard import is_public

    for private in (
        "127.0.0.1",
        "10.1.2.3",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
    ):
        assert not is_public(private), private
    assert is_public("93.184.216.34")


def test_a_body_dripping_one_byte_a_second_is_cut_off_at_the_deadline(site, tmp_path):
    """The read timeout (30 s) never fires on a drip; the wall-clock deadline (2 s) must."""
    c = client(max_transfer_s=2.0, read_timeout_s=30.0)
    for fetch in (
        lambda: c.download(f"{site.url}/drip-body/60", True, 10_000, tmp_path / "tmp"),
        lambda: c.fetch_feed(f"{site.url}/drip-body/60", allow_private=True),
    ):
        started = time.monotonic()
        with pytest.raises(FetchError, match="longer than 2 s"):
            fetch()
        assert time.monotonic() - started < 20
    assert len(site.requests) == 2  # a deadline is not retried: the next try would drip too


def test_headers_dripping_one_byte_a_second_are_cut_off_at_the_deadline(site):
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 2 s"):
        client(max_transfer_s=2.0, read_timeout_s=30.0).fetch_feed(
            f"{site.url}/drip-headers/60", allow_private=True
        )
    assert time.monotonic() - started < 20


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(site):
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 1 s"):
        client(max_transfer_s=1.0, read_timeout_s=30.0).fetch_feed(
            f"{site.url}/gate/feed.xml", allow_private=True
        )
    assert time.monotonic() - started < 8  # the server holds the request for 10 s


def gap(site) -> float:
    (_, first), (_, second) = site.httpd.times
    return second - first


@pytest.mark.parametrize(
    "path, at_least",
    [
        ("/retry-after/429/1/feed.xml", 0.95),  # seconds
        ("/retry-after/503/date2/feed.xml", 0.9),  # an HTTP-date 2 s ahead, to the second
    ],
)
def test_retry_after_is_honoured(site, path, at_least):
    response = client(retries=2).fetch_feed(f"{site.url}{path}", allow_private=True)
    assert response.status == 200 and b"<rss>" in response.body
    assert len(site.requests) == 2
    assert gap(site) >= at_least  # not the 0.01 s backoff


def test_retry_after_waits_no_longer_than_its_cap(site):
    started = time.monotonic()
    response = client(max_retry_after_s=0.5).fetch_feed(
        f"{site.url}/retry-after/429/3600/feed.xml", allow_private=True
    )
    assert response.status == 200
    assert gap(site) >= 0.45 and time.monotonic() - started < 30


def test_a_connection_reset_mid_body_is_retried(site, tmp_path):
    import hashlib

    dl = client().download(f"{site.url}/reset-once/big.bin", True, 1_000_000, tmp_path / "tmp")
    assert dl.size == 200_000
    assert dl.sha256 == hashlib.sha256(b"\0" * 200_000).hexdigest()
    assert dl.path.read_bytes() == b"\0" * 200_000  # the half from the first try is not kept
    feed = client().fetch_feed(f"{site.url}/reset-once/feed.xml", allow_private=True)
    assert feed.body == b"<rss><channel><title>x</title></channel></rss>"
    assert [p for p, _ in site.requests] == ["/reset-once/big.bin"] * 2 + [
        "/reset-once/feed.xml"
    ] * 2


def test_one_session_per_client_and_network_policy(site):
    c = client()
    assert c.session_for(True) is c.session_for(True)
    assert c.session_for(False) is not c.session_for(True)
    for _ in range(3):
        c.fetch_feed(f"{site.url}/feed.xml", allow_private=True)
    assert c.session_for(True) is c.session_for(True)


def test_work_runs_concurrently_with_at_most_max_per_host_in_flight_per_host():
    import threading

    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}
    overall = [0, 0]  # now, peak

    def work(url: str) -> str:
        host = url.split("/")[2]
        with lock:
            in_flight[host] = in_flight.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), in_flight[host])
            overall[0] += 1
            overall[1] = max(overall[1], overall[0])
        time.sleep(0.2)
        with lock:
            in_flight[host] -= 1
            overall[0] -= 1
        return url.upper()

    urls = [f"https://{h}.example.com/{i}" for h in ("a", "b", "c") for i in range(6)]
    results = client(max_parallel=6, max_per_host=2).map_by_host(work, urls, lambda u: u)
    assert results == [u.upper() for u in urls]  # in the order given
    assert max(peak.values()) <= 2
    assert overall[1] > 2  # hosts ran side by side
