"""Every branch of the `transcripts` asset, fast: a fake Transcriber, a real DuckDB warehouse,
published transcripts as file: URLs."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import dagster as dg
import pytest

from dagster_project.assets.common import TRANSCRIPTION_POOL, WAREHOUSE_POOL
from dagster_project.assets.transcripts import transcripts
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import DuckDBWarehouse
from dagster_project.resources.web import WebFetcher
from tests.fakes import FakeTranscriber

DAY = "2026-11-18"
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>Prices fell sharply.\n"


class Day:
    """One day's episodes with their stored audio, and the resources to transcribe them."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n  - {name: good, url: 'file:good.xml'}\n")
        self.data_home = DataHome(home=str(tmp_path / "data"), feeds_file=str(feeds_file))
        self.warehouse = DuckDBWarehouse(path=str(tmp_path / "data" / "warehouse.duckdb"))
        self.transcriber = FakeTranscriber(max_audio_s=3600, calls_log=str(tmp_path / "calls"))
        self.episodes: list[dict] = []
        self.audio: list[dict] = []

    def episode(
        self,
        guid: str,
        speech: str | None,
        seconds: float = 20.0,
        transcript=None,
        description: str = "",
        title: str | None = None,
        feed: str = "good",
        audio_of: str | None = None,
    ):
        """An episode; `speech` is its stored audio's "sound" (None: no audio stored), the same
        file as episode `audio_of`'s when given."""
        url = f"http://127.0.0.1/{guid}.mp3"
        transcript_url = None
        if transcript is not None:
            path = self.tmp / f"{guid}.vtt"
            if transcript:
                path.write_text(transcript)
            transcript_url = path.as_uri()
        self.episodes.append(
            {"feed": feed, "guid": guid, "title": title or guid, "audio_url": url,
             "duration_s": seconds, "transcript_url": transcript_url,
             "transcript_type": "text/vtt" if transcript_url else None,
             "feed_title": feed.title(), "description": description}
        )  # fmt: skip
        if speech is not None:
            sha = self.sha(audio_of or guid)
            self.data_home.path("audio", sha[:2], f"{sha}.mp3").write_text(speech)
            self.audio.append(
                {"feed": feed, "episode_guid": guid, "audio_url": url, "audio_sha256": sha,
                 "audio_bytes": len(speech), "duration_s": seconds}
            )  # fmt: skip

    @staticmethod
    def sha(guid: str) -> str:
        return hashlib.sha256(guid.encode()).hexdigest()

    def cache(self, guid: str) -> list:
        """The stored transcripts of the episode's audio file."""
        return sorted(self.data_home.path("transcripts").glob(f"{self.sha(guid)}.fake.*json"))

    def run(self) -> dg.MaterializeResult:
        day = date.fromisoformat(DAY)
        self.warehouse.replace_partition("episodes", day, self.episodes)
        self.warehouse.replace_partition("episode_audio", day, self.audio)
        result = dg.materialize(
            [transcripts],
            partition_key=DAY,
            resources={
                "data_home": self.data_home,
                "web": WebFetcher(retries=0),
                "transcriber": self.transcriber,
                "warehouse": self.warehouse,
            },
        )
        assert result.success  # whatever failed, the day goes on
        self.result = result
        return result.asset_materializations_for_node("transcripts")[0].metadata

    def segments(self) -> dict[str, list[tuple]]:
        found: dict[str, list[tuple]] = {}
        for r in self.warehouse.rows("transcript_segments", date.fromisoformat(DAY)):
            found.setdefault(r["episode_guid"], []).append((r["text"], r["speaker"], r["source"]))
        return found

    def failures(self) -> dict[str, str]:
        rows = self.warehouse.rows("failures", date.fromisoformat(DAY))
        return {r["episode_guid"]: r["error"] for r in rows if r["stage"] == "transcripts"}


@pytest.fixture
def world(tmp_path) -> Day:
    return Day(tmp_path)


def test_new_audio_is_transcribed_and_cached(world):
    world.episode("new", "Rates rose. Stocks fell.")
    meta = world.run()
    assert world.segments() == {
        "new": [("Rates rose.", None, "whisper"), ("Stocks fell.", None, "whisper")]
    }
    assert (meta["transcribed"].value, meta["cached"].value) == (1, 0)
    assert meta["speed_x_realtime"].value > 0
    (cache,) = world.cache("new")
    assert [s["text"] for s in json.loads(cache.read_text())] == ["Rates rose.", "Stocks fell."]
    (row,) = [
        r
        for r in world.warehouse.rows("transcript_segments", date.fromisoformat(DAY))
        if r["segment_index"] == 0
    ]
    assert json.loads(row["words"]) == [[0.0, 10.0, "Rates rose.", 0.9]]


def test_each_file_not_transcribed_yet_is_a_step_of_its_own_in_the_transcription_pool(world):
    world.episode("first", "Rates rose.")
    world.run()
    world.episode("second", "Stocks fell.")
    world.episode("broken", "FAIL")
    world.episode("published", "Never heard.", transcript=VTT)
    meta = world.run()
    steps = {
        e.step_key: e.event_type_value
        for e in world.result.all_events
        if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")
    }
    # "first" is in the store already; the published transcript needs no model.
    assert {k for k in steps if k.startswith("transcripts.transcribe")} == {
        f"transcripts.transcribe[{world.sha(g)[:16]}]" for g in ("second", "broken")
    }
    assert set(steps.values()) == {"STEP_SUCCESS"}  # a file's error is a failure row, not a step's
    assert world.failures() == {"broken": "transcription failed: the decoder gave up"}
    assert (meta["transcribed"].value, meta["cached"].value, meta["from_feed"].value) == (1, 1, 1)
    ops = {op.name: op for op in transcripts.node_def.iterate_op_defs()}
    assert ops["transcribe"].pool == TRANSCRIPTION_POOL
    assert ops["plan"].pool == ops["write"].pool == WAREHOUSE_POOL  # one writer a day


def test_the_cache_answers_a_rerun_without_the_model(world):
    world.episode("new", "Rates rose.")
    world.run()
    meta = world.run()
    assert world.transcriber.calls == [f"{world.sha('new')}.mp3"]  # once, in the first run
    assert (meta["transcribed"].value, meta["cached"].value) == (0, 1)
    assert "speed_x_realtime" not in meta
    assert world.segments() == {"new": [("Rates rose.", None, "whisper")]}


def test_whisper_is_prompted_with_the_feed_s_words_about_the_episode(world):
    world.episode("strike", "Trains stopped.", description="<p>A rail strike in <b>Germany</b></p>")
    world.run()
    assert world.transcriber.prompted == [
        (f"{world.sha('strike')}.mp3", "Good. strike. A rail strike in Germany.")
    ]


def test_a_new_description_transcribes_again_and_keeps_the_earlier_transcript(world):
    world.episode("strike", "Trains stopped.", description="A rail strike.")
    world.run()
    world.episodes[0]["description"] = "A rail strike in Germany, and the Rhine."
    meta = world.run()
    assert [p for _, p in world.transcriber.prompted] == [
        "Good. strike. A rail strike.",
        "Good. strike. A rail strike in Germany, and the Rhine.",
    ]
    assert (meta["transcribed"].value, meta["cached"].value) == (1, 0)
    assert len(world.cache("strike")) == 2


def test_one_file_is_transcribed_once_per_thing_said_of_it(world):
    # A feed that lists one episode twice (two guids, the same title and text): one call.
    world.episode("a", "Trains stopped.", title="Strike", description="Trains.")
    world.episode("a-again", "Trains stopped.", audio_of="a", title="Strike", description="Trains.")
    # Another feed that carries the same file: its own words, its own prompt and step.
    world.episode("b", "Trains stopped.", audio_of="a", title="Strike", feed="other")
    world.run()
    assert sorted(p for _, p in world.transcriber.prompted) == [
        "Good. Strike. Trains.",
        "Other. Strike.",
    ]
    steps = [e.step_key for e in world.result.all_events if e.event_type_value == "STEP_SUCCESS"]
    transcribed = sorted(k for k in steps if k.startswith("transcripts.transcribe["))
    assert len(transcribed) == 2
    assert all(k.startswith(f"transcripts.transcribe[{world.sha('a')[:16]}") for k in transcribed)
    assert set(world.segments()) == {"a", "a-again", "b"}


def test_a_published_transcript_is_used_instead_of_the_model(world):
    world.episode("published", "Never heard.", transcript=VTT)
    meta = world.run()
    assert world.segments() == {"published": [("Prices fell sharply.", "Ann Lee", "feed")]}
    assert world.transcriber.calls == []
    assert meta["from_feed"].value == 1


def test_an_unusable_published_transcript_is_a_failure_row_and_the_model_transcribes(world):
    world.episode("missing-vtt", "Rates rose.", transcript="")  # its file does not exist
    world.run()
    assert world.segments() == {"missing-vtt": [("Rates rose.", None, "whisper")]}
    assert "published transcript unusable, transcribing instead" in world.failures()["missing-vtt"]


def test_a_failed_transcription_is_a_failure_row_and_the_day_goes_on(world):
    world.episode("broken", "FAIL")
    world.episode("fine", "Rates rose.")
    meta = world.run()
    assert world.segments() == {"fine": [("Rates rose.", None, "whisper")]}
    assert world.failures() == {"broken": "transcription failed: the decoder gave up"}
    assert meta["failed"].value == 1


def test_a_failed_rerun_keeps_what_an_earlier_run_stored(world):
    world.episode("flaky", "Rates rose.")
    world.run()
    world.cache("flaky")[0].unlink()
    audio = world.data_home.audio_file(world.sha("flaky"))
    audio.write_text("FAIL")
    world.run()
    assert world.segments() == {"flaky": [("Rates rose.", None, "whisper")]}
    assert world.failures() == {"flaky": "transcription failed: the decoder gave up"}


def test_over_length_audio_is_refused_before_it_is_read(world):
    world.episode("long", "Rates rose.", seconds=7200.0)
    world.run()
    assert world.transcriber.calls == []
    assert world.failures() == {"long": "not transcribed: 7200 s of audio, over the 3600 s limit"}
    assert world.segments() == {}


def test_audio_without_speech_is_a_failure_row(world):
    world.episode("silent", "")
    world.run()
    assert world.failures() == {"silent": "no speech found in the audio"}
    assert world.segments() == {}


def test_an_episode_without_stored_audio_or_transcript_is_left_alone(world):
    world.episode("no-audio", None)
    meta = world.run()
    assert world.segments() == {} and world.failures() == {}
    assert (meta["transcribed"].value, meta["cached"].value, meta["failed"].value) == (0, 0, 0)
