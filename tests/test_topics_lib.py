import numpy as np

from dagster_project.lib import topics as tl


def test_show_repeats_flags_catchphrases_of_one_show_across_its_episodes():
    e = np.asarray([[1, 0, 0], [1, 0.01, 0], [1, 0.01, 0], [0, 1, 0]], dtype=float)
    mask = tl.show_repeats(["a", "a", "b", "a"], ["e1", "e2", "e3", "e1"], e)
    # rows 0 and 1: same show, other episode, same words -> repeats; row 2 is another show.
    assert mask.tolist() == [True, True, False, False]


def test_same_episode_repetition_is_not_a_catchphrase():
    e = np.asarray([[1, 0], [1, 0]], dtype=float)
    assert not tl.show_repeats(["a", "a"], ["e1", "e1"], e).any()


def test_merge_close_joins_split_themes():
    e = np.asarray([[1, 0, 0], [0.95, 0.3, 0], [0, 0, 1], [0, 0.1, 1]], dtype=float)
    merged = tl.merge_close(np.asarray([0, 1, 2, 2]), e, threshold=0.9)
    assert merged[0] == merged[1] != merged[2]


def test_merge_close_does_not_chain_related_themes_through_a_joined_centre():
    # Two parts of one theme (0.64 apart) and a related theme 0.56 from each part: once the two
    # parts join, their centre is 0.62 from the related theme, but no part ever was that close.
    e = np.asarray([[0.8, 0.6, 0, 0], [0.8, 0, 0.6, 0], [0.7, 0, 0, 0.714]], dtype=float)
    joined = tl.unit(e[:2].sum(axis=0, keepdims=True))[0]
    assert float(joined @ tl.unit(e[2:])[0]) >= 0.6  # the chain the rule must not follow
    merged = tl.merge_close(np.asarray([0, 1, 2]), e, threshold=0.6)
    assert merged[0] == merged[1] != merged[2]


def test_merge_close_leaves_groups_whose_parts_are_all_close_and_no_two_that_could_join():
    rng = np.random.default_rng(7)
    themes = rng.normal(size=(6, 16))
    # 30 clusters of 4 claims, each near one of six themes.
    e = np.concatenate([themes[i % 6] + 0.8 * rng.normal(size=(4, 16)) for i in range(30)])
    labels = np.repeat(np.arange(30), 4)
    cents = tl.centroids(labels, e)
    merged = tl.merge_close(labels, e, threshold=0.6)
    groups = {g: sorted(set(labels[merged == g].tolist())) for g in set(merged.tolist())}
    assert 1 < len(groups) < 30
    for parts in groups.values():
        assert all(cents[x] @ cents[y] >= 0.6 for x in parts for y in parts if x != y)
    for g, parts in groups.items():
        for h, others in groups.items():
            if g < h:
                assert min(cents[x] @ cents[y] for x in parts for y in others) < 0.6


def test_stable_ids_reuse_the_closest_earlier_topic_once():
    prev = {"tA": np.asarray([1.0, 0.0]), "tB": np.asarray([0.0, 1.0])}
    cents = {0: np.asarray([0.99, 0.14]), 1: np.asarray([0.98, 0.2]), 2: np.asarray([0.0, 1.0])}
    members = {0: ["c1"], 1: ["c2"], 2: ["c3"]}
    ids = tl.stable_ids(cents, members, prev)
    assert ids[0] == "tA" and ids[2] == "tB"
    assert ids[1] not in ("tA", "tB")  # each earlier id is used once


def test_label_skips_overlapping_keywords():
    assert (
        tl.label_from_keywords(["open", "open source", "china", "models"])
        == "open / china / models"
    )


def test_refine_moves_strays_to_their_nearest_topic_and_pulls_in_close_outliers():
    e = np.asarray(
        [[1, 0, 0], [0.98, 0.2, 0], [0.1, 0, 1], [0, 0.1, 1], [0.97, 0, 0.1], [0, 1, 0]],
        dtype=float,
    )
    # claim 4 is about theme 0 but was clustered with theme 1; claim 5 fits nothing.
    labels = np.asarray([0, 0, 1, 1, 1, -1])
    refined = tl.refine(labels, e, keep=0.4, join=0.6)
    assert refined.tolist() == [0, 0, 1, 1, 0, -1]
    outlier_close = tl.refine(np.asarray([0, 0, 1, 1, -1, -1]), e, keep=0.4, join=0.6)
    assert outlier_close[4] == 0 and outlier_close[5] == -1


def test_a_tiny_mixed_cluster_dissolves_into_the_themes_its_claims_belong_to():
    theme_a = [[1, 0, 0], [0.95, 0.3, 0], [0.95, -0.3, 0]]
    theme_b = [[0, 0, 1], [0, 0.3, 0.95], [0, -0.3, 0.95]]
    mixed = [[0.9, 0, 0.44], [0.44, 0, 0.9]]  # one claim of each theme, clustered together
    e = np.asarray(theme_a + theme_b + mixed, dtype=float)
    labels = np.asarray([0, 0, 0, 1, 1, 1, 2, 2])
    settled = tl.settle(labels, e, merge=0.95, keep=0.35, join=0.5)
    assert settled.tolist() == [0, 0, 0, 1, 1, 1, 0, 1]


def test_lone_claims_said_one_after_another_about_one_thing_become_one_topic():
    # Episode e1: two lone claims on one subject, then a change of subject; e2 continues the
    # first subject, but in another episode.
    e = np.asarray([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1], [1, 0.1, 0]], dtype=float)
    lone = np.ones(4, dtype=bool)
    labels = tl.stretches(["e1", "e1", "e1", "e2"], np.full(4, tl.OUTLIER), e, lone, 0.25)
    assert labels[0] == labels[1] != tl.OUTLIER
    assert labels[2] == labels[3] == tl.OUTLIER  # a change of subject; another episode


def test_a_clustered_claim_between_two_lone_ones_breaks_their_stretch():
    e = np.asarray([[1, 0], [1, 0.05], [1, 0.1], [1, 0.1]], dtype=float)
    labels = np.asarray([tl.OUTLIER, 0, tl.OUTLIER, tl.OUTLIER])
    lone = labels == tl.OUTLIER
    out = tl.stretches(["e1"] * 4, labels, e, lone, 0.25)
    assert out[0] == tl.OUTLIER and out[1] == 0  # claim 1 keeps its cluster
    assert out[2] == out[3] not in (tl.OUTLIER, 0)  # the new topic takes a fresh id


def test_an_episode_s_description_splits_into_its_subjects():
    phrases = tl.note_phrases(
        "Snow, Wolves and Shooting Stars",
        "A storm on the busiest travel day, Colorado's wild wolves, and the Geminids.",
    )
    assert phrases == [
        "Shooting Stars",
        "A storm on the busiest travel day",
        "Colorado's wild wolves",
        "the Geminids",
    ]  # one-word parts ("Snow", "Wolves") name too little to read a claim by
    assert tl.note_phrases(None, "") == []
    notes = '<p>Nadia on <b>egg prices</b>. Tickets: <a href="https://x.example/t">here</a></p>'
    assert tl.note_phrases("Breakfast Got Expensive", notes) == [
        "Breakfast Got Expensive",
        "Nadia on egg prices",
    ]  # show notes' HTML read as text; the address left out


def test_claims_read_with_their_episodes_notes_come_together_and_others_stay():
    # Two shows' claims on one theme, worded apart (cosine 0.2); each episode's notes name it
    # (the notes' directions: the theme, and another subject of the second episode).
    a, b = np.asarray([1.0, 0.0, 0.0, 0.0]), np.asarray([0.2, 0.98, 0.0, 0.0])
    theme, other = np.asarray([0.6, 0.6, 0.53, 0.0]), np.asarray([0.0, 0.0, 0.0, 1.0])
    alone = np.asarray([0.0, 0.0, 0.1, 0.99])  # a claim whose notes are not about it
    read = tl.with_notes(np.stack([a, b, alone]), [theme[None], np.stack([other, theme]),
                                                   theme[None]], weight=0.5, floor=0.3)  # fmt: skip
    before = float(tl.unit(a[None])[0] @ tl.unit(b[None])[0])
    assert float(read[0] @ read[1]) > before + 0.2  # the theme's two claims closer together
    assert np.allclose(read[2], tl.unit(alone[None])[0])  # its closest note is under 0.3
    # No notes (a feed without a description), or weight 0: the claims as they are.
    unchanged = tl.with_notes(np.stack([a, b]), [np.zeros((0, 4)), np.zeros((0, 4))])
    assert np.allclose(unchanged, np.stack([a, tl.unit(b[None])[0]]))
    assert np.allclose(tl.with_notes(np.stack([a]), [theme[None]], weight=0.0), a[None])
