"""Batched Whisper decoding made safe: find the speech a batch left without words, and cut a
stretch of timed words into sentence segments.

Batched decoding (faster-whisper's BatchedInferencePipeline) decodes each ~30 s stretch of
speech in one pass; when the model ends a pass early, the rest of that stretch has no words.
Sequential decoding seeks past such a stop. The Transcriber decodes in batches, asks
`uncovered` where the voice-activity detector heard speech that no word covers, and decodes only
those stretches again sequentially.

A pass can also stop after its first sentence and the alignment spread that sentence's words
over the rest of the stretch, so the speech it lost looks covered: `misaligned` finds the passes
whose first words are timed after their speech began, and the Transcriber decodes them again.
"""

from __future__ import annotations

import html
import re

from dagster_project.lib.segments import Word

SENTENCE_END = (".", "?", "!")
WEB_ADDRESS = re.compile(r"\(?(https?://|www\.)", re.IGNORECASE)


def uncovered(
    speech: list[tuple[float, float]],
    words: list[tuple[float, float]],
    *,
    slack_s: float = 0.3,
    min_s: float = 1.0,
) -> list[tuple[float, float]]:
    """Stretches of `speech` (start, end seconds) at least `min_s` long with no word in them.

    A word covers its own span and `slack_s` either side (word times from the alignment are
    approximate, and speakers breathe between words).
    """
    spans = sorted((a - slack_s, b + slack_s) for a, b in words)
    out: list[tuple[float, float]] = []
    for start, end in sorted(speech):
        at = start
        for a, b in spans:
            if b <= at or a >= end:
                continue
            if a - at >= min_s:
                out.append((at, a))
            at = max(at, b)
        if end - at >= min_s:
            out.append((at, end))
    return out


def passes(speech: list[tuple[float, float]], *, max_s: float) -> list[list[tuple[float, float]]]:
    """The speech stretches grouped as batched decoding groups them into passes: in order, a
    pass taking stretches while their seconds add up to at most `max_s` (faster-whisper's
    collect_chunks, whose own record of the stretches leaves out each pass's first)."""
    out: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    seconds = 0.0
    for a, b in speech:
        if current and seconds + (b - a) > max_s:
            out.append(current)
            current, seconds = [], 0.0
        current.append((a, b))
        seconds += b - a
    if current:
        out.append(current)
    return out


def misaligned(
    chunks: list[list[tuple[float, float]]], words: list[Word], *, min_s: float = 1.0
) -> list[list[tuple[float, float]]]:
    """The chunks (each the speech stretches, in seconds, that one pass decoded) whose words
    leave the pass's first `min_s` or more of speech uncovered.

    Whisper decodes a pass from its start, so its first words were said at its start; words
    timed later were put there by the alignment, which spreads a pass that stopped after its
    first sentence over speech it never decoded. (A pass that stopped early with its words where
    they were said leaves its end uncovered, which `uncovered` finds.) A word counts for a chunk
    when its middle falls between the chunk's first start and last end.
    """
    out = []
    for chunk in chunks:
        span = [(chunk[0][0], chunk[-1][1])]
        timed = [(w[0], w[1]) for w in words if inside(w, span, pad_s=0.0)]
        lost = uncovered(chunk, timed, min_s=min_s)
        if timed and lost and lost[0][0] == chunk[0][0]:
            out.append(chunk)
    return out


def inside(word: Word, stretches: list[tuple[float, float]], pad_s: float = 0.2) -> bool:
    """Whether the word's middle falls in one of the stretches (widened by `pad_s`)."""
    middle = (word[0] + word[1]) / 2
    return any(a - pad_s <= middle <= b + pad_s for a, b in stretches)


def sentences(
    words: list[Word], *, max_pause_s: float = 1.5, max_s: float = 30.0
) -> list[list[Word]]:
    """Timed words in order, grouped into segments: a segment ends after a word that ends a
    sentence, before a pause longer than `max_pause_s`, or before it would pass `max_s`."""
    out: list[list[Word]] = []
    current: list[Word] = []
    for word in sorted(words, key=lambda w: (w[0], w[1])):
        if current and (word[0] - current[-1][1] > max_pause_s or word[1] - current[0][0] > max_s):
            out.append(current)
            current = []
        current.append(word)
        if word[2].strip().rstrip("\"')]").endswith(SENTENCE_END):
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def text_of(words: list[Word]) -> str:
    """The words as one text (Whisper's words carry their leading space)."""
    return "".join(w[2] for w in words).strip()


def layout(
    stretches: list[tuple[float, float]], *, pad_s: float, gap_s: float, end_s: float
) -> list[tuple[float, float, float]]:
    """The stretches widened by `pad_s` (merged where they meet, inside [0, end_s]), laid end to
    end with `gap_s` of silence between them: (start, end, at), `at` being where the stretch
    starts in the laid-out audio. Decoding them laid out costs one pass of the encoder per 30 s
    of them, where decoding each on its own costs one pass per stretch."""
    merged: list[list[float]] = []
    for a, b in sorted(stretches):
        a, b = max(0.0, a - pad_s), min(end_s, b + pad_s)
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    out, at = [], 0.0
    for a, b in merged:
        out.append((a, b, at))
        at += b - a + gap_s
    return out


def placed(word: Word, pieces: list[tuple[float, float, float]]) -> Word:
    """A word timed in the laid-out audio, timed back in the window (by its middle's piece)."""
    middle = (word[0] + word[1]) / 2
    start, end, at = next(
        (p for p in reversed(pieces) if p[2] <= middle), pieces[0] if pieces else (0.0, 0.0, 0.0)
    )
    shift = start - at
    return (
        min(end, max(start, word[0] + shift)),
        min(end, max(start, word[1] + shift)),
        word[2],
        word[3],
    )


def feed_prompt(parts: list[str | None], max_words: int) -> str:
    """The feed's own words about an episode (show title, episode title, description) as one
    plain text of at most `max_words` words, to prompt Whisper with: a show's names and terms
    ("Koblenz", "Deutsche Bahn") are heard as written when the decoder has seen them. HTML
    (show notes) is reduced to its text, and web addresses are left out: nobody says them as
    written, and their many tokens would push the titles out of the decoder's 223-token window.
    An empty text means no prompt.
    """
    texts = []
    for part in parts:
        if text := plain_text(part):
            texts.append(text if text[-1] in ".?!:;" else text + ".")
    return " ".join(" ".join(texts).split()[:max_words])


def plain_text(part: str | None) -> str:
    """A feed's text as words: HTML (show notes) reduced to its text, web addresses left out."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", part or ""))
    text = " ".join(w for w in text.split() if not WEB_ADDRESS.match(w))
    return re.sub(r" ([,.;:!?])", r"\1", text)  # "<b>Name</b>:" is "Name:"
