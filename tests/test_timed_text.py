import pytest

from dagster_project.lib.segments import Segment
from dagster_project.lib.timed_text import join_segments


def test_a_sentence_across_segments_keeps_its_seconds():
    segments = [
        Segment(0.0, 4.0, "Welcome back. China is releasing"),
        Segment(4.0, 8.0, "open models on purpose. Right."),
    ]
    timed = join_segments(segments)
    start = timed.text.index("China")
    end = timed.text.index("purpose.") + len("purpose.")
    start_s, end_s = timed.span_times(start, end)
    assert 1.0 < start_s < 2.5  # interpolated inside the first segment
    assert 6.0 < end_s <= 8.0  # ends inside the second


def test_word_times_win_over_interpolation():
    seg = Segment(
        10.0,
        14.0,
        "Prices fell sharply.",
        words=[
            (10.0, 10.4, " Prices", 0.9),
            (12.0, 12.3, " fell", 0.9),
            (12.3, 13.9, " sharply.", 0.9),
        ],
    )
    timed = join_segments([seg])
    fell = timed.text.index("fell")
    assert timed.span_times(fell, len(timed.text)) == (12.0, 13.9)


def test_speaker_follows_the_segment():
    timed = join_segments([Segment(0, 1, "One.", speaker="A"), Segment(1, 2, "Two.", speaker="B")])
    assert timed.speaker_at(timed.text.index("Two")) == "B"


def test_words_are_glued_as_the_transcriber_spelled_them():
    """Whisper continues a word without a space ("open" + "-weight"): the text is the segment's."""
    text = " Cheap open-weight models, up 40%."
    words = [(0.0, 0.5, " Cheap", 0.9), (0.5, 0.8, " open", 0.9), (0.8, 1.2, "-weight", 0.9),
             (1.2, 1.6, " models,", 0.9), (1.6, 2.0, " up 40", 0.9),
             (2.0, 2.2, "%.", 0.9)]  # fmt: skip
    timed = join_segments([Segment(0.0, 2.2, text, words=words), Segment(2.2, 3, "Next.")])
    assert timed.text == "Cheap open-weight models, up 40%. Next."
    weight = timed.text.index("-weight")
    assert timed.span_times(weight, weight + 7) == (0.8, 1.2)


def test_a_span_s_clarity_is_the_geometric_mean_of_its_words_probabilities():
    """One misheard word among sure ones drags the sentence's clarity down; a transcript
    without probabilities (a publisher's, or one stored before they were kept) has none."""
    heard = [(0.0, 0.4, " Electric", 0.98), (0.4, 0.8, " bills", 0.95), (0.8, 1.2, " rose.", 0.97)]
    misheard = [
        (2.0, 2.4, " Electricity", 0.85),
        (2.4, 2.8, " builds", 0.15),
        (2.8, 3.2, " low.", 0.5),
    ]
    timed = join_segments(
        [
            Segment(0.0, 1.2, "Electric bills rose.", words=heard),
            Segment(2.0, 3.2, "x", words=misheard),
        ]
    )
    first = timed.text.index("rose.") + len("rose.")
    assert timed.clarity(0, first) == pytest.approx((0.98 * 0.95 * 0.97) ** (1 / 3), abs=1e-3)
    second = timed.text.index("Electricity")
    assert timed.clarity(second, len(timed.text)) == pytest.approx(
        (0.85 * 0.15 * 0.5) ** (1 / 3), abs=1e-3
    )
    assert timed.clarity(second, len(timed.text)) < 0.5 < timed.clarity(0, first)
    old = join_segments([Segment.from_row(
        {"start_s": 0.0, "end_s": 1.2, "text": "Electric bills rose.", "speaker": None,
         "words": '[[0.0, 0.4, " Electric"], [0.4, 0.8, " bills"], [0.8, 1.2, " rose."]]'}
    )])  # fmt: skip
    assert old.text == "Electric bills rose." and old.clarity(0, len(old.text)) is None
    assert join_segments([Segment(0.0, 1.2, "Electric bills rose.")]).clarity(0, 5) is None
