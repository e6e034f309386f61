"""Claims: which transcript sentences assert something worth reporting, and how strongly.

Works on spaCy spans (duck-typed: .text, tokens with .pos_/.dep_/.tag_/.like_num, .ents), so the
rules are testable on any parsed sentence; the model itself is loaded by the Nlp resource.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dagster_project.lib.tuning import MIN_TOKENS

# The shape of a sponsor read: where to go and what code to use. Words alone ("discount",
# "percent off") are news as often as ads, so they do not count.
SPONSOR = re.compile(
    r"brought to you\b|sponsored by|(is|are) (supported|sponsored|presented) by|"
    r"support for [\w' ]{1,40} comes from|"
    r"promo code|use (the )?code|\bdot com\b|\bwww\.|https?://|\b\w+\.(com|io|net|org|fm)\b|"
    r"\bslash [a-z]+\b",
    re.IGNORECASE,
)
SELF_INTRO = re.compile(r"\bI(?:'m| am) [A-Z][a-z]+\b")  # "I'm Dana Reyes": the show, not news
FILLER_WORDS = {
    "yeah", "right", "okay", "ok", "mm", "hmm", "mm-hmm", "uh", "um", "huh", "sure", "yes",
    "no", "exactly", "totally", "absolutely", "wow", "oh", "ha", "so", "well", "like", "true",
}  # fmt: skip
CAUSAL = re.compile(
    r"\b(because|therefore|thus|hence|as a result|leads? to|led to|due to|so that|which means|"
    r"causes?|caused|drives?|driving|driven by|results? in|in order to|that'?s why|since)\b",
    re.IGNORECASE,
)
REPORTING = re.compile(
    r"\b(says?|said|argues?|argued|posits?|claims?|claimed|reports?|reported|according to|"
    r"estimates?|estimated|found|shows?|showed|predicts?|warns?|warned|expects?|data)\b",
    re.IGNORECASE,
)
COMPARATIVE = re.compile(
    r"\b(more|less|fewer|than|most|least|cheaper|faster|bigger|larger|smaller|higher|lower|"
    r"doubled?|tripled?|half|twice|outpace\w*|overtak\w*|surpass\w*)\b",
    re.IGNORECASE,
)
QUESTION_START = re.compile(
    r"^(what|why|how|who|whom|which|when|where)('s|\s+(is|are|was|were|do|does|did|can|could|"
    r"would|should|will|has|have)\b)|"
    r"^(do|does|did|is|are|was|were|can|could|would|should|will|have|has|shall|isn'?t|aren'?t|"
    r"don'?t|doesn'?t)\s+(you|we|they|it|that|this|there|he|she)\b",
    re.IGNORECASE,
)
HEDGE_START = re.compile(
    r"^(and|but|so|well|look|honestly|frankly|basically|i mean|you know|okay|right|yeah|now)"
    r"[, ]+|^(i (really |honestly )?(think|believe|would argue|'d argue|'d say|would say|"
    r"suspect|guess|feel)( that)?|my (view|take|point) is( that)?|the point is( that)?)[, ]+",
    re.IGNORECASE,
)
# Quotes are the transcript's own words: cleaning may drop whole filler tokens and stutters,
# never change or cut a word (a transcriber's "S-Shoppers" stays as heard).
FILLER_TOKEN = re.compile(r"u+h+|u+m+|uhm+|e+r+m*|a+h+|h+m+|m+-?h*m+", re.IGNORECASE)
FILLER_PHRASES = (("you", "know"), ("i", "mean"), ("kind", "of"), ("sort", "of"))  # set off by ","
STUTTER_OK = {"that", "had"}  # "that that", "had had" are grammar, not a stutter
CONTENT_POS = {"NOUN", "PROPN", "NUM", "ADJ", "VERB"}
GOOD_ENTS = {
    "PERSON", "ORG", "GPE", "NORP", "LOC", "PRODUCT", "EVENT", "LAW", "MONEY", "PERCENT",
    "QUANTITY", "CARDINAL", "FAC", "WORK_OF_ART",
}  # fmt: skip


@dataclass
class SentenceFeatures:
    text: str
    n_tokens: int
    has_subject: bool
    has_verb: bool
    content_ratio: float
    entities: list[str] = field(default_factory=list)  # entity texts
    entity_labels: list[str] = field(default_factory=list)
    has_number: bool = False
    cites_source: bool = False  # the main verb reports someone else: "The FDIC says ..."
    addressed: bool = False  # spoken to someone on the show by name: "Priya, you follow ..."


def features(span) -> SentenceFeatures:
    """What the rules need from a parsed sentence (a spaCy Span)."""
    tokens = [t for t in span if not t.is_space]
    words = [t for t in tokens if not t.is_punct]
    ents = [e for e in span.ents if e.label_ in GOOD_ENTS]
    words_ = [t for t in span if not (t.is_space or t.is_punct)]
    # A sentence that opens with a proper noun keeps its capital when quoted after "argues that".
    lead = [words_[0].text] if words_ and words_[0].pos_ == "PROPN" else []
    return SentenceFeatures(
        text=span.text.strip(),
        n_tokens=len(words),
        has_subject=any(t.dep_ in ("nsubj", "nsubjpass", "expl", "csubj") for t in tokens),
        has_verb=any(t.pos_ in ("VERB", "AUX") for t in tokens),
        content_ratio=(
            sum(1 for t in words if t.pos_ in CONTENT_POS and not t.is_stop) / max(1, len(words))
        ),
        entities=[e.text for e in ents] + lead,
        entity_labels=[e.label_ for e in ents],
        has_number=any(t.like_num for t in tokens),
        cites_source=_cites_source(span),
        addressed=_addressed(tokens),
    )


REPORTING_LEMMAS = {
    "say", "report", "argue", "claim", "estimate", "expect", "find", "show", "predict", "warn",
    "posit", "forecast", "project", "announce", "believe", "think",
}  # fmt: skip


def _addressed(tokens: list) -> bool:
    """True when the sentence opens by turning to someone on the show: a name set off by a
    comma, then "you" ("Priya, you follow the coffee trade, ..."; "Okay Sam, you're ...").
    A report names people in the third person; only a host hands over like this."""
    for i in range(min(3, len(tokens) - 2)):
        name, comma, you = tokens[i : i + 3]
        if name.pos_ == "PROPN" and comma.text == "," and you.lower_ == "you":
            return all(t.pos_ in ("INTJ", "ADV", "CCONJ", "PUNCT") for t in tokens[:i])
    return False


def _cites_source(span) -> bool:
    """True when the sentence's main verb reports what a named third party says."""
    root = span.root
    if root.lemma_.lower() not in REPORTING_LEMMAS:
        return False
    subjects = [t for t in root.children if t.dep_ in ("nsubj", "nsubjpass")]
    return any(t.pos_ in ("PROPN", "NOUN") for t in subjects)


def _opening_stripped(text: str) -> str:
    """The sentence without its spoken openings ("So, and what ..." -> "what ..."): a question
    a transcriber heard without its question mark often starts after one."""
    for _ in range(3):
        opening = HEDGE_START.match(text)
        if opening is None:
            break
        text = text[opening.end() :]
    return text


def rejection(f: SentenceFeatures) -> str | None:
    """Why a sentence's structure rules it out as a claim, or None.

    Only shape counts here (filler words alone, a question, a hand-over to someone on the show
    by name, a sponsor read's call to action, a self-introduction, no subject or verb, almost
    no content words); whether the rest is a claim or show talk is the classifier's call, on
    the whole sentence.
    """
    text = f.text.strip()
    words = re.findall(r"[a-z'-]+", text.lower())
    if words and all(w in FILLER_WORDS for w in words):
        return "filler"
    if text.endswith("?") or QUESTION_START.match(_opening_stripped(text)):
        return "question"
    if f.addressed:
        return "hand-over"
    if SPONSOR.search(text):
        return "sponsor"
    if SELF_INTRO.search(text):
        return "self-introduction"
    # A transcriber's misheard word often takes the verb or the subject with it ("Coffee futures
    # in New York, it a record of four dollars"): one of the two is enough; neither is a fragment.
    if f.n_tokens < MIN_TOKENS or not (f.has_subject or f.has_verb):
        return "fragment"
    if f.content_ratio < 0.25:
        return "no content"
    return None


def names_show(text: str, title: str | None) -> bool:
    """True when the sentence says the show's own name ("This is Pocket Change", "That's all
    from Home Front"): the show framing itself. Words are compared without case or punctuation,
    and a name the transcriber split or joined ("the run down", "Homefront") still counts; a
    leading "The" of the title is optional."""
    name = re.findall(r"[a-z0-9]+", (title or "").lower())
    if name and name[0] == "the" and len(name) > 1:
        name = name[1:]
    joined = "".join(name)
    if not joined:
        return False
    said = re.findall(r"[a-z0-9]+", text.lower())
    for i in range(len(said)):
        run = ""
        for word in said[i : i + len(name) + 2]:
            run += word
            if run == joined:
                return True
            if not joined.startswith(run):
                break
    return False


def sponsor_reads(reasons: Sequence[str | None], max_gap: int) -> list[str | None]:
    """The episode's rejection reasons with each sponsor read taken whole: the sentences between
    two sponsor-shaped ones at most `max_gap` sentences apart are the read's pitch ("Support for
    the show comes from Northway. Sleep on one for a hundred nights. Go to northway.com.")."""
    out = list(reasons)
    marks = [i for i, reason in enumerate(reasons) if reason == "sponsor"]
    for a, b in itertools.pairwise(marks):
        if b - a - 1 <= max_gap:
            out[a + 1 : b] = [reason or "sponsor" for reason in out[a + 1 : b]]
    return out


def score(f: SentenceFeatures) -> float:
    """How claim-like an accepted sentence is, 0..1: substance and specificity."""
    s = 0.3 if (f.has_subject and f.has_verb) else 0.0
    s += min(0.3, 0.12 * len(set(f.entity_labels)) + 0.04 * len(f.entities))
    s += 0.12 if f.has_number else 0.0
    s += 0.08 if COMPARATIVE.search(f.text) else 0.0
    s += 0.1 if CAUSAL.search(f.text) else 0.0
    s += 0.05 if REPORTING.search(f.text) else 0.0
    s += 0.15 * min(1.0, f.content_ratio / 0.5)
    if f.n_tokens > 45:
        s -= 0.1
    if re.match(r"^(i|we|my|our)\b", f.text, re.IGNORECASE) and not f.entities:
        s -= 0.1
    return round(max(0.0, min(1.0, s)), 3)


def _bare(token: str) -> str:
    return re.sub(r"[^\w'-]", "", token).lower()


def clean_text(text: str) -> str:
    """The sentence as a reader sees it, in the speaker's words: "uh"/"um", comma-set fillers
    ("you know", "I mean") and stuttered words left out; nothing else changes but one capital."""
    tokens = text.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        dropped = 0
        if FILLER_TOKEN.fullmatch(_bare(token)):
            dropped = 1
        else:
            for phrase in FILLER_PHRASES:
                span = tokens[i : i + len(phrase)]
                if (
                    tuple(_bare(t) for t in span) == phrase
                    and span[-1].endswith(",")
                    and (not out or out[-1].endswith(","))
                ):
                    dropped = len(phrase)
                    break
        if dropped:
            last = tokens[i + dropped - 1]
            tail = last[len(last.rstrip(".!?;:,")) :]
            if out and tail and tail[-1] in ".!?;:":
                out[-1] = out[-1].rstrip(",") + tail.lstrip(",")
            elif out and tail.startswith(",") and out[-1].endswith(","):
                out[-1] = out[-1].rstrip(",")
            i += dropped
            continue
        word = _bare(token)
        stutter = out and out[-1] == out[-1].rstrip(".,!?;:") and _bare(out[-1]) == word
        if stutter and (
            word not in STUTTER_OK or (i + 1 < len(tokens) and _bare(tokens[i + 1]) == word)
        ):
            i += 1
            continue
        out.append(token)
        i += 1
    cleaned = " ".join(out).strip(" ,")
    return cleaned[:1].upper() + cleaned[1:] if cleaned else cleaned


def spoken_words(text: str) -> list[str]:
    """A text's words as compared for quoting: lower case, without punctuation, fillers or
    stutters. A quote is verbatim when its spoken words run unbroken in the transcript's."""
    bare = (re.sub(r"^[^\w]+|[^\w]+$", "", _bare(t)) for t in text.split())
    words = [w for w in bare if w and not FILLER_TOKEN.fullmatch(w)]
    out: list[str] = []
    for w in words:
        if not (out and out[-1] == w):
            out.append(w)
    joined = " " + " ".join(out) + " "
    for phrase in FILLER_PHRASES:
        joined = joined.replace(" " + " ".join(phrase) + " ", " ")
    return joined.split()


def is_verbatim(quote: str, transcript: str) -> bool:
    """True when the quote is the transcript's own words (fillers and stutters aside)."""
    return f" {' '.join(spoken_words(quote))} " in f" {' '.join(spoken_words(transcript))} "


def strip_hedges(text: str) -> str:
    """'So I think China is ...' -> 'China is ...' (for attributed headlines)."""
    prev = None
    out = text.strip()
    while prev != out:
        prev = out
        out = HEDGE_START.sub("", out, count=1).strip()
    return out


def claim_id(feed: str, guid: str, start_s: float, text: str) -> str:
    key = f"{feed}\x1f{guid}\x1f{start_s:.2f}\x1f{text}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def attribute(transcript_speaker: str | None, persons: list[dict]) -> str | None:
    """The named person who said a sentence, only where the feed supports it.

    A published transcript's speaker label is evidence. Episode metadata alone is not: a feed
    that names one host says nothing about who spoke a sentence (a co-host, a guest, a clip),
    so without a label nobody is named. A wrong name is worse than none.
    """
    if not transcript_speaker:
        return None
    label = transcript_speaker.strip()
    for name in (p["name"] for p in persons if p.get("name")):
        if name.lower() == label.lower():
            return name
    role_match = [p["name"] for p in persons if p.get("role", "").lower() == label.lower()]
    if len(role_match) == 1:
        return role_match[0]
    if len(label.split()) >= 2 and label[0].isupper():
        return label
    return None


def episode_people(persons: list[dict], author: str | None, named_in_text: list[str]) -> list[dict]:
    """Who is on an episode, from its metadata, most explicit source first.

    `podcast:person` tags win. Without them, an `itunes:author` that NER reads as a person is
    the host; only then are people named in the title or description taken as guests (a
    description also names people who are only talked about, so it never stands alone).
    """
    if persons:
        return persons
    if not author or author not in named_in_text:
        return []
    people = [{"name": author, "role": "host"}]
    for name in named_in_text:
        if len(name.split()) >= 2 and name != author:
            people.append({"name": name, "role": "guest"})
    return people
