"""A transcript's timed segment: what the transcriber and the transcript parsers make, the
transcript cache keeps (`to_dict`/`from_dict`) and the `transcript_segments` table stores
(`to_row`/`from_row`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (start_s, end_s, word as the transcriber spelled it, how sure it was of the word: its
# probability, None when not told)
Word = tuple[float, float, str, float | None]


@dataclass
class Segment:
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None
    words: list[Word] | None = None  # when the transcriber gave them

    def to_dict(self) -> dict[str, Any]:
        """As the transcript cache keeps it (JSON)."""
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "text": self.text,
            "speaker": self.speaker,
            "words": [list(w) for w in self.words] if self.words else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Segment:
        return cls(
            start_s=float(d["start_s"]),
            end_s=float(d["end_s"]),
            text=d["text"],
            speaker=d.get("speaker"),
            words=_words(d.get("words")),
        )

    def to_row(self, feed: str, episode_guid: str, index: int, source: str) -> dict[str, Any]:
        """The `transcript_segments` row (without its partition_date); times to the millisecond,
        words as JSON. `source`: whisper or feed."""
        return {
            "feed": feed,
            "episode_guid": episode_guid,
            "segment_index": index,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "text": self.text,
            "source": source,
            "speaker": self.speaker,
            "words": json.dumps(self.words) if self.words else None,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Segment:
        """A `transcript_segments` row as a segment."""
        return cls(
            start_s=float(row["start_s"]),
            end_s=float(row["end_s"]),
            text=row["text"],
            speaker=row["speaker"],
            words=_words(json.loads(row["words"]) if row["words"] else None),
        )


def _words(words: list | None) -> list[Word] | None:
    """Stored words as `Word`s; words stored before probabilities were kept have none."""
    if not words:
        return None
    return [
        (
            float(w[0]),
            float(w[1]),
            str(w[2]),
            float(w[3]) if len(w) > 3 and w[3] is not None else None,
        )
        for w in words
    ]
