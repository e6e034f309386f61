"""Claim rules on sentences parsed by the packaged spaCy model (small: loads in about a second)."""

import pytest

from dagster_project.lib import claims as rules


@pytest.fixture(scope="module")
def nlp():
    from dagster_project.resources.models import Nlp

    return Nlp().load()


def feats(nlp, text):
    return rules.features(next(iter(nlp(text).sents)))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("What do you make of that?", "question"),
        ("Do you think China will keep releasing models", "question"),
        ("This episode is brought to you by Acme VPN, the fastest VPN around.", "sponsor"),
        ("Use promo code SIGNAL for twenty percent off your first order.", "sponsor"),
        ("Head over to acme.com and start your free trial today.", "sponsor"),
        ("Go to acme dot com slash signal to get started.", "sponsor"),
        ("Yeah, right, okay.", "filler"),
        ("Mm-hmm.", "filler"),
        ("I'm Ray Collins and this is what moves money today.", "self-introduction"),
        ("This episode is brought to you", "sponsor"),
        ("How was the trip to Lisbon", "question"),
        ("The cheaper models.", "fragment"),
        ("What's your take on the grid", "question"),
        ("And then.", "fragment"),
        # a question after a spoken opening, heard without its question mark
        ("So what does that mean for the power grid", "question"),
        ("And, well, why are utilities asking for new gas plants", "question"),
        ("Now do you think the price war lasts", "question"),
        # a hand-over to someone on the show by name
        ("Maya, you cover housing for us, are prices finally cooling off.", "hand-over"),
        ("Okay Tom, you were at the summit, so what did the ministers agree on.", "hand-over"),
    ],
)
def test_what_cannot_be_a_claim_by_its_shape(nlp, text, reason):
    assert rules.rejection(feats(nlp, text)) == reason


@pytest.mark.parametrize(
    "text",
    [
        "China releases open-weight models to undercut American AI companies.",
        "Data centres could use nine percent of American electricity by 2030.",
        "The Federal Reserve cut interest rates by a quarter point in September.",
        "Because chip sanctions block inference exports, Chinese labs give their models away.",
        "At my school in Virginia, students talk more at lunch since phones were banned.",
        # everyday words and openings that word lists used to throw away
        "Wow, the price of a gallon of milk rose forty cents this year.",
        "Here is what the city budget does: it moves ten million dollars to buses.",
        "The weekend box office fell to its lowest level since 2021.",
        "A new discount airline says fares will be forty percent lower than its rivals'.",
        "My guess is that coffee prices stay high, because the harvest in Brazil failed.",
        "So what happened next was a price war among the cloud providers.",
        "And how much they pay depends on the state they live in, says the survey.",
        # names and "you" that are not a hand-over
        "Maya Patel, the finance minister, says you will pay less tax on savings next year.",
        "Honestly, you cannot buy a house in Boston for less than eight hundred thousand dollars.",
    ],
)
def test_news_sentences_pass_the_shape_rules(nlp, text):
    f = feats(nlp, text)
    assert rules.rejection(f) is None
    assert rules.score(f) > 0.3


def test_specific_claims_score_higher_than_vague_ones(nlp):
    specific = feats(nlp, "Nvidia sold forty billion dollars of chips in 2025, more than Intel.")
    vague = feats(nlp, "I think things are changing a lot these days in general.")
    assert rules.score(specific) > rules.score(vague) + 0.2


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("So, you know, China is is releasing models.", "So China is releasing models."),
        ("I mean, prices fell, uh, sharply.", "Prices fell sharply."),
        ("the the grid is, um, strained.", "The grid is strained."),
    ],
)
def test_clean_text_removes_disfluencies(raw, clean):
    assert rules.clean_text(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "Walmart's S-Shoppers, who take the drugs, buy smaller baskets.",  # a misheard word
        "Constellation Energy and VISTRA are up 40 % as tech firms signed 20 -year contracts.",
        "The the rate is 5 %, uh, or, you know, so.",
        "He said that that plan had had no chance, er, at all, I mean, none.",
        "A new kind of reactor, sort of, runs on s s salt.",
        "Um, prices, uh, fell.",
    ],
)
def test_a_cleaned_quote_is_the_transcripts_own_words(raw):
    """Cleaning drops whole filler words at most: every word kept is a word that was heard."""
    cleaned = rules.clean_text(raw)
    assert rules.is_verbatim(cleaned, "Before it. " + raw + " After it.")
    kept = cleaned.lower().split()
    heard = raw.lower().split()
    assert all(any(k.strip(".,") == h.strip(".,") for h in heard) for k in kept)


def test_is_verbatim_refuses_changed_or_reordered_words():
    transcript = "Walmart's S-Shoppers, who take the drugs, buy smaller baskets."
    assert not rules.is_verbatim("Walmart's -Shoppers, who take the drugs", transcript)
    assert not rules.is_verbatim("who take the drugs, Walmart's S-Shoppers", transcript)
    assert rules.is_verbatim("Who take the, uh, drugs", transcript)


def test_strip_hedges():
    assert rules.strip_hedges("So I think China is dumping models.") == "China is dumping models."
    assert rules.strip_hedges("Well, my view is that rates fall.") == "rates fall."


@pytest.mark.parametrize(
    "speaker, persons, expected",
    [
        ("Marc Andreessen", [{"name": "Marc Andreessen", "role": "guest"}], "Marc Andreessen"),
        (
            "guest",
            [{"name": "Ann Lee", "role": "guest"}, {"name": "Bo", "role": "host"}],
            "Ann Lee",
        ),
        (None, [{"name": "Ann Lee", "role": "host"}], None),  # a host named is not a voice
        (None, [{"name": "Ann Lee", "role": "host"}, {"name": "Bo Chan", "role": "guest"}], None),
        (None, [], None),
    ],
)
def test_attribution_only_where_the_feed_supports_it(speaker, persons, expected):
    assert rules.attribute(speaker, persons) == expected


def test_claims_that_report_a_named_source_are_marked(nlp):
    assert feats(
        nlp, "The FDIC, which insures deposits, says problem banks fell to 68."
    ).cites_source
    assert not feats(nlp, "I think problem banks fell to 68 this year.").cites_source
    assert not feats(nlp, "Problem banks fell to 68 this year.").cites_source


@pytest.mark.parametrize(
    "persons, author, named, expected",
    [
        # podcast:person wins over everything else
        ([{"name": "Ann Lee", "role": "host"}], "Bo Chan", ["Bo Chan"], ["Ann Lee"]),
        # an itunes:author that is a person is the host; names in the description are guests
        ([], "Ann Lee", ["Ann Lee", "Marc Andreessen"], ["Ann Lee", "Marc Andreessen"]),
        # a company as author: names in the description may be people talked about, not guests
        ([], "Acme Media", ["Elon Musk"], []),
        ([], "Ann Lee", ["Ann Lee", "Marc"], ["Ann Lee"]),  # a first name alone is too vague
        ([], None, [], []),
    ],
)
def test_episode_people_from_metadata(persons, author, named, expected):
    assert [p["name"] for p in rules.episode_people(persons, author, named)] == expected


def test_the_author_alone_names_no_sentence():
    """itunes:author is the host, but a two-voice episode's second voice is not the host."""
    people = rules.episode_people([], "Ann Lee", ["Ann Lee"])
    assert rules.attribute(None, people) is None
    with_guest = rules.episode_people([], "Ann Lee", ["Ann Lee", "Marc Andreessen"])
    assert rules.attribute(None, with_guest) is None  # two people, no speaker labels: nobody


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        # the pitch between the read's opening and its web address is the read
        (
            [None, "sponsor", None, None, "sponsor", None],
            [None, "sponsor", "sponsor", "sponsor", "sponsor", None],
        ),
        # a sentence the shape rules already left out keeps its own reason
        (["sponsor", "question", None, "sponsor"], ["sponsor", "question", "sponsor", "sponsor"]),
        # two shaped lines too far apart: the news between them stays
        (
            ["sponsor", None, None, None, None, "sponsor"],
            ["sponsor", None, None, None, None, "sponsor"],
        ),
        ([None, "sponsor", None], [None, "sponsor", None]),  # one line: nothing around it
        ([], []),
    ],
)
def test_a_sponsor_read_is_taken_whole(reasons, expected):
    assert rules.sponsor_reads(reasons, max_gap=3) == expected


def test_the_pitch_of_a_read_between_its_opening_and_its_address_is_left_out(nlp):
    text = (
        "German train drivers walked off the job at two this morning. "
        "Support for the show comes from Northway mattresses. "
        "Sleep on one for a hundred nights. "
        "And if you don't love it, send it back for free. "
        "Go to northway.com slash haul. "
        "The Rhine at Kaub is down to seventy eight centimetres."
    )
    sentences = [rules.features(s) for s in nlp(text).sents]
    reasons = rules.sponsor_reads([rules.rejection(f) for f in sentences], max_gap=3)
    assert [f.text for f, r in zip(sentences, reasons, strict=True) if r is None] == [
        "German train drivers walked off the job at two this morning.",
        "The Rhine at Kaub is down to seventy eight centimetres.",
    ]


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("This is Pocket Change, everyday money for people who count it.", "Pocket Change", True),
        ("It's the run down, I'm Sophie Lane.", "The Rundown", True),  # split by the transcriber
        ("Hi everyone and welcome to Homefront.", "Home Front", True),  # joined
        ("That's all from the long haul this week.", "The Long Haul", True),
        ("Stocks opened higher across the market this morning.", "Market Open", False),
        ("Investors say they are in it for the long run.", "The Long Haul", False),
        ("Pocket money rules changed, and change is slow.", "Pocket Change", False),
        ("This is the news.", None, False),
    ],
)
def test_a_sentence_that_says_the_show_s_name(text, title, expected):
    assert rules.names_show(text, title) is expected
