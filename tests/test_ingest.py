"""feeds -> episodes -> episode_audio through Dagster, against a real HTTP server: good input
is stored once, bad input gets a named failure row and the rest of the day goes on."""

import io
import json
import math
import os
import struct
import wave
from datetime import date

import dagster as dg
import pytest

from dagster_project.assets.episode_audio import episode_audio, episodes_with_audio
from dagster_project.assets.feeds import episodes, feeds
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse
from dagster_project.resources.web import WebFetcher

DAY = "2026-11-18"


def tone(seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(8000 * seconds))
            )
        )
    return buf.getvalue()


def rewrite(path, text: str) -> None:
    """Change a served file; its mtime moves on so If-Modified-Since sees the change."""
    stamp = path.stat().st_mtime + 10
    path.write_text(text)
    os.utime(path, (stamp, stamp))


def rss(title: str, items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{guid}</title><guid>{guid}</guid><pubDate>{when}</pubDate>"
        + (f'<enclosure url="{url}" type="audio/wav"/>' if url else "")
        + "</item>"
        for guid, when, url in items
    )
    head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
    return f"{head}{body}</channel></rss>"


ON_DAY = "Wed, 18 Nov 2026 09:00:00 GMT"


@pytest.fixture
def world(tmp_path, serve):
    site = tmp_path / "site"
    site.mkdir()
    (site / "good.wav").write_bytes(tone())
    (site / "empty.wav").write_bytes(b"")
    (site / "text.wav").write_bytes(b"this is not audio at all " * 100)
    (site / "huge.wav").write_bytes(tone(30))
    (site / "good.xml").write_text(
        rss(
            "Good Show",
            [
                ("ok-1", ON_DAY, "../good.wav"),
                ("empty-1", ON_DAY, "empty.wav"),
                ("text-1", ON_DAY, "text.wav"),
                ("huge-1", ON_DAY, "huge.wav"),
                ("gone-1", ON_DAY, "missing.wav"),
                ("no-audio", ON_DAY, ""),
                ("old-1", "Tue, 17 Nov 2026 09:00:00 GMT", "good.wav"),
            ],
        )
    )
    (site / "notxml.xml").write_text("<html><body>Gone fishing")
    server = serve(site)
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(
        "allow_private_network: true\nfeeds:\n"
        f"  - {{name: good, url: '{server.url}/good.xml'}}\n"
        f"  - {{name: notxml, url: '{server.url}/notxml.xml'}}\n"
        f"  - {{name: missing, url: '{server.url}/nope.xml'}}\n"
        f"  - {{name: loop, url: '{server.url}/loop'}}\n"
    )
    resources = {
        "data_home": DataHome(
            home=str(tmp_path / "data"), feeds_file=str(feeds_file), max_audio_bytes=100_000
        ),
        "web": WebFetcher(retries=0),
        "warehouse": DuckDBWarehouse(path=str(tmp_path / "data" / "warehouse.duckdb")),
    }
    return server, resources


def run(resources):
    result = dg.materialize(
        [feeds, episodes, episode_audio], partition_key=DAY, resources=resources
    )
    assert result.success
    return result


def stored_audio(resources, day: str = DAY) -> dict[str, dict]:
    """The episode_audio rows of the day, by episode GUID."""
    rows = resources["warehouse"].rows("episode_audio", date.fromisoformat(day))
    return {r["episode_guid"]: r for r in rows}


def test_bad_input_is_named_recorded_and_the_rest_goes_on(world):
    _server, resources = world
    run(resources)
    wh = resources["warehouse"]
    day = date.fromisoformat(DAY)
    eps = {e["guid"]: e for e in wh.rows("episodes", day)}
    assert set(eps) == {"ok-1", "empty-1", "text-1", "huge-1", "gone-1"}  # not old-1: other day
    # Only the episode whose audio was stored has a row in episode_audio; episodes has no audio.
    audio = stored_audio(resources)
    assert set(audio) == {"ok-1"} and audio["ok-1"]["audio_url"] == eps["ok-1"]["audio_url"]
    assert audio["ok-1"]["duration_s"] == pytest.approx(1.0, 0.01)
    assert "audio_sha256" not in eps["ok-1"]
    failures = {
        (f["stage"], f["feed"], f["episode_guid"]): f["error"] for f in wh.rows("failures", day)
    }
    assert "not XML" in failures[("feeds", "notxml", None)]
    assert "HTTP 404" in failures[("feeds", "missing", None)]
    assert "redirects" in failures[("feeds", "loop", None)]
    assert "empty" in failures[("episode_audio", "good", "empty-1")]
    assert "not decodable" in failures[("episode_audio", "good", "text-1")]
    assert "byte limit" in failures[("episode_audio", "good", "huge-1")]
    assert "HTTP 404" in failures[("episode_audio", "good", "gone-1")]
    assert "no audio enclosure" in failures[("episodes", "good", "no-audio")]
    stored = list((resources["data_home"].root / "audio").glob("??/*.wav"))
    assert [p.stem for p in stored] == [audio["ok-1"]["audio_sha256"]]


def test_a_rerun_never_downloads_audio_twice_and_keeps_what_it_had(world):
    server, resources = world
    run(resources)
    audio_gets = lambda: sum(1 for p, _ in server.requests if p == "/good.wav")  # noqa: E731
    assert audio_gets() == 1
    # The feed now fails: the episodes stored from it stay, with their audio.
    rewrite(server.root / "good.xml", "not xml any more")
    result = run(resources)
    assert audio_gets() == 1
    meta = result.asset_materializations_for_node("episode_audio")[0].metadata
    assert meta["cached"].value == 1 and meta["downloaded"].value == 0
    day = date.fromisoformat(DAY)
    eps = {e["guid"]: e for e in resources["warehouse"].rows("episodes", day)}
    assert stored_audio(resources)["ok-1"]["audio_sha256"]
    assert eps["ok-1"]["feed_title"] == "Good Show"  # not downgraded to the slug
    failures = resources["warehouse"].rows("failures", day)
    assert any(f["stage"] == "feeds" and f["feed"] == "good" for f in failures)


def test_private_addresses_need_the_feeds_file_to_allow_them(world, tmp_path):
    server, resources = world
    feeds_file = tmp_path / "strict.yaml"
    feeds_file.write_text(f"feeds:\n  - {{name: good, url: '{server.url}/good.xml'}}\n")
    resources["data_home"] = DataHome(home=str(tmp_path / "data2"), feeds_file=str(feeds_file))
    resources["warehouse"] = DuckDBWarehouse(path=str(tmp_path / "data2" / "w.duckdb"))
    run(resources)
    (failure,) = resources["warehouse"].rows("failures", date.fromisoformat(DAY))
    assert "private or local address" in failure["error"] and failure["feed"] == "good"
    assert server.requests == []


def test_podcast_block_drops_the_feed(world):
    server, resources = world
    xml = (server.root / "good.xml").read_text()
    rewrite(
        server.root / "good.xml",
        xml.replace("<channel>", '<channel xmlns:podcast="https://podcastindex.org/namespace/1.0">'
                    "<podcast:block>yes</podcast:block>")
    )  # fmt: skip
    run(resources)
    day = date.fromisoformat(DAY)
    assert resources["warehouse"].rows("episodes", day) == []
    statuses = {r["feed"]: r["status"] for r in resources["warehouse"].rows("feed_fetches", day)}
    assert statuses["good"] == "blocked"
    assert json.loads((resources["data_home"].root / "feeds" / "state.json").read_text())["good"]
    # The feed then fails: its last copy still says blocked, so nothing comes back.
    (server.root / "good.xml").unlink()
    run(resources)
    assert resources["warehouse"].rows("episodes", day) == []


def test_an_item_blocked_later_is_dropped_from_what_was_stored(world):
    server, resources = world
    run(resources)
    xml = (server.root / "good.xml").read_text()
    rewrite(
        server.root / "good.xml",
        xml.replace('<rss version="2.0">',
                    '<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">')
        .replace("<guid>ok-1</guid>", "<guid>ok-1</guid><podcast:block>yes</podcast:block>")
    )  # fmt: skip
    run(resources)
    guids = {e["guid"] for e in resources["warehouse"].rows("episodes", date.fromisoformat(DAY))}
    assert "ok-1" not in guids and "text-1" in guids


def test_a_published_transcript_is_used_and_kept_when_it_later_fails(world):
    from dagster_project.assets.transcripts import transcripts
    from dagster_project.resources.models import Transcriber

    server, resources = world
    (server.root / "ok-1.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ann Lee>Prices fell sharply.\n"
    )
    xml = (server.root / "good.xml").read_text()
    rewrite(
        server.root / "good.xml",
        xml.replace('<rss version="2.0">',
                    '<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">')
        .replace("<guid>ok-1</guid>",
                 '<guid>ok-1</guid><podcast:transcript url="ok-1.vtt" type="text/vtt"/>'),
    )  # fmt: skip
    resources = {**resources, "transcriber": Transcriber()}
    assets = [feeds, episodes, episode_audio, transcripts]

    def segments():
        dg.materialize(assets, partition_key=DAY, resources=resources)
        rows = resources["warehouse"].rows("transcript_segments", date.fromisoformat(DAY))
        return [(r["episode_guid"], r["text"], r["speaker"], r["source"]) for r in rows]

    expected = [("ok-1", "Prices fell sharply.", "Ann Lee", "feed")]
    assert segments() == expected
    (server.root / "ok-1.vtt").unlink()  # the publisher's transcript is gone now
    assert segments() == expected


def test_an_unchanged_feed_is_not_downloaded_again(world, tmp_path):
    server, resources = world
    feeds_file = tmp_path / "etag.yaml"
    feeds_file.write_text(
        "allow_private_network: true\nfeeds:\n"
        f"  - {{name: good, url: '{server.url}/etag/good.xml'}}\n"
    )
    resources["data_home"] = DataHome(home=str(tmp_path / "data3"), feeds_file=str(feeds_file))
    resources["warehouse"] = DuckDBWarehouse(path=str(tmp_path / "data3" / "w.duckdb"))
    statuses = []
    for _ in range(2):
        run(resources)
        (row,) = resources["warehouse"].rows("feed_fetches", date.fromisoformat(DAY))
        statuses.append((row["status"], row["http_status"]))
    assert statuses == [("fetched", 200), ("not_modified", 304)]
    eps = resources["warehouse"].rows("episodes", date.fromisoformat(DAY))
    assert {e["guid"] for e in eps} >= {"ok-1"}  # parsed from the stored copy


@pytest.mark.slow
def test_silent_audio_is_a_named_failure_and_the_rest_goes_on(world):
    from dagster_project.assets.transcripts import transcripts
    from dagster_project.resources.models import Transcriber

    server, resources = world
    with wave.open(str(server.root / "silent.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 32000 * 3)
    xml = (server.root / "good.xml").read_text()
    silent = f"<item><title>s</title><guid>silent-1</guid><pubDate>{ON_DAY}</pubDate>"
    silent += '<enclosure url="silent.wav" type="audio/wav"/></item>'
    rewrite(server.root / "good.xml", xml.replace("</channel>", silent + "</channel>"))
    resources = {**resources, "transcriber": Transcriber()}
    result = dg.materialize(
        [feeds, episodes, episode_audio, transcripts], partition_key=DAY, resources=resources
    )
    assert result.success
    day = date.fromisoformat(DAY)
    failures = {
        (f["stage"], f["episode_guid"]): f["error"]
        for f in resources["warehouse"].rows("failures", day)
    }
    assert failures[("transcripts", "silent-1")] == "no speech found in the audio"
    meta = result.asset_materializations_for_node("transcripts")[0].metadata
    assert meta["transcribed"].value == 2  # the tone and the silence; neither stops the day


def test_a_slow_feed_host_delays_only_itself(world, serve, tmp_path):
    """The slow host holds its answer until the other host has been asked (10 s at most):
    fetched one after the other, the other host is asked only after those 10 s."""
    server, resources = world
    slow = serve(server.root, host="127.0.0.2")
    server.httpd.on_request = lambda path: slow.httpd.gate.set()
    feeds_file = tmp_path / "two-hosts.yaml"
    feeds_file.write_text(
        "allow_private_network: true\nfeeds:\n"
        f"  - {{name: a-slow, url: '{slow.url}/gate/good.xml'}}\n"
        f"  - {{name: b-fast, url: '{server.url}/good.xml'}}\n"
    )
    resources["data_home"] = DataHome(home=str(tmp_path / "data4"), feeds_file=str(feeds_file))
    resources["warehouse"] = DuckDBWarehouse(path=str(tmp_path / "data4" / "w.duckdb"))
    assert dg.materialize([feeds], partition_key=DAY, resources=resources).success
    assert slow.httpd.gate_opened == [True]
    rows = resources["warehouse"].rows("feed_fetches", date.fromisoformat(DAY))
    assert [(r["feed"], r["status"]) for r in rows] == [
        ("a-slow", "fetched"),
        ("b-fast", "fetched"),
    ]


def test_a_slow_audio_host_delays_only_itself(world, serve):
    server, resources = world
    slow = serve(server.root, host="127.0.0.2")
    server.httpd.on_request = lambda path: path.endswith(".wav") and slow.httpd.gate.set()
    rewrite(
        server.root / "good.xml",
        rss(
            "Good Show",
            [
                ("a-slow", ON_DAY, f"{slow.url}/gate/good.wav"),
                ("b-fast", ON_DAY, "good.wav"),
            ],
        ),
    )
    run(resources)
    assert slow.httpd.gate_opened == [True]
    assert sorted(stored_audio(resources)) == ["a-slow", "b-fast"]


def failure_rows(resources, day: str, stage: str = "episodes") -> list[dict]:
    rows = resources["warehouse"].rows("failures", date.fromisoformat(day))
    return [r for r in rows if r["stage"] == stage]


def test_an_item_dated_beyond_tomorrow_is_a_failure_naming_the_feed_and_date(world):
    server, resources = world
    rewrite(
        server.root / "good.xml",
        rss(
            "Good Show",
            [
                ("ok-1", ON_DAY, "good.wav"),
                ("future-1", "Mon, 01 Jan 2099 09:00:00 GMT", "good.wav"),
            ],
        ),
    )
    dg.materialize([feeds, episodes], partition_key=DAY, resources=resources)
    (row,) = failure_rows(resources, DAY)
    assert row["feed"] == "good" and row["episode_guid"] == "future-1"
    assert "2099-01-01" in row["error"] and "beyond tomorrow" in row["error"]
    # Reported once: the next day that runs does not repeat it.
    dg.materialize([feeds, episodes], partition_key="2026-11-19", resources=resources)
    assert failure_rows(resources, "2026-11-19") == []


def test_an_undated_item_is_reported_once_not_on_every_day(world):
    server, resources = world
    rewrite(
        server.root / "good.xml",
        rss("Good Show", [("ok-1", ON_DAY, "good.wav"), ("undated-1", "", "good.wav")]),
    )
    days = ["2026-11-17", DAY, "2026-11-19"]
    for day in days:
        assert dg.materialize([feeds, episodes], partition_key=day, resources=resources).success
    reported = {day: [r["episode_guid"] for r in failure_rows(resources, day)] for day in days}
    assert reported == {"2026-11-17": ["undated-1"], DAY: [], "2026-11-19": []}
    # A rerun of the day it was reported on keeps the row (the day's rows are rewritten).
    dg.materialize([feeds, episodes], partition_key="2026-11-17", resources=resources)
    assert [r["episode_guid"] for r in failure_rows(resources, "2026-11-17")] == ["undated-1"]


def test_audio_stored_for_an_earlier_enclosure_is_not_the_episodes(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    day = date.fromisoformat(DAY)
    wh.replace_partition(
        "episodes",
        day,
        [
            {"feed": "good", "guid": "a", "audio_url": "http://x/new.mp3", "duration_s": 60.0},
            {"feed": "good", "guid": "b", "audio_url": "http://x/b.mp3", "duration_s": 30.0},
        ],
    )
    wh.replace_partition(
        "episode_audio",
        day,
        [
            {"feed": "good", "episode_guid": "a", "audio_url": "http://x/old.mp3",
             "audio_sha256": "aa", "audio_bytes": 1, "duration_s": 59.0},
            {"feed": "good", "episode_guid": "b", "audio_url": "http://x/b.mp3",
             "audio_sha256": "bb", "audio_bytes": 1, "duration_s": 29.5},
        ],
    )  # fmt: skip
    eps = episodes_with_audio(wh, day)
    assert [(e["guid"], e["audio_sha256"], e["duration_s"]) for e in eps] == [
        ("a", None, 60.0),  # the feed's new enclosure is not stored yet: the feed's duration
        ("b", "bb", 29.5),
    ]
