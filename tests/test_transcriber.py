"""Whisper in bounded memory: audio decoded a window at a time, cut in pauses, silence left out
by the VAD, and a maximum duration past which an episode is a failure row, not a day's run.

The slow tests run the real tiny.en; they assert properties of its output (times inside the
audio, in order; no text from silence), never which words it heard, which differs across CPUs.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from dagster_project.lib.audio import AudioTooLong, decode_windows, pause_cut
from dagster_project.lib.decoding import (
    feed_prompt,
    inside,
    layout,
    misaligned,
    passes,
    placed,
    sentences,
    text_of,
    uncovered,
)

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "demo" / "shows" / "audio" / "signal-and-noise" / "sn-101.mp3"  # 119.6 s
SHORT = REPO / "demo" / "shows" / "audio" / "market-open" / "mo-400.mp3"  # 31.4 s
DAY = "2026-11-18"
ON_DAY = "Wed, 18 Nov 2026 09:00:00 GMT"


def ffmpeg(*args: str) -> None:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed (scripts/test.sh installs it): it makes long audio")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def silence(path: Path, seconds: int) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds),
           "-c:a", "libmp3lame", "-b:a", "16k", str(path))  # fmt: skip
    return path


def test_windows_cover_the_audio_once_in_order_and_none_is_longer_than_asked():
    from faster_whisper.audio import decode_audio

    whole = decode_audio(str(SPEECH))
    windows = list(decode_windows(SPEECH, window_s=30, search_s=5, cut=lambda tail: 7))
    starts = [start for start, _ in windows]
    lengths = [len(samples) for _, samples in windows]
    assert len(windows) == 5 and max(lengths) <= 30 * 16000
    assert lengths[:-1] == [(25 * 16000) + 7] * 4  # cut where `cut` said, inside the last 5 s
    assert starts == [sum(lengths[:i]) / 16000 for i in range(len(windows))]
    assert np.array_equal(np.concatenate([s for _, s in windows]), whole)


def test_decoding_stops_as_soon_as_the_audio_passes_the_limit():
    seen = []
    with pytest.raises(AudioTooLong, match="over the 50 s limit"):
        for start, _ in decode_windows(SPEECH, window_s=20, search_s=0, max_s=50):
            seen.append(start)
    assert seen == [0.0, 20.0]  # the third window would pass 50 s: never handed out


def test_windows_of_speech_end_in_silence_by_the_vad():
    from faster_whisper.audio import decode_audio

    from dagster_project.resources.models import Transcriber

    whole = decode_audio(str(SPEECH))
    frames = whole[: len(whole) // 1600 * 1600].reshape(-1, 1600)
    speech_rms = float(np.median(np.sqrt((frames**2).mean(axis=1))))

    def loudness_at(seconds: float) -> float:  # 50 ms either side of the cut
        i = round(seconds * 16000)
        return float(np.sqrt((whole[i - 800 : i + 800] ** 2).mean()))

    windows = list(decode_windows(SPEECH, window_s=40, cut=Transcriber._pause))
    assert len(windows) >= 3
    assert all(loudness_at(start) < 0.1 * speech_rms for start, _ in windows[1:])


def test_a_window_is_cut_in_the_middle_of_its_longest_pause():
    assert pause_cut([(0, 100), (150, 400), (420, 500)], 600) == 550
    assert pause_cut([(50, 100), (300, 600)], 600) == 200
    assert pause_cut([], 600) == 300  # all silence: anywhere, the middle
    assert pause_cut([(0, 600)], 600) == 600  # no pause at all: the end


@pytest.mark.parametrize(
    ("speech", "words", "lost"),
    [
        ([(0.0, 10.0)], [(0.5, 1.0), (1.2, 2.0), (9.0, 9.6)], [(2.3, 8.7)]),  # a pass ended early
        ([(0.0, 10.0)], [(0.1, 9.9)], []),  # covered
        ([(0.0, 3.0), (5.0, 6.0)], [(0.0, 3.0)], [(5.0, 6.0)]),  # a whole region without words
        ([(0.0, 3.0), (5.0, 5.8)], [(0.0, 3.0)], []),  # shorter than min_s: a cough, a breath
        ([(0.0, 4.0)], [], [(0.0, 4.0)]),
    ],
)
def test_speech_without_words_is_found(speech, words, lost):
    found = uncovered(speech, words, slack_s=0.3, min_s=1.0)
    assert [round(t, 6) for span in found for t in span] == [t for span in lost for t in span]


def test_speech_is_grouped_into_passes_as_batched_decoding_groups_it():
    """Each pass holds the stretches faster-whisper's collect_chunks puts in one piece of audio
    (its own record of them leaves out each piece's first stretch, so it cannot be read back)."""
    from faster_whisper.vad import collect_chunks

    rng = np.random.default_rng(7)
    at, speech = 0, []
    for _ in range(40):
        at += int(rng.integers(1_000, 20_000))
        length = int(rng.integers(8_000, 200_000))
        speech.append({"start": at, "end": at + length})
        at += length
    audio = np.zeros(at + 16_000, dtype=np.float32)
    pieces, _ = collect_chunks(audio, speech, max_duration=30)
    grouped = passes([(c["start"] / 16_000, c["end"] / 16_000) for c in speech], max_s=30)
    assert len(grouped) == len(pieces) > 5
    assert [sum(b - a for a, b in p) for p in grouped] == pytest.approx(
        [len(p) / 16_000 for p in pieces]
    )
    assert [s for p in grouped for s in p] == [
        (c["start"] / 16_000, c["end"] / 16_000) for c in speech
    ]
    assert passes([], max_s=30) == []


def test_a_pass_whose_first_words_are_timed_after_its_speech_began_is_misaligned():
    """A pass stopped after its first sentence, and the alignment put its twelve words at the
    end of thirty seconds of speech: most of the speech looks covered, its start does not. A pass
    of ordinary speech is not misaligned, nor one that stopped early with its words where they
    were said (its end is uncovered, and decoded again as such)."""
    spoken = [(float(t), t + 0.35, " word", 0.9) for t in np.arange(0.0, 29.6, 0.4)]
    spread = [(50.0 + 0.8 * i, 50.7 + 0.8 * i, " word", 0.99) for i in range(12)]
    chunks = [[(0.0, 14.0), (14.5, 29.9)], [(30.0, 45.0), (45.2, 59.9)]]
    assert misaligned(chunks, spoken + spread) == [chunks[1]]
    kept = [w for w in spoken if w[0] < 7.0]
    assert misaligned(chunks[:1], kept) == []
    assert uncovered(chunks[0], [w[:2] for w in kept])[0][0] == pytest.approx(7.45)
    # A word aligned into the pause between two stretches still counts for its pass; a pass
    # without words is uncovered, not misaligned; a first word a breath late is not misaligned.
    assert misaligned([[(0.0, 1.0), (3.0, 4.0)]], [(0.2, 2.5, " yes", 0.9)]) == []
    assert misaligned(chunks, []) == []
    assert misaligned(chunks[:1], [w for w in spoken if w[0] > 0.5]) == []


def test_words_of_a_second_pass_are_kept_only_inside_the_stretches_it_was_for():
    assert inside((5.0, 5.4, " yes", 0.9), [(4.0, 6.0)])
    assert inside((3.7, 3.9, " so", 0.9), [(4.0, 6.0)], pad_s=0.2)  # middle 3.8, inside the padding
    assert not inside((2.0, 2.5, " no", 0.9), [(4.0, 6.0)])


def test_stretches_are_laid_end_to_end_and_their_words_timed_back():
    pieces = layout([(5.0, 6.0), (0.1, 1.0), (6.3, 7.0)], pad_s=0.2, gap_s=0.5, end_s=7.1)
    # (0.0-1.2) then (4.8-7.1: two stretches that meet once padded), 0.5 s of silence between
    assert [tuple(round(x, 6) for x in p) for p in pieces] == [(0.0, 1.2, 0.0), (4.8, 7.1, 1.7)]
    assert placed((0.5, 0.9, " one", 0.9), pieces) == (0.5, 0.9, " one", 0.9)
    assert placed((2.0, 2.4, " two", 0.9), pieces) == pytest.approx((5.1, 5.5, " two", 0.9))
    assert placed((1.1, 1.5, " cut", 0.9), pieces)[:2] == pytest.approx(
        (1.1, 1.2)
    )  # kept in its piece
    assert layout([], pad_s=0.2, gap_s=0.5, end_s=10) == []


def test_words_are_cut_into_sentences_at_their_ends_pauses_and_a_maximum_length():
    words = [
        (0.0, 0.4, " Rates", 0.9), (0.4, 0.8, " fell.", 0.9), (0.9, 1.2, " Did", 0.9),
        (1.2, 1.5, " they?", 0.9), (1.6, 2.0, " He", 0.9), (2.0, 2.4, ' said "no."', 0.9),
        (5.0, 5.5, " Then", 0.9), (5.5, 6.0, " later", 0.9),
    ]  # fmt: skip
    groups = sentences(list(reversed(words)), max_pause_s=1.5)
    assert [text_of(g) for g in groups] == [
        "Rates fell.",
        "Did they?",
        'He said "no."',
        "Then later",
    ]
    long = [(float(i), i + 0.5, " word", 0.9) for i in range(40)]
    assert [len(g) for g in sentences(long, max_s=10.0)] == [10, 10, 10, 10]


@pytest.mark.slow
def test_ten_minutes_of_silence_give_no_segments(tmp_path):
    from dagster_project.resources.models import Transcriber

    segments, duration = Transcriber().transcribe(str(silence(tmp_path / "quiet.mp3", 600)))
    assert segments == []
    assert duration == pytest.approx(600, abs=0.5)


@pytest.mark.slow
def test_speech_cut_into_windows_keeps_its_times_inside_the_audio_and_in_order():
    from dagster_project.resources.models import Transcriber

    whole, duration = Transcriber().transcribe(str(SPEECH))
    windowed, windowed_duration = Transcriber(window_s=40).transcribe(str(SPEECH))
    assert windowed_duration == duration == pytest.approx(119.6, abs=0.1)
    assert windowed and whole
    times = [(s.start_s, s.end_s) for s in windowed]
    assert all(0 <= a <= b <= duration + 0.5 for a, b in times)
    assert [a for a, _ in times] == sorted(a for a, _ in times)
    assert times[-1][1] > 80  # later windows are offset by their start, not all under 40 s
    words = [w for s in windowed for w in s.words]
    assert [w[0] for w in words] == sorted(w[0] for w in words)
    assert all(0 <= a <= b <= duration + 0.5 for a, b, *_ in words)
    assert all(type(x) is float for s in windowed for x in (s.start_s, s.end_s))
    assert all(type(x) is float for w in words for x in w[:2])
    # Cut in pauses, the windows lose no sentence: about as many words as in one pass.
    assert len(words) == pytest.approx(sum(len(s.words) for s in whole), rel=0.1)


@pytest.mark.slow
def test_batched_decoding_loses_no_speech_against_the_sequential_loop():
    """Batches alone lost 4 of this episode's 19 lines (tiny.en ends a batched pass early); the
    speech they leave without words is decoded again, so as many words come back as from the
    sequential loop, in sentence segments of the same kind, in time order."""
    from dagster_project.resources.models import Transcriber

    batched, duration = Transcriber().transcribe(str(SPEECH))
    sequential, _ = Transcriber(batch_size=0).transcribe(str(SPEECH))
    words = [w for s in batched for w in s.words]
    assert len(words) >= 0.97 * sum(len(s.words) for s in sequential)
    assert len(batched) >= 0.8 * len(sequential)  # sentences, not one segment per 30 s batch
    times = [(s.start_s, s.end_s) for s in batched]
    assert all(type(x) is float and 0 <= x <= duration + 0.5 for t in times for x in t)
    assert [a for a, _ in times] == sorted(a for a, _ in times)
    assert [w[0] for w in words] == sorted(w[0] for w in words)
    # No stretch of the speech without words: the gaps are the pauses between lines (0.6 s).
    assert max(b[0] - a[1] for a, b in itertools.pairwise(words)) < 3.0
    # Every word says how sure Whisper was of it, on either path (the headline weighs it).
    both = words + [w for s in sequential for w in s.words]
    assert all(w[3] is not None and 0 < w[3] <= 1 for w in both)
    assert len({w[3] for w in both}) > 10


@pytest.mark.slow
def test_a_pass_the_prompt_stopped_early_is_decoded_again_and_loses_no_speech():
    """Prompted with its feed's words, a batched pass over sn-102 stopped after its first
    sentence and the alignment spread that sentence over the next 25 s: three lines on interest
    rates were lost and the sentence appeared twice. Stopped passes are decoded again without
    the prompt, so as many words come back as from the sequential loop, and no sentence twice."""
    from dagster_project.resources.models import Transcriber

    audio = str(REPO / "demo" / "shows" / "audio" / "signal-and-noise" / "sn-102.mp3")
    prompt = Transcriber().prompt(
        [
            "Signal and Noise",
            "Cheaper Money and Smaller Grocery Baskets",
            "Dana and Ben Carter on what lower interest rates mean for founders, a listener "
            "letter about free AI, and how weight loss drugs change what people buy.",
        ]
    )
    batched, _ = Transcriber().transcribe(audio, prompt=prompt)
    sequential, _ = Transcriber(batch_size=0).transcribe(audio)
    words = [w for s in batched for w in s.words]
    assert len(words) >= 0.97 * sum(len(s.words) for s in sequential)
    long = [s.text.lower() for s in batched if len(s.text.split()) >= 6]
    assert len(long) == len(set(long))
    assert max(b[0] - a[1] for a, b in itertools.pairwise(words)) < 3.0
    assert [w[0] for w in words] == sorted(w[0] for w in words)


def test_the_prompt_is_the_feed_s_plain_text_cut_to_its_words():
    parts = ["Market Open", None, "<p>Drugs &amp; <b>Novo Nordisk</b>:</p>", "  one two  three  "]
    assert feed_prompt(parts, 20) == "Market Open. Drugs & Novo Nordisk: one two three."
    assert feed_prompt(parts, 4) == "Market Open. Drugs &"
    assert feed_prompt([None, "", "<br/>"], 20) == ""
    notes = 'Rail strike. <a href="https://x.example/a">Read more</a> https://x.example/b www.x.org'
    assert feed_prompt(["Freight", notes], 20) == "Freight. Rail strike. Read more."


@pytest.mark.slow
def test_a_prompt_with_the_show_s_names_makes_whisper_write_them_as_the_feed_does():
    """mo-402 says 'Novo Nordisk'; tiny.en alone may hear another word. Prompted with the
    feed's words it writes the name; prompted with words the episode never says, it does not
    read the prompt out: as many words as without a prompt, and at most one of the prompt's
    names, where the audio is unclear (on one CPU the closing "Market Open" came out as
    "marmalade to open"; on others none)."""
    from dagster_project.resources.models import Transcriber

    def heard(audio: Path, prompt: str) -> str:
        return " ".join(s.text for s in Transcriber().transcribe(str(audio), prompt=prompt)[0])

    drugs = REPO / "demo" / "shows" / "audio" / "market-open" / "mo-402.mp3"
    assert "Nordisk" in heard(drugs, "Market Open. Obesity drugs: Novo Nordisk and Eli Lilly.")
    plain = heard(SHORT, "")
    unrelated = heard(SHORT, "Zanzibar Quokka Festival. Ferdinand Oyelaran on marmalade.")
    said = [w.strip(".,;:!?").lower() for w in unrelated.split()]
    assert sum(w in {"zanzibar", "quokka", "ferdinand", "oyelaran", "marmalade"} for w in said) <= 1
    assert len(unrelated.split()) == pytest.approx(len(plain.split()), rel=0.15)


@pytest.mark.slow
def test_past_the_maximum_duration_the_resource_refuses_before_transcribing(tmp_path):
    from dagster_project.resources.models import Transcriber

    with pytest.raises(AudioTooLong, match="over the 60 s limit"):
        Transcriber(max_audio_s=60).transcribe(str(SPEECH))
    with pytest.raises(AudioTooLong, match="120 s of audio, over the 60 s limit"):
        Transcriber(max_audio_s=60).transcribe(str(SPEECH), duration_s=119.6)


def day_with(tmp_path, serve, files: dict[str, Path], transcriber):
    """feeds -> episodes -> episode_audio -> transcripts over HTTP for one feed of `files`."""
    from dagster_project.assets.episode_audio import episode_audio
    from dagster_project.assets.feeds import episodes, feeds
    from dagster_project.assets.transcripts import transcripts
    from dagster_project.resources.storage import DataHome
    from dagster_project.resources.warehouse import DuckDBWarehouse
    from dagster_project.resources.web import WebFetcher

    site = tmp_path / "site"
    site.mkdir()
    items = ""
    for guid, path in files.items():
        shutil.copy(path, site / f"{guid}.mp3")
        items += f"<item><title>{guid}</title><guid>{guid}</guid><pubDate>{ON_DAY}</pubDate>"
        items += f'<enclosure url="{guid}.mp3" type="audio/mpeg"/></item>'
    (site / "show.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Show</title>'
        f"{items}</channel></rss>"
    )
    server = serve(site)
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(
        f"allow_private_network: true\nfeeds:\n  - {{name: show, url: '{server.url}/show.xml'}}\n"
    )
    warehouse = DuckDBWarehouse(path=str(tmp_path / "data" / "warehouse.duckdb"))
    resources = {
        "data_home": DataHome(home=str(tmp_path / "data"), feeds_file=str(feeds_file)),
        "web": WebFetcher(retries=0),
        "warehouse": warehouse,
        "transcriber": transcriber,
    }
    result = dg.materialize(
        [feeds, episodes, episode_audio, transcripts], partition_key=DAY, resources=resources
    )
    assert result.success
    day = date.fromisoformat(DAY)
    failures = {
        f["episode_guid"]: f["error"]
        for f in warehouse.rows("failures", day)
        if f["stage"] == "transcripts"
    }
    segments = {}
    for r in warehouse.rows("transcript_segments", day):
        segments.setdefault(r["episode_guid"], []).append(r)
    return failures, segments


@pytest.mark.slow
def test_long_silence_is_a_no_speech_failure_and_the_day_goes_on(tmp_path, serve):
    from dagster_project.resources.models import Transcriber

    files = {"quiet": silence(tmp_path / "quiet.mp3", 600), "talk": SHORT}
    failures, segments = day_with(tmp_path, serve, files, Transcriber())
    assert failures == {"quiet": "no speech found in the audio"}
    assert set(segments) == {"talk"}


@pytest.mark.slow
def test_an_episode_over_the_maximum_duration_is_a_failure_and_the_day_goes_on(tmp_path, serve):
    from dagster_project.resources.models import Transcriber

    files = {"long": SPEECH, "talk": SHORT}
    failures, segments = day_with(tmp_path, serve, files, Transcriber(max_audio_s=60))
    assert set(failures) == {"long"} and "over the 60 s limit" in failures["long"]
    assert set(segments) == {"talk"}
