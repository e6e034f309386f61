"""The claim classifier on the real MiniLM embeddings: show talk out, news in, whatever the words.

None of these sentences is in the training examples
(dagster_project/lib/training/claim_examples.yaml).
"""

import numpy as np
import pytest

from dagster_project.lib.claim_classifier import ClaimClassifier, load_examples

pytestmark = pytest.mark.slow

SHOW_TALK = [
    "Yeah, totally, that is a great point.",
    "Let's take a quick break and we will be right back.",
    "Welcome back to Signal and Noise, the show about technology.",
    "Thanks for listening, and we will see you next week.",
    "Homer Reed joins me, Homer, good to have you.",
    "Okay, I'm off to my nephew's football game.",
    "A short one today, I have a train to catch.",
    "It's just me today, my producer is stuck at an airport in Denver.",
    "Ha, that's a great story.",
    "A quick thanks to everyone who wrote in last week.",
    "And after the game comes the parade.",
    "Two guests this week: Nora Vance covers farming, and Doctor Eli Stone runs the city hospital.",
]
# Show talk of the development set as Whisper heard it, once stored as claims: a segue that names
# the next subject and a guest line-up. In an episode's body (where most sentences are claims)
# they must still fall below even odds.
HEARD_SHOW_TALK = [
    "And after the turkey comes the shopping ride.",
    "Two guests a day, Marcus Lee covers housing, and Dr. Ana Ruiz runs the county health "
    "department.",
]
NEWS = [
    "Wow, gas prices fell twenty cents a gallon over the holiday weekend.",
    "Here is what the budget office found: the deficit will double by 2035.",
    "Coffee exports from Vietnam doubled this year after a record harvest.",
    "The survey found that most renters under thirty cannot afford a first home.",
    "Rates on savings accounts are still above four percent at online banks.",
    "The city council approved a budget of two billion dollars, five percent more than last year.",
    "Grocery prices rose three percent in October, the fastest pace since the spring.",
    "A Gallup poll found that trust in newspapers fell to a record low of 31 percent.",
    "The central bank kept its main rate at four and a half percent for a third meeting.",
    "Weekend travel hit a record, with three million people screened at airports on Sunday.",
]


@pytest.fixture(scope="module")
def judged():
    from dagster_project.resources.models import TopicModeler

    modeler = TopicModeler()
    texts, labels = load_examples()
    classifier = ClaimClassifier.fit(modeler.embed(texts), labels)
    sentences = SHOW_TALK + NEWS + HEARD_SHOW_TALK
    p = classifier.probability(modeler.embed(sentences))
    return dict(zip(sentences, p, strict=True))


def test_examples_are_not_the_test_sentences():
    texts, _ = load_examples()
    assert not set(texts) & set(SHOW_TALK + NEWS + HEARD_SHOW_TALK)


@pytest.mark.parametrize("text", HEARD_SHOW_TALK)
def test_segues_and_guest_line_ups_are_not_claims_even_in_the_body(judged, text):
    from dagster_project.lib import tuning
    from dagster_project.lib.claim_classifier import with_prior

    assert with_prior(judged[text], tuning.BODY_CLAIM_SHARE) < tuning.CLAIM_PROBABILITY


@pytest.mark.parametrize("text", SHOW_TALK)
def test_show_talk_is_not_a_claim(judged, text):
    assert judged[text] < 0.5


@pytest.mark.parametrize("text", NEWS)
def test_news_with_everyday_words_is_a_claim(judged, text):
    assert judged[text] >= 0.5


def claims_of(
    tmp_path,
    feed: str,
    lines: dict[str, list[str]],
    feed_title: str | None = None,
    topic_model=None,
):
    """The claims asset over episodes of one feed, each its lines as 6-s segments: the stored
    claims' texts and what was left out (the metadata's `left_out`)."""
    from datetime import date

    import dagster as dg

    from dagster_project.assets.claims import claims
    from dagster_project.resources.models import Nlp, TopicModeler
    from dagster_project.resources.storage import DataHome
    from dagster_project.resources.warehouse import DuckDBWarehouse

    day = date(2026, 11, 18)
    wh = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_partition(
        "episodes",
        day,
        [
            {"feed": feed, "guid": g, "title": "Ep", "persons": "[]", "feed_title": feed_title}
            for g in lines
        ],
    )
    wh.replace_partition(
        "transcript_segments",
        day,
        [
            {"feed": feed, "episode_guid": g, "segment_index": i, "start_s": 6.0 * i,
             "end_s": 6.0 * i + 5, "text": text, "source": "whisper"}
            for g, texts in lines.items()
            for i, text in enumerate(texts)
        ],
    )  # fmt: skip
    home = DataHome(home=str(tmp_path / "data"), feeds_file=str(tmp_path / "feeds.yaml"))
    result = dg.materialize(
        [claims],
        partition_key=day.isoformat(),
        resources={
            "nlp": Nlp(),
            "topic_model": topic_model or TopicModeler(),
            "data_home": home,
            "warehouse": wh,
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("claims")[0].metadata
    left_out = None if "unchanged" in metadata else metadata["left_out"].value
    return sorted(r["text"] for r in wh.rows("claims", day)), left_out


def test_the_topic_model_s_clustering_settings_do_not_rerun_the_claims(tmp_path):
    """The claims asset uses the topic model's embeddings only: another seed or another
    clustering knob finds the day's claims unchanged; another embedding model does not."""
    from dagster_project.resources.models import TopicModeler, packaged_embedder

    lines = {"e1": [NEWS[0], NEWS[1], SHOW_TALK[0]]}
    first, left_out = claims_of(tmp_path, "pocket-change", lines)
    assert first and left_out is not None
    reseeded = TopicModeler(seed=7, min_cluster_size=4, merge_similarity=0.5)
    again, left_out = claims_of(tmp_path, "pocket-change", lines, topic_model=reseeded)
    assert again == first and left_out is None  # unchanged: stored claims reported, not rebuilt
    # The same MiniLM named by its path: for all the asset knows, another model
    named = TopicModeler(embedding_model=packaged_embedder())
    rebuilt, left_out = claims_of(tmp_path, "pocket-change", lines, topic_model=named)
    assert rebuilt == first and left_out is not None


def test_a_line_a_show_repeats_in_every_episode_is_not_a_claim(tmp_path):
    """A show's tagline reads like a claim; that it recurs across episodes gives it away."""
    tagline = "Pocket Change covers the money people spend every single day in their towns."
    news = {
        "e1": "Grocery prices rose three percent in October, the fastest pace since the spring.",
        "e2": "The central bank kept its main rate at four and a half percent for a third meeting.",
    }
    found, left_out = claims_of(
        tmp_path,
        "pc",
        {
            g: [tagline, "Hello, and welcome.", line, "Thanks.", "Bye now."]
            for g, line in news.items()
        },
    )
    assert found == sorted(news.values())
    assert left_out.get("show repeat") == 2


def test_an_opening_or_closing_that_names_the_show_is_show_frame(tmp_path):
    """ "This is The Long Haul, ..." frames the show; the news after it is the claim."""
    news = [
        "Diesel prices fell eight cents a gallon this week, the lowest level since March.",
        "Trucking firms added about twelve thousand drivers in October, according to the ATA.",
    ]
    lines = [
        "This is The Long Haul, the weekly show about freight, fuel and the people who move it.",
        *news,
        "That is all from the long haul this week, and the next one is in seven days.",
    ]
    found, left_out = claims_of(tmp_path, "lh", {"e1": lines}, feed_title="The Long Haul")
    assert found == sorted(news)
    assert left_out.get("show frame") == 2


def test_an_episode_that_opens_without_naming_the_show_opens_on_the_news(tmp_path):
    """The opening lines' lower prior is for a show that frames itself; one that starts on the
    news keeps its first lines as claims. Both opening lines are news the classifier finds
    only somewhat likely claims (0.58 and 0.64, balanced): kept in the body, not at a framed edge.
    """
    opening = [
        "Pilots at the airline voted to strike next month, and the union says talks have stalled.",
        "Snow closed the mountain pass this morning, and the road will stay shut until Thursday.",
    ]
    body = [
        "Diesel prices fell eight cents a gallon this week, the lowest level since March.",
        "Trucking firms added about twelve thousand drivers in October, according to the ATA.",
    ]
    closing = "That is all from the long haul this week, and the next one is in seven days."
    for run in ("news", "framed"):
        (tmp_path / run).mkdir()
    found, _ = claims_of(
        tmp_path / "news", "lh", {"e1": [*opening, *body, closing]}, feed_title="The Long Haul"
    )
    assert found == sorted(opening + body)
    framed = (
        "This is The Long Haul, the weekly show about freight, fuel and the people who move it."
    )
    found, left_out = claims_of(
        tmp_path / "framed",
        "lh",
        {"e1": [framed, opening[0], body[0], opening[1], body[1], closing]},
        feed_title="The Long Haul",
    )
    assert found == sorted([*body, opening[1]])  # the same line in the body is a claim
    assert left_out.get("show talk") == 1 and left_out.get("show frame") == 2


def test_the_prior_of_where_a_sentence_sits_moves_the_balanced_odds():
    from dagster_project.lib.claim_classifier import with_prior

    p = np.array([0.35, 0.5, 0.9])
    assert np.allclose(with_prior(p, 0.5), p)  # an even prior changes nothing
    body, edge = with_prior(p, 0.68), with_prior(p, 0.08)
    assert (body > p).all() and (edge < p).all()
    assert body[0] > 0.5 > edge[2]  # a doubtful claim in the body stays; a sure one at the edge
    assert np.allclose(with_prior(p, [0.5, 0.5, 0.5]), p)
