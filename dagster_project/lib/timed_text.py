"""Transcript text with time: join segments into one text and map character spans to seconds.

Sentences cross segment boundaries, so claims are found in the joined text and their character
spans are mapped back to the audio: through word timestamps where the transcriber gave them,
otherwise by interpolating inside the segment.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from dagster_project.lib.segments import Segment


@dataclass(frozen=True)
class Piece:
    char_start: int
    char_end: int
    start_s: float
    end_s: float
    speaker: str | None
    segment: int = 0  # index of the segment the piece came from
    probability: float | None = None  # how sure the transcriber was of the word (None: not told)


@dataclass
class TimedText:
    text: str
    pieces: list[Piece]

    def _piece_index(self, offset: int) -> int:
        starts = [p.char_start for p in self.pieces]
        return max(0, bisect.bisect_right(starts, offset) - 1)

    def time_at(self, offset: int) -> float:
        """Seconds into the audio of the character at `offset`."""
        if not self.pieces:
            return 0.0
        p = self.pieces[self._piece_index(offset)]
        width = max(1, p.char_end - p.char_start)
        frac = min(1.0, max(0.0, (offset - p.char_start) / width))
        return p.start_s + frac * (p.end_s - p.start_s)

    def span_times(self, char_start: int, char_end: int) -> tuple[float, float]:
        """(start_s, end_s) of a character span; end is the end of its last piece."""
        if not self.pieces:
            return 0.0, 0.0
        last = self.pieces[self._piece_index(max(char_start, char_end - 1))]
        start = self.time_at(char_start)
        end = last.end_s if last.char_end <= char_end + 1 else self.time_at(char_end)
        return round(start, 2), round(max(start, end), 2)

    def speaker_at(self, offset: int) -> str | None:
        if not self.pieces:
            return None
        return self.pieces[self._piece_index(offset)].speaker

    def clarity(self, char_start: int, char_end: int) -> float | None:
        """How surely the transcriber heard a span: the geometric mean of its words'
        probabilities (a misheard word, "builds" for "bills", drags it down far more than an
        arithmetic mean would). None when a word's probability is not known."""
        if not self.pieces:
            return None
        first = self._piece_index(char_start)
        last = self._piece_index(max(char_start, char_end - 1))
        probabilities = [p.probability for p in self.pieces[first : last + 1]]
        if any(p is None for p in probabilities):
            return None
        logs = [math.log(max(p, 1e-4)) for p in probabilities if p is not None]
        return round(math.exp(sum(logs) / len(logs)), 3)

    def segments_of(self, char_start: int, char_end: int) -> tuple[int, int]:
        """Indexes of the segments holding a span's first and last characters."""
        if not self.pieces:
            return 0, 0
        first = self.pieces[self._piece_index(char_start)]
        last = self.pieces[self._piece_index(max(char_start, char_end - 1))]
        return first.segment, last.segment


def join_segments(segments: list[Segment]) -> TimedText:
    """One text of all segments, with a time piece per word (or per segment when no words).

    Words are glued as the transcriber spelled them: Whisper starts a new word with a space and
    continues one without ("open" + "-weight"), so the text reads like the segment's own.
    """
    parts: list[str] = []
    pieces: list[Piece] = []
    cursor = 0
    for index, seg in enumerate(segments):
        units = (
            [w for w in seg.words if w[2].strip()]
            if seg.words
            else [(seg.start_s, seg.end_s, seg.text, None)]
        )
        for n, (start_s, end_s, raw, probability) in enumerate(units):
            text = raw.strip()
            if not text:
                continue
            if parts and (n == 0 or raw[:1].isspace()):
                parts.append(" ")
                cursor += 1
            parts.append(text)
            pieces.append(
                Piece(cursor, cursor + len(text), start_s, end_s, seg.speaker, index, probability)
            )
            cursor += len(text)
    return TimedText(text="".join(parts), pieces=pieces)
