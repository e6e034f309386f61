"""Which topics make the day's top five: support, quality, novelty, and no two alike."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    topic_id: str
    centroid: np.ndarray  # unit vector
    podcasts: set[str]  # shows with a claim in the topic today
    episodes: int
    claims: int
    quality: float  # mean score of the topic's best claims today, 0..1
    coherence: float = 1.0  # mean cosine of the day's claims to the topic centroid
    last_featured: str | None = None  # date of the last digest that featured the topic
    novel_podcasts: set[str] = field(default_factory=set)  # shows saying something not yet cited

    @property
    def novelty(self) -> str:
        return "recurring" if self.last_featured else "new"


@dataclass(frozen=True)
class RankingRules:
    top_k: int = 5
    min_podcasts: int = 2  # an insight is a theme that several shows discussed
    recurring_weight: float = 0.6  # a featured topic counts less when it comes back
    mmr_lambda: float = 0.3  # how much closeness to an already chosen insight costs
    duplicate_similarity: float = 0.6  # two topics this close say the same thing
    min_coherence: float = 0.55  # mean closeness of a topic's claims to its centre
    min_quality: float = 0.65  # mean score of the topic's best three claims


def support_score(c: Candidate, rules: RankingRules) -> float:
    """Breadth first (distinct shows, then episodes), then claim quality and novelty."""
    breadth = len(c.podcasts) + 0.5 * c.episodes + 0.5 * math.log1p(c.claims)
    weight = rules.recurring_weight if c.last_featured else 1.0
    return breadth * (0.75 + 0.5 * c.quality) * weight


def eligible(c: Candidate, rules: RankingRules) -> str | None:
    """Why a topic cannot be an insight today, or None."""
    if len(c.podcasts) < rules.min_podcasts:
        return f"discussed by {len(c.podcasts)} show(s), fewer than {rules.min_podcasts}"
    if c.coherence < rules.min_coherence:
        return f"claims too loosely related (coherence {c.coherence:.2f})"
    if c.quality < rules.min_quality:
        return f"claims too weak (quality {c.quality:.2f})"
    if c.last_featured and len(c.novel_podcasts) < rules.min_podcasts:
        return (
            f"featured on {c.last_featured}; only {len(c.novel_podcasts)} show(s) add claims "
            "not cited then"
        )
    return None


def select(candidates: list[Candidate], rules: RankingRules) -> list[tuple[Candidate, float]]:
    """Greedy maximal marginal relevance: strong topics first, never two that say the same."""
    pool = [c for c in candidates if eligible(c, rules) is None]
    if not pool:
        return []
    scores = {c.topic_id: support_score(c, rules) for c in pool}
    top = max(scores.values()) or 1.0
    chosen: list[tuple[Candidate, float]] = []
    while pool and len(chosen) < rules.top_k:
        best, best_value = None, -math.inf
        for c in pool:
            closeness = max((float(c.centroid @ s.centroid) for s, _ in chosen), default=0.0)
            if closeness >= rules.duplicate_similarity:
                continue
            value = scores[c.topic_id] / top - rules.mmr_lambda * max(0.0, closeness)
            if value > best_value or (value == best_value and c.topic_id < best.topic_id):
                best, best_value = c, value
        if best is None:
            break
        chosen.append((best, scores[best.topic_id]))
        pool.remove(best)
    return chosen


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def is_repeat(text: str, earlier: list[str], threshold: float = 0.7) -> bool:
    """True when a claim says what an earlier citation said (word overlap, Jaccard)."""
    mine = words(text)
    for other in earlier:
        theirs = words(other)
        if mine and theirs and len(mine & theirs) / len(mine | theirs) >= threshold:
            return True
    return False
