"""Voices: which transcript segments one voice spoke, and the few voices the evidence names.

Diarization here is clustering of per-segment speaker embeddings (unit vectors, compared by
cosine). It errs towards splitting: two voices merged would carry one name onto the other's
words, while one voice split in two only leaves some of its lines unnamed. So the long segments
make the voices (a short one's embedding is noisy; it joins the voice it is closest to), and
they are never merged into fewer voices than the people the feed lists. A voice is named only
on evidence, and a segment only when it sits clearly inside its voice:

- a self-introduction ("I'm Priya Shah", "my name is ...") naming a person the
  feed lists (`podcast:person`, or the host the feed names), in a segment sure of its voice;
- the one host the feed names, for the voice that both opens and closes the episode.

Two names for one voice, or one name for two voices, is no evidence at all: nobody is named.
Nor is anybody named when fewer voices speak a real share of the episode than the feed lists
people: two alike voices were then heard as one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dagster_project.lib.tuning import VOICE_MARGIN, VOICE_MIN_SHARE, VOICE_SAME_SIMILARITY

# "This is <name>" is left out: hosts say it of their guests as often as of themselves.
_INTRO = re.compile(r"\b(?:i'm|i am|my name is)\s+(.{2,60})", re.IGNORECASE)


def voice_label(index: int) -> str:
    return f"speaker_{index + 1}"


def _making_voices(reliable: Sequence[bool] | None, n: int) -> np.ndarray:
    """Which of `n` segments make the voices: the `reliable` ones, or all when none are."""
    mask = np.ones(n, dtype=bool) if reliable is None else np.asarray(reliable, dtype=bool)
    return mask if mask.any() else np.ones(n, dtype=bool)


def cluster(
    embeddings: np.ndarray,
    same: float = VOICE_SAME_SIMILARITY,
    *,
    reliable: Sequence[bool] | None = None,
    at_least: int = 1,
) -> list[int]:
    """Voices of unit embeddings: average-linkage clusters joined while their mean cosine is
    >= `same`, and never into fewer than `at_least` (the people the feed lists: merging two
    people is the error that carries a name onto the other's words; splitting one is not).

    Only the `reliable` embeddings (long segments) make the voices: a short segment's
    embedding is noisy, and short lines clustered with the rest make voices of their own
    while two real voices merge. Each other segment takes the voice it is closest to on
    average. Labels are numbered in order of first appearance (the opening voice is 0).
    """
    n = len(embeddings)
    if n == 0:
        return []
    anchors = np.flatnonzero(_making_voices(reliable, n)).tolist()
    sims = embeddings @ embeddings.T
    groups: list[list[int]] = [[i] for i in anchors]
    while len(groups) > max(1, at_least):
        best, pair = -2.0, (0, 0)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                s = float(sims[np.ix_(groups[a], groups[b])].mean())
                if s > best:
                    best, pair = s, (a, b)
        if best < same:
            break
        a, b = pair
        groups[a] += groups.pop(b)
    members = [list(g) for g in groups]
    for i in sorted(set(range(n)) - set(anchors)):
        closest = max(range(len(groups)), key=lambda g: float(sims[i, groups[g]].mean()))
        members[closest].append(i)
    labels = [0] * n
    for label, group in enumerate(sorted(members, key=min)):
        for i in group:
            labels[i] = label
    return labels


def confident(
    embeddings: np.ndarray,
    labels: Sequence[int],
    margin: float = VOICE_MARGIN,
    *,
    reliable: Sequence[bool] | None = None,
) -> list[bool]:
    """True for a segment closer to its own voice (without itself) than to any other voice by
    `margin`, and as close to it as two lines of one voice are (`VOICE_SAME_SIMILARITY`).
    A voice here is its `reliable` segments (all, when none are)."""
    voice_ids = np.asarray(labels)
    solid = _making_voices(reliable, len(voice_ids))
    out = []
    for i, own in enumerate(voice_ids):
        mates = np.flatnonzero((voice_ids == own) & solid & (np.arange(len(voice_ids)) != i))
        if len(mates) == 0:
            out.append(False)  # a voice of one segment is not a voice yet
            continue
        to_own = float((embeddings[mates] @ embeddings[i]).mean())
        others = [
            float((embeddings[(voice_ids == other) & solid] @ embeddings[i]).mean())
            for other in set(voice_ids[solid].tolist()) - {int(own)}
        ]
        out.append(to_own >= VOICE_SAME_SIMILARITY and all(to_own - o >= margin for o in others))
    return out


@dataclass(frozen=True)
class Voiced:
    """One transcript segment with its voice (None: too short or unclear to tell), and whether
    it sits clearly inside that voice (`confident`): only such a segment's words are evidence of
    whose voice it is (a long segment may hold two people's turns)."""

    text: str
    voice: str | None
    sure: bool = True


def _introduced(text: str, people: Sequence[str]) -> set[str]:
    """The listed people a sentence introduces as its speaker ("I'm Priya Shah, and ...").

    A full name counts; a first name alone only when no other listed person shares it.
    """
    firsts = [name.split()[0].lower() for name in people]
    found = set()
    for match in _INTRO.finditer(text):
        rest = match.group(1).lower()
        for name, first in zip(people, firsts, strict=True):
            said = [name.lower()] + ([first] if firsts.count(first) == 1 else [])
            for words in said:
                tail = rest[len(words) :]
                if rest.startswith(words) and not (tail[:1].isalpha() or tail[:2] in ("'s", "’s")):
                    found.add(name)
    return found


def name_voices(
    segments: Sequence[Voiced],
    people: Sequence[dict],
    *,
    host_opens_and_closes: bool = True,
    share: float = VOICE_MIN_SHARE,
) -> dict[str, str]:
    """{voice: name} for the voices the episode's evidence names; the rest stay unnamed.

    `people` are the feed's [{"name", "role"}] for the episode. A first name counts for a
    self-introduction only when no other listed person shares it.
    """
    names = sorted({p["name"] for p in people if p.get("name")})
    voiced = [s.voice for s in segments if s.voice is not None]
    # A voice that speaks a real share of the episode (a one-off "Huh, right." split from the
    # rest is not one of the people talking).
    lasting = {v for v in set(voiced) if voiced.count(v) >= max(2, share * len(voiced))}
    if len(lasting) < len(names):
        # Fewer voices than the people the feed lists: two of them were heard as one (alike
        # voices), and a name given now would spread onto the other's words. Nobody is named.
        return {}
    claims: dict[str, set[str]] = {}
    for seg in segments:
        if seg.voice is not None and seg.sure:
            for name in _introduced(seg.text, names):
                claims.setdefault(seg.voice, set()).add(name)
    hosts = [p["name"] for p in people if (p.get("role") or "").lower() == "host" and p.get("name")]
    if host_opens_and_closes and len(hosts) == 1 and voiced and voiced[0] == voiced[-1]:
        claims.setdefault(voiced[0], set()).add(hosts[0])
    named = {voice: next(iter(found)) for voice, found in claims.items() if len(found) == 1}
    taken = list(named.values())
    return {voice: name for voice, name in named.items() if taken.count(name) == 1}


def sentence_voice(spoken: Sequence[Mapping[str, str | None]]) -> tuple[str | None, str | None]:
    """The voice and the name of a sentence spoken over these segments' rows (`voice`,
    `speaker`), first to last: the voice when every segment has that one voice, and the name
    only when every segment also carries that one name. Anything less, and it has none."""
    voices = {row.get("voice") for row in spoken}
    if len(voices) != 1 or None in voices:
        return None, None
    names = {row.get("speaker") for row in spoken}
    return voices.pop(), names.pop() if len(names) == 1 else None
