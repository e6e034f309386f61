"""Voices: clustering that errs towards splitting, and names only on evidence."""

import numpy as np
import pytest

from dagster_project.lib.voices import (
    Voiced,
    cluster,
    confident,
    name_voices,
    sentence_voice,
    voice_label,
)


def _around(centre: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    points = centre + spread * rng.standard_normal((n, len(centre)))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _two_voices(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    a, b = np.zeros(64), np.zeros(64)
    a[0], b[1] = 1.0, 1.0
    a_pts, b_pts = _around(a, 6, 0.05, rng), _around(b, 5, 0.05, rng)
    order = [1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0]  # the second voice opens
    it = {0: iter(a_pts), 1: iter(b_pts)}
    return np.stack([next(it[o]) for o in order]), order


def test_two_voices_are_two_clusters_numbered_by_first_appearance():
    vectors, truth = _two_voices(np.random.default_rng(0))
    labels = cluster(vectors, same=0.8)
    assert labels[0] == 0  # the opening voice is speaker_1
    assert labels == [0 if t == truth[0] else 1 for t in truth]
    assert voice_label(labels[0]) == "speaker_1"


def test_one_voice_is_one_cluster():
    rng = np.random.default_rng(1)
    centre = np.zeros(64)
    centre[3] = 1.0
    assert set(cluster(_around(centre, 8, 0.05, rng), same=0.8)) == {0}


def test_a_segment_between_two_voices_is_not_sure():
    vectors, _ = _two_voices(np.random.default_rng(2))
    between = (vectors[0] + vectors[1]) / np.linalg.norm(vectors[0] + vectors[1])
    vectors = np.vstack([vectors, between])
    labels = cluster(vectors, same=0.8)
    sure = confident(vectors, labels, margin=0.05)
    assert all(sure[:-1])
    assert not sure[-1]


def test_a_voice_of_one_segment_is_not_sure():
    vectors, _ = _two_voices(np.random.default_rng(3))
    odd = np.zeros(64)
    odd[5] = 1.0
    vectors = np.vstack([vectors, odd])
    sure = confident(vectors, cluster(vectors, same=0.8))
    assert not sure[-1]


HOST = {"name": "Nadia Flores", "role": "host"}
GUEST = {"name": "Priya Shah", "role": "guest"}


@pytest.mark.parametrize(
    ("segments", "people", "expected"),
    [
        # the one listed host opens and closes
        (
            [
                ("Welcome back.", "speaker_1"),
                ("Prices rose.", "speaker_2"),
                ("Rents too.", "speaker_2"),
                ("Bye.", "speaker_1"),
            ],
            [HOST, GUEST],
            {"speaker_1": "Nadia Flores"},
        ),
        # a guest's self-introduction names the guest's voice
        (
            [
                ("Welcome back.", "speaker_1"),
                ("Hi, I'm Priya Shah, and I study shipping.", "speaker_2"),
                ("Freight rates doubled.", "speaker_2"),
                ("Bye.", "speaker_1"),
            ],
            [HOST, GUEST],
            {"speaker_1": "Nadia Flores", "speaker_2": "Priya Shah"},
        ),
        # a first name, unique among the listed people
        (
            [
                ("I'm Priya, from the port authority.", "speaker_2"),
                ("Rates fell.", "speaker_1"),
                ("Ships wait.", "speaker_2"),
                ("Why?", "speaker_1"),
            ],
            [HOST, GUEST],
            {"speaker_2": "Priya Shah"},
        ),
        # two hosts listed: who opens and closes proves nothing
        (
            [
                ("Welcome.", "speaker_1"),
                ("Rates fell.", "speaker_2"),
                ("Again.", "speaker_2"),
                ("Bye.", "speaker_1"),
            ],
            [HOST, {"name": "Omar Diaz", "role": "host"}],
            {},
        ),
        # a different voice closes: no host by position
        (
            [
                ("Welcome.", "speaker_1"),
                ("Rates fell.", "speaker_1"),
                ("Prices rose.", "speaker_2"),
                ("Bye.", "speaker_2"),
            ],
            [HOST, GUEST],
            {},
        ),
        # one voice throughout, though a guest is listed: a voice not split, nobody named
        (
            [("Welcome.", "speaker_1"), ("Rates fell.", "speaker_1"), ("Bye.", "speaker_1")],
            [HOST, GUEST],
            {},
        ),
        # two people listed, one voice with nearly every line and a short split-off: the guest
        # was heard as the host, and the split-off is not the guest
        (
            [("Welcome.", "speaker_1")] * 11
            + [("Hm.", "speaker_2"), ("Right.", "speaker_2")]
            + [("Bye.", "speaker_1")],
            [HOST, GUEST],
            {},
        ),
        # two people listed, one lasting voice and a one-off: the guest was heard as the host
        (
            [
                ("Welcome.", "speaker_1"),
                ("Hm, right.", "speaker_2"),
                ("I'm Priya Shah.", "speaker_1"),
                ("Bye.", "speaker_1"),
            ],
            [HOST, GUEST],
            {},
        ),
        # introducing someone else is not a self-introduction
        (
            [
                ("I'm joined by Priya Shah today.", "speaker_1"),
                ("This is Priya Shah, who runs the port.", "speaker_1"),
                ("I'm Priya's producer.", "speaker_1"),
                ("Rates fell.", "speaker_2"),
            ],
            [GUEST],
            {},
        ),
        # a name the feed does not list is no evidence
        (
            [("I'm Mark Jones and this is the news.", "speaker_1"), ("Rates.", "speaker_2")],
            [GUEST],
            {},
        ),
        # one voice claiming two names: no name for it
        (
            [("I'm Priya Shah.", "speaker_1"), ("I am Nadia Flores.", "speaker_1")],
            [GUEST, {"name": "Nadia Flores", "role": "guest"}],
            {},
        ),
        # one name for two voices: no name for either
        (
            [("I'm Priya Shah.", "speaker_1"), ("My name is Priya Shah.", "speaker_2")],
            [GUEST],
            {},
        ),
        # segments without a voice carry no evidence
        (
            [("I'm Priya Shah.", None), ("Rates fell.", "speaker_1")],
            [GUEST],
            {},
        ),
    ],
)
def test_voices_are_named_only_on_evidence(segments, people, expected):
    voiced = [Voiced(text, voice) for text, voice in segments]
    assert name_voices(voiced, people) == expected


@pytest.mark.slow
def test_embeddings_streamed_in_any_span_order_equal_those_of_the_whole_file():
    """The encoder decodes the file once, holding only what the spans need: each span's
    embedding is the one of the same samples cut from the whole decoded file."""
    from faster_whisper import decode_audio

    from dagster_project.lib.audio import SAMPLE_RATE
    from dagster_project.resources.voices import SpeakerEncoder
    from tests.conftest import DEMO_SHOWS

    audio = DEMO_SHOWS / "audio" / "signal-and-noise" / "sn-101.mp3"
    whole = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    length_s = len(whole) / SAMPLE_RATE
    spans = [(20.0, 24.5), (2.0, 6.0), (5.0, 9.0), (40.0, 40.5), (length_s - 3, length_s + 5)]
    encoder = SpeakerEncoder()
    found = encoder.embed_spans(audio, spans)
    assert found[3] is None  # half a second: too short to tell a voice
    model = encoder._load()
    for (start, end), got in zip(spans, found, strict=True):
        if end - start < encoder.min_span_s:
            continue
        cut = whole[int(start * SAMPLE_RATE) : int(min(end, length_s) * SAMPLE_RATE)]
        want = SpeakerEncoder._embed(model, cut, encoder.max_partials)
        assert got is not None and want is not None
        assert float(got @ want) > 0.999, (start, end)


A, B = "speaker_1", "speaker_2"


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ([{"voice": A, "speaker": "Dana"}], (A, "Dana")),
        ([{"voice": A, "speaker": "Dana"}, {"voice": A, "speaker": "Dana"}], (A, "Dana")),
        # one segment of the voice not named surely (between two voices): a voice, no name
        ([{"voice": A, "speaker": "Dana"}, {"voice": A, "speaker": None}], (A, None)),
        # another voice inside the sentence, even between two of Dana's: nobody
        (
            [
                {"voice": A, "speaker": "Dana"},
                {"voice": B, "speaker": None},
                {"voice": A, "speaker": "Dana"},
            ],
            (None, None),
        ),
        ([{"voice": A, "speaker": None}, {}], (None, None)),  # a segment too short to tell
        ([], (None, None)),
    ],
)
def test_a_sentence_has_a_voice_and_name_only_when_all_of_it_has(spoken, expected):
    assert sentence_voice(spoken) == expected


def test_the_mel_spectrogram_puts_a_tone_in_its_band_every_10_ms():
    from dagster_project.lib.mel import SAMPLE_RATE, mel_filters, mel_spectrogram

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # one second
    mel = mel_spectrogram(np.sin(2 * np.pi * 440.0 * t).astype(np.float32))
    assert mel.shape == (101, 40) and mel.dtype == np.float32
    fft_bin = round(440.0 * 400 / SAMPLE_RATE)  # 11
    assert set(mel[5:-5].argmax(axis=1)) == {int(mel_filters()[:, fft_bin].argmax())}


@pytest.mark.slow
def test_the_mel_spectrogram_is_librosas_without_its_compilation():
    """The encoder was trained on librosa's spectrogram: ours gives the same numbers."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    from dagster_project.lib.mel import mel_spectrogram

    rng = np.random.default_rng(7)
    for n in (5_000, 16_000, 16_000 * 7 + 123):
        wav = (0.1 * rng.standard_normal(n)).astype(np.float32)
        want = wav_to_mel_spectrogram(wav)
        got = mel_spectrogram(wav)
        assert got.shape == want.shape
        assert float(np.abs(got - want).max()) <= 1e-5 * float(want.max())


@pytest.mark.slow
def test_numpy_s_blas_keeps_to_one_thread_while_the_encoder_runs(monkeypatch):
    """numpy's BLAS threads (the mel filter bank) left spinning take the cores from torch's
    encoder that follows: while spans are embedded, BLAS runs one thread, and afterwards
    its own number again."""
    from threadpoolctl import threadpool_info

    import dagster_project.resources.voices as voices
    from tests.conftest import DEMO_SHOWS

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    before, seen = blas_threads(), []
    real = voices.mel_spectrogram

    def watched(wav):
        seen.append(blas_threads())
        return real(wav)

    monkeypatch.setattr(voices, "mel_spectrogram", watched)
    audio = DEMO_SHOWS / "audio" / "signal-and-noise" / "sn-101.mp3"
    found = voices.SpeakerEncoder().embed_spans(audio, [(2.0, 6.0), (20.0, 24.5)])
    assert all(v is not None for v in found)
    assert seen == [{1}, {1}]
    assert blas_threads() == before


def test_alike_voices_with_short_lines_are_not_merged_and_the_host_s_name_stays_his():
    # Two alike voices (their long lines 0.86 apart, above the join threshold), and short
    # lines whose embeddings lean to a shared direction of their own (too little audio):
    # clustered all together, the short lines made a voice and the two people one voice, and
    # the host's name, from the voice that opens and closes, fell on the guest's lines.
    rng = np.random.default_rng(4)
    host, guest, short = np.zeros(64), np.zeros(64), np.zeros(64)
    host[0], guest[0], guest[1], short[2] = 1.0, 0.86, 0.51, 1.0
    script = ["host", "host-short", "guest", "guest", "host-short", "guest", "guest-short",
              "host", "host-short", "host"]  # fmt: skip

    def line(who: str) -> np.ndarray:
        voice = host if who.startswith("host") else guest
        if who.endswith("short"):
            return _around(0.6 * voice + 0.8 * short, 1, 0.03, rng)[0]
        return _around(voice, 1, 0.01, rng)[0]

    vectors = np.stack([line(who) for who in script])
    reliable = [not who.endswith("short") for who in script]
    labels = cluster(vectors, same=0.8, reliable=reliable, at_least=2)
    sure = confident(vectors, labels, margin=0.05, reliable=reliable)
    voiced = [Voiced(f"line {i}", voice_label(v)) for i, v in enumerate(labels)]
    names = name_voices(voiced, [HOST, GUEST])
    named = [names.get(voice_label(v)) if ok else None for v, ok in zip(labels, sure, strict=True)]
    guest_lines = [i for i, who in enumerate(script) if who.startswith("guest")]
    assert all(named[i] != HOST["name"] for i in guest_lines)
    assert len({labels[i] for i, who in enumerate(script) if who == "guest"}) == 1
    assert labels[2] != labels[0]  # the guest's long lines are a voice apart from the host's
    assert HOST["name"] in named  # and the host is still named, where sure


def test_an_introduction_in_a_segment_unsure_of_its_voice_names_nobody():
    # Whisper may hand back one long segment holding the host's welcome ("I'm Nadia Flores")
    # and the guest's first answer; its voice is then whichever of the two it leans to.
    people = [{"name": "Nadia Flores"}, {"name": "Priya Shah"}]
    segments = [
        Voiced(
            "Welcome, I'm Nadia Flores. Thanks for having me, it is good to be here.",
            "speaker_2",
            sure=False,
        ),
        Voiced("Prices rose again this month.", "speaker_2"),
        Voiced("Why is that?", "speaker_1"),
        Voiced("Shipping costs doubled.", "speaker_2"),
        Voiced("And wages?", "speaker_1"),
    ]
    assert name_voices(segments, people, host_opens_and_closes=False) == {}
    sure = [Voiced(s.text, s.voice) for s in segments]  # the same words, sure of their voice
    assert name_voices(sure, people, host_opens_and_closes=False) == {"speaker_2": "Nadia Flores"}
