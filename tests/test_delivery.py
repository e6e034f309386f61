"""digest_delivery: files, RSS and one email per day, read back from a real SMTP server."""

import email
import json
import re
import socket
import time
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.utils import parsedate_to_datetime

import dagster as dg
import feedparser
import pytest

from dagster_project.assets.digest import digest_delivery
from dagster_project.resources.environment import mailer_for
from dagster_project.resources.mailer import Mailer
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse

DAY = datetime.now(UTC).date() - timedelta(days=1)  # yesterday: what the schedule delivers


def free_port() -> int:
    """A port with nothing listening on it (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it accepts; `replies` answer DATA first, in order."""

    def __init__(self, replies: list[str] | None = None):
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.replies = list(replies or [])
        self.data_commands = 0

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.replies:
            return self.replies.pop(0)
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def start_smtp():
    """Starts real aiosmtpd servers on 127.0.0.1 (a given port or a free one); stops them after."""
    from aiosmtpd.controller import Controller

    controllers = []

    def start(port: int | None = None, replies: list[str] | None = None):
        inbox = Inbox(replies)
        controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        controllers.append(controller)
        return controller, inbox

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(start_smtp):
    return start_smtp()


def citation(i: int = 0) -> dict:
    return {
        "podcast": "signal-and-noise",
        "podcast_title": "Signal and Noise",
        "episode_guid": f"sn/{i + 1}",
        "episode_title": "Open models",
        "speaker": "Marc Andreessen",
        "start_s": 12.5 + i,
        "end_s": 18.0 + i,
        "quote": "Chinese firms release open models as a loss leader."
        if i == 0
        else f"Quote number {i + 1} about open models.",
        "url": f"http://x/a.mp3#t={12 + i}",
    }


def insight_row(rank: int, citations: int = 1) -> dict:
    return {
        "rank": rank,
        "topic_id": f"t{rank}",
        "headline": f"Insight number {rank}.",
        "summary": "Discussed by 2 shows.",
        "novelty": "new",
        "citations": json.dumps([citation(i) for i in range(citations)]),
        "topic_label": "china / open",
        "keywords": json.dumps(["china"]),
        "support": json.dumps({"podcasts": 2, "episodes": 2, "claims": 3}),
        "score": 1.0,
    }


def test_files_feed_and_a_single_email_unless_forced(tmp_path, smtp_server):
    controller, inbox = smtp_server
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_partition("digest_insights", DAY, [insight_row(1), insight_row(2)])
    resources = {
        "data_home": DataHome(home=str(tmp_path), feeds_file=str(tmp_path / "feeds.yaml")),
        "warehouse": wh,
        "mailer": Mailer(host="127.0.0.1", port=controller.port, recipients=["reader@example.com"]),
    }

    def deliver(force=False):
        config = dg.RunConfig({"digest_delivery": {"config": {"force": force}}})
        result = dg.materialize(
            [digest_delivery], partition_key=DAY.isoformat(), resources=resources, run_config=config
        )
        return result.asset_materializations_for_node("digest_delivery")[0].metadata

    meta = deliver()
    assert meta["email"].value == "sent to 1 recipient(s)"
    digest = json.loads((tmp_path / "digests" / f"{DAY}.json").read_text())
    assert [i["rank"] for i in digest["insights"]] == [1, 2]
    assert digest["insights"][0]["citations"][0]["podcast"] == "signal-and-noise"  # feed name
    assert (tmp_path / "digests" / f"{DAY}.html").read_text().startswith("<!doctype html>")
    assert f"Top insights for {DAY}" in (tmp_path / "digests" / "feed.xml").read_text()
    (message,) = inbox.messages
    assert message["To"] == "reader@example.com"
    assert message["Subject"] == f"Top insights for {DAY}"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Insight number 1." in body and "Marc Andreessen" in body

    meta = deliver()
    assert "not sent again" in meta["email"].value
    assert len(inbox.messages) == 1

    deliver(force=True)
    assert len(inbox.messages) == 2
    assert len(wh.rows("deliveries", DAY)) == 2

    # A backfill of an old day writes its files but emails nobody unless forced.
    old = date(2026, 11, 1)
    wh.replace_partition("digest_insights", old, [insight_row(1)])
    config = dg.RunConfig({"digest_delivery": {"config": {}}})
    result = dg.materialize(
        [digest_delivery], partition_key=old.isoformat(), resources=resources, run_config=config
    )
    assert (
        "days old"
        in result.asset_materializations_for_node("digest_delivery")[0].metadata["email"].value
    )
    assert len(inbox.messages) == 2
    assert (tmp_path / "digests" / "2026-11-01.md").exists()


def setup(tmp_path, mailer: Mailer, days: dict[date, list[dict]] | None = None):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    for day, rows in (days or {DAY: [insight_row(1), insight_row(2)]}).items():
        wh.replace_partition("digest_insights", day, rows)
    resources = {
        "data_home": DataHome(home=str(tmp_path), feeds_file=str(tmp_path / "feeds.yaml")),
        "warehouse": wh,
        "mailer": mailer,
    }
    return wh, resources


def deliver(resources, day: date = DAY, **config):
    """One run of digest_delivery; returns its materialisation's metadata (the run must pass)."""
    config = {"email_backoff_s": 0.05, **config}
    result = dg.materialize(
        [digest_delivery],
        partition_key=day.isoformat(),
        resources=resources,
        run_config=dg.RunConfig({"digest_delivery": {"config": config}}),
    )
    assert result.success
    return result.asset_materializations_for_node("digest_delivery")[0].metadata


def test_a_refused_smtp_connection_is_retried_recorded_and_sent_once_by_the_next_run(
    tmp_path, start_smtp
):
    port = free_port()  # nothing listens here: the connection is refused
    mailer = Mailer(host="127.0.0.1", port=port, recipients=["reader@example.com"])
    wh, resources = setup(tmp_path, mailer)

    started = time.monotonic()
    meta = deliver(resources, email_attempts=3, email_backoff_s=0.1)
    # Three attempts, with a backoff of 0.1 s then 0.2 s between them.
    assert time.monotonic() - started >= 0.3
    # The run succeeds; the files are there; the email is said not to have been sent.
    assert meta["email_sent"].value is False
    assert f"not sent: SMTP 127.0.0.1:{port}" in meta["email"].value
    assert "after 3 attempts" in meta["email"].value
    assert (tmp_path / "digests" / f"{DAY}.html").exists()
    assert (tmp_path / "digests" / "feed.xml").exists()
    (failed,) = wh.rows("deliveries", DAY)
    assert failed["channel"] == "email_failed"
    assert f"127.0.0.1:{port}" in failed["detail"] and "Connection refused" in failed["detail"]
    (failure,) = wh.query("SELECT * FROM failures WHERE stage = 'digest_delivery'")
    assert f"127.0.0.1:{port}" in failure["error"] and failure["url"] == f"smtp://127.0.0.1:{port}"

    # The next run of the day, with the server up, sends what was not sent: once.
    _, inbox = start_smtp(port=port)
    meta = deliver(resources)
    assert meta["email_sent"].value is True
    assert meta["email"].value == "sent to 1 recipient(s)"
    assert len(inbox.messages) == 1
    channels = sorted(r["channel"] for r in wh.rows("deliveries", DAY))
    assert channels == ["email", "email_failed"]  # the failure stays on record
    assert wh.query("SELECT * FROM failures WHERE stage = 'digest_delivery'") == []

    meta = deliver(resources)
    assert "not sent again" in meta["email"].value
    assert meta["email_sent"].value is False
    assert len(inbox.messages) == 1


def test_a_temporary_smtp_error_is_retried_and_a_permanent_one_is_not(tmp_path, start_smtp):
    controller, inbox = start_smtp(replies=["451 4.3.0 Try again later"])
    mailer = Mailer(host="127.0.0.1", port=controller.port, recipients=["reader@example.com"])
    wh, resources = setup(tmp_path, mailer)
    meta = deliver(resources)
    assert meta["email"].value == "sent to 1 recipient(s)"
    assert inbox.data_commands == 2 and len(inbox.messages) == 1
    assert [r["channel"] for r in wh.rows("deliveries", DAY)] == ["email"]

    # A 5xx answer will not change by asking again: one attempt, then recorded.
    controller, inbox = start_smtp(replies=["554 5.6.0 Rejected"] * 5)
    mailer = Mailer(host="127.0.0.1", port=controller.port, recipients=["reader@example.com"])
    wh, resources = setup(tmp_path / "second", mailer)
    meta = deliver(resources, email_attempts=4)
    assert inbox.data_commands == 1
    assert "after 1 attempt" in meta["email"].value and "554" in meta["email"].value
    assert wh.rows("deliveries", DAY)[0]["channel"] == "email_failed"


def test_the_email_a_mail_client_shows(tmp_path, smtp_server):
    controller, inbox = smtp_server
    mailer = Mailer(
        host="127.0.0.1",
        port=controller.port,
        sender="Podcast Insights <digest@news.example.org>",
        recipients=["reader@example.com", "second@example.com"],
        unsubscribe_mailto="unsubscribe@news.example.org",
        unsubscribe_url="https://news.example.org/unsubscribe?list=daily&token=0123456789abcdef0123456789abcdef",
        site_url="https://news.example.org/digests",
    )
    second = {**insight_row(2), "headline": "Cafés “reopen” in Zürich."}  # not ASCII
    _, resources = setup(tmp_path, mailer, {DAY: [insight_row(1, citations=7), second]})
    before = datetime.now(UTC).replace(microsecond=0)
    deliver(resources)
    (message,) = inbox.messages

    # Headers, as the email package parses them.
    assert before <= parsedate_to_datetime(message["Date"]) <= datetime.now(UTC)
    assert re.fullmatch(r"<[^@<>\s]+@news\.example\.org>", message["Message-ID"])
    assert message["List-Id"] == "Podcast Insights <digest.news.example.org>"
    unsubscribe = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe == [
        "mailto:unsubscribe@news.example.org?subject=unsubscribe",
        "https://news.example.org/unsubscribe?list=daily&token=0123456789abcdef0123456789abcdef",
    ]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # On the wire too: URIs a mail client reads, not RFC 2047 encoded-words.
    (raw,) = inbox.raw
    assert b"<mailto:unsubscribe@news.example.org?subject=unsubscribe>" in raw
    assert b"=?" not in raw.split(b"\r\n\r\n", 1)[0]
    assert message.get_content_type() == "multipart/alternative"

    page = f"https://news.example.org/digests/{DAY}.html"
    # A plain-text part a person reads: no Markdown syntax, the evidence and the links.
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "**" not in text and "](" not in text and "# " not in text
    assert "1. Insight number 1." in text and "2. Cafés “reopen” in Zürich." in text
    assert '"Chinese firms release open models as a loss leader."' in text
    assert "Quote number 3" in text and "Quote number 4" not in text
    assert f"+4 more: {page}#insight-1" in text
    assert "Unsubscribe: https://news.example.org/unsubscribe?list=daily&token=" in text

    # HTML for a phone: viewport, inline styles, three citations an insight, "+N more".
    html = message.get_body(preferencelist=("html",)).get_content()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<style" not in html and 'style="' in html
    assert html.count("&ldquo;") == 4  # 3 citations of insight 1, 1 of insight 2
    assert "Cafés “reopen” in Zürich." in html
    assert re.search(rf'<a href="{re.escape(page)}#insight-1"[^>]*>\+4 more</a>', html)


def test_without_a_site_the_links_go_to_the_local_page(tmp_path, smtp_server):
    controller, inbox = smtp_server
    mailer = Mailer(host="127.0.0.1", port=controller.port, recipients=["reader@example.com"])
    _, resources = setup(tmp_path, mailer, {DAY: [insight_row(1, citations=5)]})
    deliver(resources)
    (message,) = inbox.messages
    page = (tmp_path / "digests" / f"{DAY}.html").resolve().as_uri()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'<a href="{page}#insight-1"' in html and "+2 more" in html
    # The sender's domain names the message and the list; the sender takes unsubscriptions.
    assert message["Message-ID"].endswith("@localhost>")
    assert message["List-Unsubscribe"] == "<mailto:insights@localhost?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None  # one-click needs an https URL (RFC 8058)
    # The feed links the local folder (read as XML: feedparser drops a slash of file:///).
    channel = ET.fromstring((tmp_path / "digests" / "feed.xml").read_bytes()).find("channel")
    assert channel.findtext("link") == (tmp_path / "digests").resolve().as_uri() + "/"
    assert [i.findtext("link") for i in channel.iter("item")] == [page]


def test_the_rss_feed_of_digests_as_a_reader_parses_it(tmp_path):
    site = "https://news.example.org/digests"
    empty = DAY - timedelta(days=1)
    _, resources = setup(
        tmp_path,
        Mailer(site_url=site),  # no recipients: no email
        {DAY: [insight_row(1, citations=5), insight_row(2)], empty: []},
    )
    deliver(resources, day=empty)
    before = datetime.now(UTC).replace(microsecond=0)
    meta = deliver(resources)
    assert meta["email"].value == "not configured"
    assert meta["rss_items"].value == 1

    raw = (tmp_path / "digests" / "feed.xml").read_bytes()
    feed = feedparser.parse(raw)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert feed.feed.link == site + "/"
    (self_link,) = [link for link in feed.feed.links if link.rel == "self"]
    assert self_link.href == f"{site}/feed.xml" and self_link.type == "application/rss+xml"
    built = datetime(*feed.feed.updated_parsed[:6], tzinfo=UTC)
    assert before <= built <= datetime.now(UTC)
    # The day without insights is no item; the day with them links its page.
    (item,) = feed.entries
    assert item.link == f"{site}/{DAY}.html"
    assert item.title == f"Top insights for {DAY}"
    assert item.id == f"podcast-insights-{DAY}"
    description = item.summary
    assert "<html" not in description and "<!doctype" not in description.lower()
    assert "<ol" in description and "Insight number 1." in description
    assert "Quote number 3" in description and "Quote number 4" not in description
    assert f'href="{site}/{DAY}.html#insight-1"' in description and "+2 more" in description


def test_a_published_file_that_is_not_a_digest_is_left_out_of_the_feed(tmp_path):
    _, resources = setup(tmp_path, Mailer())
    (tmp_path / "digests").mkdir()
    bad = tmp_path / "digests" / "2026-11-02.json"
    bad.write_text('{"date": "2026-11-02", "insights": [{"rank": 0, "headline": "Half"}]}')
    meta = deliver(resources)
    assert meta["rss_items"].value == 1
    feed = feedparser.parse((tmp_path / "digests" / "feed.xml").read_bytes())
    assert [e.title for e in feed.entries] == [f"Top insights for {DAY}"]
    assert bad.exists()  # left as it is, for a person to look at


def test_mailer_for_reads_the_site_and_unsubscribe_addresses():
    mailer = mailer_for(
        {
            "PODCAST_INSIGHTS_SMTP_TO": "a@example.com",
            "PODCAST_INSIGHTS_SMTP_FROM": "Digest <digest@example.org>",
            "PODCAST_INSIGHTS_SITE_URL": "https://example.org/insights/",
            "PODCAST_INSIGHTS_UNSUBSCRIBE_MAILTO": "leave@example.org",
            "PODCAST_INSIGHTS_UNSUBSCRIBE_URL": "https://example.org/leave",
        }
    )
    assert mailer.site_url == "https://example.org/insights/"
    assert mailer.unsubscribe_mailto == "leave@example.org"
    assert mailer.unsubscribe_url == "https://example.org/leave"
    bare = mailer_for({})
    assert bare.site_url is None and bare.unsubscribe_url is None and not bare.enabled
