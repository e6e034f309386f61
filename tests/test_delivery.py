"""digest_delivery: files, RSS and one email per day, read back from a real SMTP server."""

import email
import json
import socket
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from dagster_project.assets.digest import digest_delivery
from dagster_project.resources.mailer import Mailer
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse

DAY = datetime.now(UTC).date() - timedelta(days=1)  # yesterday: what the schedule delivers


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self):
            super().__init__()
            self.messages = []

        def handle_message(self, message):
            self.messages.append(message)

    with socket.socket() as probe:  # a free port: the controller checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def insight_row(rank: int) -> dict:
    citation = {
        "podcast": "signal-and-noise",
        "podcast_title": "Signal and Noise",
        "episode_guid": "sn/1",
        "episode_title": "Open models",
        "speaker": "Marc Andreessen",
        "start_s": 12.5,
        "end_s": 18.0,
        "quote": "Chinese firms release open models as a loss leader.",
        "url": "http://x/a.mp3#t=12",
    }
    return {
        "rank": rank,
        "topic_id": f"t{rank}",
        "headline": f"Insight number {rank}.",
        "summary": "Discussed by 2 shows.",
        "novelty": "new",
        "citations": json.dumps([citation]),
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
    body = (
        email.message_from_string(message.as_string())
        .get_payload()[0]
        .get_payload(decode=True)
        .decode()
    )
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
