import numpy as np
import pytest

from dagster_project.lib.ranking import Candidate, RankingRules, decide, is_repeat, select


def vec(*xs):
    v = np.asarray(xs, dtype=float)
    return v / np.linalg.norm(v)


def cand(tid, direction, podcasts, episodes=None, claims=4, quality=0.8, **kw):
    shows = {f"show{i}" for i in range(podcasts)}
    return Candidate(tid, direction, shows, episodes or podcasts, claims, quality, **kw)


def test_broader_support_ranks_first():
    a = cand("a", vec(1, 0, 0), podcasts=2)
    b = cand("b", vec(0, 1, 0), podcasts=4)
    assert [c.topic_id for c, _ in select([a, b], RankingRules())] == ["b", "a"]


def test_single_show_topics_fill_the_places_broad_themes_leave():
    solo = cand("solo", vec(1, 0, 0), podcasts=1, claims=20, quality=1.0)
    broad = cand("broad", vec(0, 1, 0), podcasts=2, claims=2, quality=0.4)
    assert [c.topic_id for c, _ in select([solo, broad], RankingRules())] == ["broad", "solo"]
    assert [c.topic_id for c, _ in select([solo], RankingRules())] == ["solo"]


def test_near_duplicate_topics_never_both_make_it():
    a = cand("a", vec(1, 0.05, 0), podcasts=4)
    a_again = cand("a2", vec(1, 0.1, 0), podcasts=3)
    other = cand("c", vec(0, 0, 1), podcasts=2)
    chosen = [c.topic_id for c, _ in select([a, a_again, other], RankingRules())]
    assert chosen == ["a", "c"]


def at(cosine):
    """A unit vector at this cosine from vec(1, 0, 0, ...), in 8 dimensions."""
    return vec(cosine, np.sqrt(1 - cosine**2), 0, 0, 0, 0, 0, 0)


def test_related_themes_of_several_shows_are_both_featured():
    # Regional banks and stablecoins: two themes about money, their centres at cosine 0.61.
    banks = cand("banks", vec(1, 0, 0, 0, 0, 0, 0, 0), podcasts=2, claims=7)
    coins = cand("coins", at(0.61), podcasts=2, claims=6)
    rest = [cand(f"t{i}", vec(*np.eye(8)[i + 2]), podcasts=1) for i in range(4)]
    chosen = [c.topic_id for c, _ in select([banks, coins, *rest], RankingRules())]
    assert chosen[:2] == ["banks", "coins"]
    # One thing said alike in two topics (centres as close as the seed document's paraphrases)
    same = cand("same", at(0.75), podcasts=2, claims=6)
    chosen = [c.topic_id for c, _ in select([banks, same, *rest], RankingRules())]
    assert "same" not in chosen and chosen[0] == "banks"


def test_five_distinct_themes_make_five_insights_broad_ones_first():
    topics = [cand(f"t{i}", vec(*np.eye(8)[i]), podcasts=2 if i < 3 else 1) for i in range(8)]
    chosen = [c.topic_id for c, _ in select(topics, RankingRules())]
    assert len(chosen) == 5 and set(chosen[:3]) == {"t0", "t1", "t2"}


def test_a_lone_claim_comes_after_a_single_show_theme():
    lone = cand("lone", vec(1, 0, 0), podcasts=1, claims=1, quality=1.0)
    theme = cand("theme", vec(0, 1, 0), podcasts=1, claims=3, quality=0.5)
    assert [c.topic_id for c, _ in select([lone, theme], RankingRules())] == ["theme", "lone"]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_a_day_with_few_themes_features_them_all(n):
    topics = [cand(f"t{i}", vec(*np.eye(8)[i]), podcasts=1, quality=0.3) for i in range(n)]
    assert len(select(topics, RankingRules())) == n


def test_at_most_top_k():
    topics = [cand(f"t{i}", vec(*np.eye(8)[i]), podcasts=3) for i in range(8)]
    assert len(select(topics, RankingRules(top_k=5))) == 5


def test_a_featured_topic_with_nothing_new_comes_last():
    stale = cand("old", vec(1, 0, 0), podcasts=3, last_featured="2026-11-17")
    solo = cand("solo", vec(0, 1, 0), podcasts=1, quality=0.3)
    fresh = cand("back", vec(0, 0, 1), podcasts=3, last_featured="2026-11-17", novel_podcasts={"a"})
    decisions = decide([stale, solo, fresh], RankingRules(top_k=2))
    assert [d.candidate.topic_id for d in decisions if d.rank] == ["back", "solo"]
    (last,) = [d for d in decisions if not d.rank]
    assert "nothing new since" in last.reason
    assert fresh.novelty == "recurring"


def test_repeats_are_recognised_by_their_words():
    earlier = ["China releases open models as a loss leader."]
    assert is_repeat("China releases open models as a loss leader, again.", earlier)
    assert not is_repeat("Regional banks merged in Ohio.", earlier)


def test_weak_topics_rank_lower_but_are_not_walled_off():
    weak = cand("weak", vec(1, 0, 0), podcasts=3, quality=0.5)
    strong = cand("strong", vec(0, 1, 0), podcasts=3, quality=0.9)
    assert [c.topic_id for c, _ in select([weak, strong], RankingRules())] == ["strong", "weak"]


def test_recurring_topics_rank_below_equal_new_ones():
    new = cand("new", vec(1, 0, 0), podcasts=3)
    back = cand(
        "back", vec(0, 1, 0), podcasts=3, last_featured="2026-11-17", novel_podcasts={"x", "y"}
    )
    assert [c.topic_id for c, _ in select([back, new], RankingRules())] == ["new", "back"]


def test_loose_topics_rank_below_coherent_ones():
    loose = cand("loose", vec(1, 0, 0), podcasts=3, coherence=0.3)
    tight = cand("tight", vec(0, 1, 0), podcasts=3, coherence=0.8)
    assert [c.topic_id for c, _ in select([loose, tight], RankingRules())] == ["tight", "loose"]


def test_every_candidate_is_explained():
    a = cand("a", vec(1, 0.05, 0), podcasts=4)
    dup = cand("dup", vec(1, 0.1, 0), podcasts=3)
    empty = cand("empty", vec(0, 0, 1), podcasts=1, claims=0)
    reasons = {d.candidate.topic_id: d.reason for d in decide([a, dup, empty], RankingRules())}
    assert reasons == {
        "a": "featured at rank 1",
        "dup": reasons["dup"],
        "empty": "no citable claim",
    }
    assert reasons["dup"].startswith("says what rank 1 says")


def test_more_claims_and_episodes_break_a_tie_between_equally_broad_topics():
    many = cand("many", vec(1, 0, 0), podcasts=3, episodes=4, claims=17, quality=0.85)
    few = cand("few", vec(0, 1, 0), podcasts=3, episodes=3, claims=9, quality=0.95)
    assert [c.topic_id for c, _ in select([few, many], RankingRules())] == ["many", "few"]


def test_a_split_off_part_of_a_chosen_insight_waits_behind_a_theme_of_its_own():
    # "a" was heard in episodes e1 and e2; "a_part" is a lone claim of the same episodes that
    # clustering split off (close to "a", but below the duplicate similarity); "b" is a theme
    # of its own, from another episode, and scores lower than "a_part".
    a = cand("a", vec(1, 0, 0), podcasts=2, evidence={("s0", "e1"), ("s1", "e2")})
    a_part = cand("a_part", vec(0.5, 0.87, 0), podcasts=1, claims=1, evidence={("s0", "e1")})
    b = cand("b", vec(0, 0, 1), podcasts=1, claims=1, quality=0.2, evidence={("s2", "e3")})
    decisions = decide([a, a_part, b], RankingRules(top_k=2))
    assert [d.candidate.topic_id for d in decisions if d.rank] == ["a", "b"]
    left = next(d for d in decisions if d.candidate.topic_id == "a_part")
    assert "likely part of rank 1" in left.reason
    # Without shared evidence (another episode), the same candidate is a theme of its own.
    elsewhere = cand("a_part", vec(0.5, 0.87, 0), podcasts=1, claims=1, evidence={("s3", "e4")})
    chosen = [c.topic_id for c, _ in select([a, elsewhere, b], RankingRules(top_k=2))]
    assert chosen == ["a", "a_part"]
    # Ordering, not a wall: with room left, the split-off part is still featured.
    assert [c.topic_id for c, _ in select([a, a_part, b], RankingRules())] == ["a", "b", "a_part"]


def test_a_theme_of_one_show_in_episodes_a_dominant_insight_cites_is_a_theme_of_its_own():
    # "big" was heard in every episode of the day. "gift" is three claims of one of them on
    # another subject (a block of the episode, not a stray line), and ranks before "lone",
    # a single claim elsewhere that scores higher.
    episodes = {(f"s{i}", f"e{i}") for i in range(4)}
    big = cand("big", vec(1, 0, 0), podcasts=4, evidence=episodes)
    gift = cand("gift", vec(0.4, 0.92, 0), podcasts=1, claims=3, evidence={("s0", "e0")})
    lone = cand("lone", vec(0, 0, 1), podcasts=1, claims=1, quality=1.0, evidence={("s9", "e9")})
    chosen = [c.topic_id for c, _ in select([big, gift, lone], RankingRules(top_k=2))]
    assert chosen == ["big", "gift"]
