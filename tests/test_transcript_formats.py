import json

import pytest

from dagster_project.lib.transcript_formats import TranscriptFormatError, parse_transcript


def test_vtt_with_voices():
    vtt = (
        b"WEBVTT\n\n1\n00:00:00.500 --> 00:00:04.250\n"
        b"<v Marc Andreessen>China gives models away.\n\n"
        b"00:01:04.000 --> 00:01:06.000\n<v Dana Reyes>Right.\n"
    )
    a, b = parse_transcript(vtt, "text/vtt")
    assert (a.start_s, a.end_s, a.speaker, a.text) == (
        0.5,
        4.25,
        "Marc Andreessen",
        "China gives models away.",
    )
    assert (b.start_s, b.speaker) == (64.0, "Dana Reyes")


def test_srt():
    srt = (
        b"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
        b"2\n00:00:03,000 --> 00:00:04,000\nBye.\n"
    )
    segs = parse_transcript(srt, "application/srt")
    assert [(s.start_s, s.end_s, s.text) for s in segs] == [
        (1.0, 2.5, "Hello there."),
        (3.0, 4.0, "Bye."),
    ]


def test_podcast_json():
    doc = {
        "version": "1.0.0",
        "segments": [{"speaker": "Ann", "startTime": 1.5, "endTime": 3, "body": "Hi."}],
    }
    (seg,) = parse_transcript(json.dumps(doc).encode(), "application/json")
    assert (seg.speaker, seg.start_s, seg.end_s, seg.text) == ("Ann", 1.5, 3.0, "Hi.")


@pytest.mark.parametrize(
    "data, kind",
    [(b"WEBVTT\n\n", "text/vtt"), (b"\xff\xfe\x00", "text/vtt"), (b"{}", "application/json")],
)
def test_unusable_transcripts(data, kind):
    with pytest.raises(TranscriptFormatError):
        parse_transcript(data, kind)
