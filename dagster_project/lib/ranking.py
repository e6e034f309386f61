"""Which topics make the day's top five: support, quality, novelty, and no two alike."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dagster_project.lib import tuning


@dataclass
class Candidate:
    topic_id: str
    centroid: np.ndarray  # unit vector: the mean of the day's claims in the topic
    podcasts: set[str]  # shows with a claim in the topic today
    episodes: int
    claims: int
    quality: float  # mean score of the topic's best claims today, 0..1
    coherence: float = 1.0  # mean cosine of the day's claims to the topic centroid
    last_featured: str | None = None  # date of the last digest that featured the topic
    novel_podcasts: set[str] = field(default_factory=set)  # shows saying something not yet cited
    # (feed, episode guid) of each claim today: the evidence, to tell a split-off part of a
    # chosen insight (same episodes) from a theme of its own. Empty: unknown, never a stray.
    evidence: set[tuple[str, str]] = field(default_factory=set)

    @property
    def novelty(self) -> Literal["new", "recurring"]:
        return "recurring" if self.last_featured else "new"


@dataclass(frozen=True)
class RankingRules:
    """Every knob of the day's choice. Thresholds order candidates; only what cannot be an
    insight at all (no citable claim, a duplicate of a chosen insight) is left out."""

    # What each trades: lib/tuning.py.
    top_k: int = tuning.TOP_K
    min_podcasts: int = tuning.MIN_PODCASTS
    recurring_weight: float = tuning.RECURRING_WEIGHT
    mmr_lambda: float = tuning.MMR_LAMBDA
    duplicate_similarity: float = tuning.DUPLICATE_SIMILARITY
    stray_similarity: float = tuning.STRAY_SIMILARITY


@dataclass
class Decision:
    """Why a candidate topic is, or is not, one of the day's insights."""

    candidate: Candidate
    score: float
    tier: int  # 0: several shows; 1: one show, several claims; 2: one claim; 3: nothing new
    rank: int | None = None
    reason: str = ""


def support_score(c: Candidate, rules: RankingRules) -> float:
    """Breadth (distinct shows, then episodes and claims) weighed by quality and coherence."""
    breadth = len(c.podcasts) + 0.5 * c.episodes + 0.5 * math.log1p(c.claims)
    weight = rules.recurring_weight if c.last_featured else 1.0
    return breadth * (0.5 + 0.5 * c.quality) * (0.5 + 0.5 * max(0.0, c.coherence)) * weight


def tier(c: Candidate, rules: RankingRules) -> int:
    """Breadth of evidence, coarsely: a theme several shows discussed beats one show's theme,
    which beats a lone claim (one that no theme took, often a stray line of a theme already
    chosen); a topic featured before with nothing new comes last."""
    if c.last_featured and not c.novel_podcasts:
        return 3
    if len(c.podcasts) >= rules.min_podcasts:
        return 0
    return 1 if c.claims >= 2 else 2


def stray_of(d: Candidate, chosen: list[Decision], rules: RankingRules) -> Decision | None:
    """The chosen insight that a lone claim is most likely a split-off part of, or None.

    Only a one-show candidate of one claim can be a stray: a show's theme is a stretch of its
    episode, several claims that cluster together, even when a big story of the day is
    cited from that same episode. Shared evidence: the claim comes from an episode the chosen
    insight already cites, and that insight is the nearest chosen one (centroids), at least
    `stray_similarity` close. A theme of its own is usually heard in another episode too, or
    sits nearer another insight.
    """
    if not d.evidence or not chosen or len(d.podcasts) >= rules.min_podcasts or d.claims > 1:
        return None
    sim, near = max(
        ((float(d.centroid @ s.candidate.centroid), s) for s in chosen), key=lambda x: x[0]
    )
    if sim >= rules.stray_similarity and d.evidence <= near.candidate.evidence:
        return near
    return None


def decide(candidates: list[Candidate], rules: RankingRules) -> list[Decision]:
    """Every candidate with its score and fate, featured ones first in rank order.

    Greedy maximal marginal relevance inside tiers: broad themes first, then single-show ones,
    then lone claims, then themes featured before with nothing new; never two alike.
    """
    decisions = [Decision(c, support_score(c, rules), tier(c, rules)) for c in candidates]
    top = max((d.score for d in decisions), default=1.0) or 1.0
    pool = []
    for d in decisions:
        if d.candidate.claims == 0:
            d.reason = "no citable claim"
        else:
            pool.append(d)
    chosen: list[Decision] = []
    part_of: dict[int, Decision] = {}  # id(decision) -> the chosen insight it likely belongs to
    while pool and len(chosen) < rules.top_k:
        best, best_key = None, None
        for d in list(pool):
            near = max(
                ((float(d.candidate.centroid @ s.candidate.centroid), s) for s in chosen),
                key=lambda x: x[0],
                default=(0.0, None),
            )
            if near[1] is not None and near[0] >= rules.duplicate_similarity:
                d.reason = f"says what rank {near[1].rank} says (similarity {near[0]:.2f})"
                pool.remove(d)
                continue
            value = d.score / top - rules.mmr_lambda * max(0.0, near[0])
            # A likely split-off part of a chosen insight waits behind every other candidate.
            stray = stray_of(d.candidate, chosen, rules)
            if stray is not None:
                part_of[id(d)] = stray
            else:
                part_of.pop(id(d), None)
            key = (3 if stray else d.tier, -value, d.candidate.topic_id)
            if best_key is None or key < best_key:
                best, best_key = d, key
        if best is None:
            break
        best.rank = len(chosen) + 1
        best.reason = f"featured at rank {best.rank}"
        chosen.append(best)
        pool.remove(best)
    for d in pool:
        d.reason = f"ranked below the top {rules.top_k}"
        if id(d) in part_of:
            d.reason += f" (likely part of rank {part_of[id(d)].rank}: the same episodes)"
        elif d.tier == 3:
            d.reason += f" (featured on {d.candidate.last_featured}; nothing new since)"
    rest = sorted(
        (d for d in decisions if d.rank is None),
        key=lambda d: (d.tier, -d.score, d.candidate.topic_id),
    )
    return [*chosen, *rest]


def select(candidates: list[Candidate], rules: RankingRules) -> list[tuple[Candidate, float]]:
    """The day's insights in rank order, with their scores."""
    return [(d.candidate, d.score) for d in decide(candidates, rules) if d.rank is not None]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def is_repeat(text: str, earlier: list[str], threshold: float = tuning.REPEAT_JACCARD) -> bool:
    """True when a claim says what an earlier citation said (word overlap, Jaccard)."""
    mine = words(text)
    for other in earlier:
        theirs = words(other)
        if mine and theirs and len(mine & theirs) / len(mine | theirs) >= threshold:
            return True
    return False
