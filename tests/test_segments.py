import pytest

from dagster_project.lib.segments import Segment


@pytest.mark.parametrize(
    "segment",
    [
        Segment(
            1.0,
            2.5,
            "Prices fell.",
            "Ann Lee",
            [(1.0, 1.5, "Prices", 0.9), (1.5, 2.5, "fell.", 0.9)],
        ),
        Segment(0.0, 0.8, "Hi.", None, None),
    ],
)
def test_a_segment_comes_back_from_its_row_and_its_cached_form(segment):
    row = segment.to_row("good", "ep-1", 3, "whisper")
    assert (row["feed"], row["episode_guid"], row["segment_index"], row["source"]) == (
        "good",
        "ep-1",
        3,
        "whisper",
    )
    assert Segment.from_row(row) == segment
    assert Segment.from_dict(segment.to_dict()) == segment


def test_a_row_keeps_times_to_the_millisecond():
    row = Segment(1.23456, 2.00049, "x").to_row("f", "g", 0, "feed")
    assert (row["start_s"], row["end_s"], row["words"]) == (1.235, 2.0, None)
