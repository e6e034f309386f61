"""Topic bookkeeping around the clustering: repeats, merges, stable ids, support counts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from dagster_project.lib import tuning
from dagster_project.lib.decoding import plain_text

OUTLIER = -1


def unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def show_repeats(
    feeds: Sequence[str],
    episodes: Sequence[str],
    embeddings: np.ndarray,
    threshold: float = tuning.SHOW_REPEAT_SIMILARITY,
) -> np.ndarray:
    """True for claims a show repeats across its own episodes (catchphrases, intros, ads).

    A sentence that recurs near-verbatim in another episode of the same feed is the show talking
    about itself, not news, and would otherwise form a topic of its own.
    """
    mask = np.zeros(len(feeds), dtype=bool)
    vectors = unit(np.asarray(embeddings, dtype=float)) if len(feeds) else embeddings
    feeds_a, eps_a = np.asarray(feeds), np.asarray(episodes)
    for feed in sorted(set(feeds)):  # one show at a time: memory grows with a show, not a week
        idx = np.flatnonzero(feeds_a == feed)
        if len(idx) < 2:
            continue
        sims = vectors[idx] @ vectors[idx].T
        other_episode = eps_a[idx][:, None] != eps_a[idx][None, :]
        mask[idx] = ((sims >= threshold) & other_episode).any(axis=1)
    return mask


def centroids(labels: np.ndarray, embeddings: np.ndarray) -> dict[int, np.ndarray]:
    return {
        int(t): unit(embeddings[labels == t].mean(axis=0, keepdims=True))[0]
        for t in sorted(set(labels.tolist()))
        if t != OUTLIER
    }


def merge_close(labels: np.ndarray, embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """Join clusters whose centroids are at least `threshold` close (cosine): one theme, one
    topic.

    Complete linkage over the clusters as they came: two groups join only when every cluster of
    one is that close to every cluster of the other, closest groups first. A joined group's
    centre sits between its parts, so comparing centres after each join would let a chain of
    related themes (a bank merger, bank rules, then stablecoins as banks see them) grow into one
    topic though the themes at its two ends were never that close.
    """
    labels = labels.copy()
    cents = centroids(labels, embeddings)
    ids = np.asarray(list(cents))
    if len(ids) < 2:
        return labels
    centres = np.stack([cents[t] for t in ids])
    # link[i, j]: the least similarity between a part of group i and a part of group j.
    link = centres @ centres.T
    np.fill_diagonal(link, -np.inf)
    group = np.arange(len(ids))  # each cluster's group: the index of its first cluster
    while True:
        a, b = sorted(np.unravel_index(int(np.argmax(link)), link.shape))
        if link[a, b] < threshold:
            break
        link[a, :] = link[:, a] = np.minimum(link[a], link[b])
        link[a, a] = link[b, :] = link[:, b] = -np.inf
        group[group == b] = a
    for i, t in enumerate(ids):
        labels[labels == t] = ids[group[i]]
    return labels


def refine(
    labels: np.ndarray, embeddings: np.ndarray, keep: float, join: float, rounds: int = 3
) -> np.ndarray:
    """Each claim to its nearest topic centre: strays leave, close outliers join.

    Density clustering sometimes hangs a claim on the wrong theme, forms tiny mixed clusters or
    leaves a clear member out. A claim's own topic is measured without the claim itself
    (leave-one-out), so a cluster of two or three unrelated claims cannot hold on to its members
    by their own weight. A claim stays in, or moves to, its nearest topic when that is at least
    `keep` close; an outlier joins its nearest topic when it is at least `join` close.
    """
    labels = labels.copy()
    vectors = unit(embeddings)
    for _ in range(rounds):
        ids = np.asarray(sorted(t for t in set(labels.tolist()) if t != OUTLIER))
        if not len(ids):
            return labels
        sums = np.stack([vectors[labels == t].sum(axis=0) for t in ids])
        counts = np.asarray([(labels == t).sum() for t in ids])
        sims = vectors @ unit(sums).T
        for i, t in enumerate(labels):
            if t == OUTLIER:
                continue
            k = int(np.flatnonzero(ids == t)[0])
            if counts[k] == 1:
                sims[i, k] = -1.0
            else:
                rest = unit((sums[k] - vectors[i])[None, :])[0]
                sims[i, k] = float(vectors[i] @ rest)
        best = ids[sims.argmax(axis=1)]
        best_sim = sims.max(axis=1)
        new = np.where(best_sim >= keep, best, OUTLIER)
        new = np.where((labels == OUTLIER) & (best_sim < join), OUTLIER, new)
        if (new == labels).all():
            break
        labels = new
    return labels


def settle(
    labels: np.ndarray, embeddings: np.ndarray, merge: float, keep: float, join: float
) -> np.ndarray:
    """Merge split themes and move strays until the clusters stop changing; drop singletons."""
    for _ in range(4):
        new = refine(merge_close(labels, embeddings, merge), embeddings, keep=keep, join=join)
        if (new == labels).all():
            break
        labels = new
    sizes = {t: int((labels == t).sum()) for t in set(labels.tolist())}
    return np.where([sizes[t] < 2 for t in labels], OUTLIER, labels)


def stretches(
    episodes: Sequence[str],
    labels: np.ndarray,
    embeddings: np.ndarray,
    candidates: np.ndarray,
    threshold: float = tuning.STRETCH_SIMILARITY,
) -> np.ndarray:
    """Lone claims said one after another in an episode, about the same thing, as one topic.

    A show talks about a subject for a stretch: two or three sentences in a row. When none of
    them clustered (a garbled transcript, a subject no other show took up), each would be a
    topic of one, and two of them could fill two places of the digest. Consecutive claims of
    one episode (in the order given, `candidates` marking the lone ones) whose embeddings are at
    least `threshold` close are linked; each run of linked claims becomes a new topic. A claim
    that is not a candidate, or another episode's, breaks the run.
    """
    labels = labels.copy()
    vectors = unit(np.asarray(embeddings, dtype=float)) if len(labels) else embeddings
    next_id = int(labels.max(initial=OUTLIER)) + 1
    run: list[int] = []

    def close() -> None:
        nonlocal next_id
        if len(run) >= 2:
            labels[run] = next_id
            next_id += 1
        run.clear()

    for i in range(len(labels)):
        if not candidates[i]:
            close()
            continue
        # A run holds only candidates and ends at a non-candidate: its last claim is i - 1.
        if run and not (
            episodes[i] == episodes[i - 1] and float(vectors[i] @ vectors[i - 1]) >= threshold
        ):
            close()
        run.append(i)
    close()
    return labels


def note_phrases(*texts: str | None) -> list[str]:
    """The phrases of a feed's words about an episode (its title, its description), each of
    at least two words: split at punctuation and at "and" / "with", where a list of subjects
    ("A storm on the busiest travel day, Colorado's wild wolves, and the Geminids") parts.
    Show notes' HTML is read as its text and web addresses are left out, as for Whisper's
    prompt (lib/decoding.py plain_text)."""
    parts = re.split(r"[,.;:!?()]|\band\b|\bwith\b", ". ".join(map(plain_text, texts)))
    return list(dict.fromkeys(p.strip() for p in parts if len(p.split()) >= 2))


def with_notes(
    embeddings: np.ndarray,
    notes: Sequence[np.ndarray],
    weight: float = tuning.NOTE_WEIGHT,
    floor: float = tuning.NOTE_SIMILARITY,
) -> np.ndarray:
    """Each claim's embedding plus `weight` of its episode's closest note, if that is at least
    `floor` close: what the claim is about, in the feed's own words.

    `notes[i]`: the embeddings of the phrases the feed wrote about claim i's episode
    (`note_phrases`; none: the claim is left as it is). A transcript garbles words ("excess"
    for "eggs") and two shows word one theme apart; the publisher's words name the subject
    plainly, so claims about it come together, within a show and across shows.
    """
    vectors = unit(np.asarray(embeddings, dtype=float)) if len(embeddings) else embeddings
    out = np.array(vectors, dtype=float, copy=True)
    for i, phrases in enumerate(notes):
        if not len(phrases):
            continue
        phrases = unit(np.asarray(phrases, dtype=float))
        sims = phrases @ vectors[i]
        best = int(np.argmax(sims))
        if sims[best] >= floor:
            out[i] += weight * phrases[best]
    return unit(out) if len(out) else out


def stable_ids(
    cluster_centroids: dict[int, np.ndarray],
    cluster_members: dict[int, list[str]],
    previous: dict[str, np.ndarray],
    threshold: float = tuning.STABLE_ID_SIMILARITY,
) -> dict[int, str]:
    """Give each cluster the id of the closest earlier topic, or a new id from its members.

    Earlier topics are matched greedily, most similar pair first, each used once, so the same
    theme keeps its id from day to day while new themes get ids derived from their claims.
    """
    pairs = []
    for c, vec in cluster_centroids.items():
        for tid, prev in previous.items():
            sim = float(vec @ prev)
            if sim >= threshold:
                pairs.append((sim, c, tid))
    assigned: dict[int, str] = {}
    used: set[str] = set()
    for _sim, c, tid in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if c not in assigned and tid not in used:
            assigned[c] = tid
            used.add(tid)
    for c in cluster_centroids:
        if c not in assigned:
            digest = hashlib.sha1("\n".join(sorted(cluster_members[c])).encode()).hexdigest()
            assigned[c] = f"t{digest[:10]}"
    return assigned


def plain_keywords(text: str, n: int = 5) -> list[str]:
    """A single claim's keywords: its longest words that are not stop words, in order."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in re.findall(r"[a-z][a-z-]+", text.lower()) if w not in ENGLISH_STOP_WORDS]
    longest = sorted(dict.fromkeys(words), key=len, reverse=True)[:n]
    return [w for w in dict.fromkeys(words) if w in longest]


def label_from_keywords(keywords: Sequence[str], n: int = 3) -> str:
    """A short label: the top keywords, without words already inside a longer keyword."""
    chosen: list[str] = []
    for kw in keywords:
        if any(kw in c or c in kw for c in chosen):
            continue
        chosen.append(kw)
        if len(chosen) == n:
            break
    return " / ".join(chosen)
