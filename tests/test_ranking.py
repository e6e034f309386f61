import numpy as np

from dagster_project.lib.ranking import Candidate, RankingRules, eligible, is_repeat, select


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


def test_single_show_topics_are_not_insights():
    solo = cand("solo", vec(1, 0, 0), podcasts=1, claims=20, quality=1.0)
    assert "fewer than 2" in eligible(solo, RankingRules())
    assert select([solo], RankingRules()) == []


def test_near_duplicate_topics_never_both_make_it():
    a = cand("a", vec(1, 0.05, 0), podcasts=4)
    a_again = cand("a2", vec(1, 0.1, 0), podcasts=3)
    other = cand("c", vec(0, 0, 1), podcasts=2)
    chosen = [c.topic_id for c, _ in select([a, a_again, other], RankingRules())]
    assert chosen == ["a", "c"]


def test_fewer_than_five_when_the_day_has_fewer_good_topics():
    topics = [cand(f"t{i}", vec(*np.eye(8)[i]), podcasts=2 if i < 3 else 1) for i in range(8)]
    assert len(select(topics, RankingRules())) == 3


def test_at_most_top_k():
    topics = [cand(f"t{i}", vec(*np.eye(8)[i]), podcasts=3) for i in range(8)]
    assert len(select(topics, RankingRules(top_k=5))) == 5


def test_a_featured_topic_needs_new_claims_to_come_back():
    stale = cand("old", vec(1, 0, 0), podcasts=2, last_featured="2026-11-17", novel_podcasts={"a"})
    assert "only 1 show(s) add claims" in eligible(stale, RankingRules())
    fresh = cand(
        "old", vec(1, 0, 0), podcasts=3, last_featured="2026-11-17", novel_podcasts={"a", "b"}
    )
    assert eligible(fresh, RankingRules()) is None
    assert fresh.novelty == "recurring"


def test_repeats_are_recognised_by_their_words():
    earlier = ["China releases open models as a loss leader."]
    assert is_repeat("China releases open models as a loss leader, again.", earlier)
    assert not is_repeat("Regional banks merged in Ohio.", earlier)


def test_weak_topics_are_not_insights():
    weak = cand("weak", vec(1, 0, 0), podcasts=3, quality=0.5)
    assert "too weak" in eligible(weak, RankingRules())


def test_recurring_topics_rank_below_equal_new_ones():
    new = cand("new", vec(1, 0, 0), podcasts=3)
    back = cand(
        "back", vec(0, 1, 0), podcasts=3, last_featured="2026-11-17", novel_podcasts={"x", "y"}
    )
    assert [c.topic_id for c, _ in select([back, new], RankingRules())] == ["new", "back"]


def test_loose_topics_are_not_insights():
    chatter = cand("chatter", vec(1, 0, 0), podcasts=4, coherence=0.45)
    assert "loosely related" in eligible(chatter, RankingRules())


def test_more_claims_and_episodes_break_a_tie_between_equally_broad_topics():
    many = cand("many", vec(1, 0, 0), podcasts=3, episodes=4, claims=17, quality=0.85)
    few = cand("few", vec(0, 1, 0), podcasts=3, episodes=3, claims=9, quality=0.95)
    assert [c.topic_id for c, _ in select([few, many], RankingRules())] == ["many", "few"]
