from dagster_project.lib.timing import join_segments
from dagster_project.lib.transcript_formats import Segment


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
        words=[(10.0, 10.4, " Prices"), (12.0, 12.3, " fell"), (12.3, 13.9, " sharply.")],
    )
    timed = join_segments([seg])
    fell = timed.text.index("fell")
    assert timed.span_times(fell, len(timed.text)) == (12.0, 13.9)


def test_speaker_follows_the_segment():
    timed = join_segments([Segment(0, 1, "One.", speaker="A"), Segment(1, 2, "Two.", speaker="B")])
    assert timed.speaker_at(timed.text.index("Two")) == "B"
