"""The day's digest: its shape (the contract's JSON, validated) and how it is built from rows.

`Digest`, `Insight` and `Citation` are the one definition of the shape: the JSON files, the
`digest_insights` rows and the renderings (lib/render.py) all come from them. `build_digest` turns
the day's plain warehouse rows into a digest; nothing here touches the warehouse or Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from dagster_project.lib import tuning
from dagster_project.lib.claims import REPORTING, strip_hedges
from dagster_project.lib.ranking import Candidate, Decision, RankingRules, decide, is_repeat

REPORTING_VERB = "argues"
# digest_insights columns that hold a nested value of the digest as JSON text.
JSON_COLUMNS = ("keywords", "support", "citations")


class _Contract(BaseModel):
    # Unknown fields are refused: an internal value (claim ids, centrality) never leaks out.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Contract):
    """One piece of evidence: the show, the episode, the words and the second they were said."""

    podcast: str = Field(min_length=1)  # the feed's name in the feeds file
    podcast_title: str | None = None  # the show's own title (digests before it was kept lack it)
    episode_guid: str = Field(min_length=1)
    episode_title: str
    speaker: str | None = None  # only when the feed's transcript names who spoke
    start_s: float = Field(ge=0)
    end_s: float
    quote: str  # the transcript's own words
    url: str | None = None  # the audio (else the episode page) at the second: ...#t=12

    @field_validator("quote")
    @classmethod
    def _has_words(cls, quote: str) -> str:
        if not quote.strip():
            raise ValueError("a citation quotes something")
        return quote

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.end_s < self.start_s:
            raise ValueError(f"ends at {self.end_s} s, before it starts at {self.start_s} s")
        if self.url is not None and not self.url.endswith(f"#t={int(self.start_s)}"):
            raise ValueError(f"url {self.url!r} does not point at second {int(self.start_s)}")
        return self


class Support(_Contract):
    """How broadly the day discussed an insight's topic."""

    podcasts: int = Field(ge=1)
    episodes: int = Field(ge=1)
    claims: int = Field(ge=1)


class Insight(_Contract):
    """One of the day's top insights: one sentence, and every claim that backs it."""

    rank: int = Field(ge=1)
    headline: str = Field(min_length=1)
    summary: str  # who discussed it, new or recurring
    topic_id: str = Field(min_length=1)  # stable across days
    topic_label: str
    keywords: list[str]
    support: Support
    novelty: Literal["new", "recurring"]
    citations: list[Citation] = Field(min_length=1)
    # The ranking's score: kept in the warehouse for analysts, not part of the published JSON.
    score: float | None = Field(default=None, exclude=True)

    def to_row(self) -> dict[str, Any]:
        """The insight as a `digest_insights` row: nested values as JSON text, and the score."""
        data = self.model_dump(mode="json")
        return {
            **data,
            **{k: json.dumps(data[k]) for k in JSON_COLUMNS},
            "score": self.score,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Insight:
        """An insight from its `digest_insights` row (other columns, partition_date, ignored)."""
        data = {k: row[k] for k in cls.model_fields if k in row}
        for k in JSON_COLUMNS:
            if isinstance(data.get(k), str):
                data[k] = json.loads(data[k])
        return cls.model_validate(data)


class Digest(_Contract):
    """A day's digest: up to top_k insights, ranked 1..n; a day without any says why (`note`).

    Validate with `context={"top_k": k}` to allow a `top_k` other than tuning.TOP_K.
    """

    date: dt.date
    note: str | None = None  # why there are no insights; left out of the JSON when there are
    insights: list[Insight] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ranked(self, info: ValidationInfo) -> Self:
        top_k = (info.context or {}).get("top_k", tuning.TOP_K)
        ranks = [i.rank for i in self.insights]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError(f"insights are ranked {ranks}, not 1..{len(ranks)} in order")
        if len(ranks) > top_k:
            raise ValueError(f"{len(ranks)} insights, more than top_k ({top_k})")
        return self

    @model_serializer(mode="wrap")
    def _without_empty_note(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("note") is None:
            data.pop("note", None)
        return data

    @classmethod
    def of(
        cls, day: dt.date, insights: Sequence[Insight], episodes: int, top_k: int = tuning.TOP_K
    ) -> Digest:
        """The day's digest, validated; without insights, a note that says why (`episodes`:
        how many episodes the day had)."""
        note = None if insights else empty_note(episodes)
        return cls.model_validate(
            {"date": day, "note": note, "insights": list(insights)}, context={"top_k": top_k}
        )

    @classmethod
    def from_rows(
        cls,
        day: dt.date,
        rows: Sequence[Mapping[str, Any]],
        episodes: int,
        top_k: int = tuning.TOP_K,
    ) -> Digest:
        """The digest stored as `digest_insights` rows."""
        insights = [Insight.from_row(r) for r in sorted(rows, key=lambda r: r["rank"])]
        return cls.of(day, insights, episodes, top_k)

    def rows(self) -> list[dict[str, Any]]:
        """The `digest_insights` rows of the day (without partition_date)."""
        return [i.to_row() for i in self.insights]


def problems(
    day: dt.date, rows: Sequence[Mapping[str, Any]], top_k: int = tuning.TOP_K
) -> list[str]:
    """What keeps a day's stored `digest_insights` rows from being delivered (nothing: fine).

    Each insight must be the contract's (named by its rank when it is not), the digest ranked
    1..n with at most `top_k` insights, and no two insights on one topic or with one headline.
    """
    found: list[str] = []
    insights = []
    for row in rows:
        try:
            insights.append(Insight.from_row(row))
        except ValidationError as exc:
            found += [f"insight {row.get('rank')}: {_error(e)}" for e in exc.errors()]
    if found:
        return found
    try:
        Digest.of(day, insights, episodes=0, top_k=top_k)  # the empty day's note is not checked
    except ValidationError as exc:
        return [_error(e) for e in exc.errors()]
    if len({i.topic_id for i in insights}) != len(insights):
        found.append("two insights share a topic")
    if len({i.headline.lower() for i in insights}) != len(insights):
        found.append("two insights share a headline")
    return found


def _error(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def empty_note(episodes: int) -> str:
    """What a digest without insights tells its reader: why there is nothing."""
    if not episodes:
        return "No new episodes were published on this day by the feeds followed."
    plural = "s" if episodes != 1 else ""
    return f"{episodes} new episode{plural} today, but none made a claim worth citing."


def _lower_first(text: str, entities: list[str]) -> str:
    """Lower-case the first word unless it is a name, an acronym or 'I'."""
    first = text.split(" ", 1)[0]
    if not first or first == "I" or first.isupper() or any(e.startswith(first) for e in entities):
        return text
    return first[:1].lower() + text[1:]


def sentence(text: str) -> str:
    text = text.strip()
    return text if re.search(r"[.!?]$", text) else text + "."


def headline(
    text: str, speaker: str | None, entities: list[str], cites_source: bool = False
) -> str:
    """One clear sentence, attributed when the speaker is known: 'Ann Lee argues that ...'.

    A claim that already names its source ("The FDIC says ...") is the source's, not the
    speaker's, and stays as it is.
    """
    body = strip_hedges(text)
    body = body[:1].upper() + body[1:]
    # "Figure says ..." already names its source: the speaker is only reporting it.
    reports_someone = REPORTING.search(" ".join(body.split()[:5]))
    if speaker and not (reports_someone or cites_source):
        return sentence(f"{speaker} {REPORTING_VERB} that {_lower_first(body, entities)}")
    return sentence(body)


def deep_link(url: str | None, start_s: float) -> str | None:
    """The audio (or page) at the second: players seek to a media fragment `#t=`."""
    if not url:
        return None
    return f"{url.split('#', 1)[0]}#t={int(start_s)}"


def summary(podcast_titles: list[str], episodes: int, novelty: str, last: str | None) -> str:
    shows = ", ".join(podcast_titles)
    n = len(podcast_titles)
    who = "one show" if n == 1 else f"{n} shows"
    line = f"Discussed by {who} ({shows}) in {episodes} episode"
    line += "s" if episodes != 1 else ""
    if novelty == "new":
        return line + "; new today."
    return line + f"; recurring, last featured on {last}."


def best_claim(claims: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline: the cleanest of the topic's more central claims.

    Only the more central half competes, so a strong claim that sits at the edge of the theme
    never speaks for it; run-on sentences (a transcriber's missed full stop) lose, and so do
    sentences the transcriber was unsure of: a claim's worth is weighed by its `clarity` (the
    geometric mean of its words' probabilities), so "Electric bills could rise" beats "Electricity
    builds low" when both say the theme. Where a competing claim's clarity is unknown (a
    publisher's transcript, or one stored before clarity was kept) none is weighed by it.
    """
    ranked = sorted(claims, key=lambda c: (-c["centrality"], c["claim_id"]))
    central = ranked[: max(1, (len(ranked) + 1) // 2)]
    weigh_clarity = all(c.get("clarity") is not None for c in central)

    def value(c: dict[str, Any]) -> tuple[float, str]:
        run_on = 0.2 if len(c["text"].split()) > tuning.RUN_ON_WORDS else 0.0
        worth = 0.5 * c["centrality"] + 0.5 * c["score"] - run_on
        return worth * (c["clarity"] if weigh_clarity else 1.0), c["claim_id"]

    return max(central, key=value)


def _featured(earlier: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, list[str]]]:
    """topic id -> (the last day it was featured, every quote it was cited with)."""
    featured: dict[str, tuple[str, list[str]]] = {}
    for r in earlier:
        quotes = [c["quote"] for c in json.loads(r["citations"])]
        before = featured.get(r["topic_id"], ("", []))[1]
        featured[r["topic_id"]] = (r["partition_date"].isoformat(), before + quotes)
    return featured


def _candidate(
    topic_id: str,
    members: list[dict[str, Any]],
    topic: Mapping[str, Any],
    last: tuple[str, list[str]] | None,
) -> Candidate:
    scores = sorted((m["score"] for m in members), reverse=True)[:3]
    # The insight says what the day's claims say: a claim of today that clustered with an
    # earlier day's theme is compared with the day's other insights by its own words, not by
    # that theme's. Topics stored before the day's centroid was kept fall back to the window's.
    return Candidate(
        topic_id=topic_id,
        centroid=np.asarray(json.loads(topic.get("day_centroid") or topic["centroid"])),
        podcasts={m["feed"] for m in members},
        episodes=len({(m["feed"], m["episode_guid"]) for m in members}),
        claims=len(members),
        quality=float(np.mean(scores)),
        coherence=float(np.mean([m["centrality"] for m in members])),
        last_featured=last[0] if last else None,
        novel_podcasts={m["feed"] for m in members if not is_repeat(m["text"], last[1])}
        if last
        else set(),
        evidence={(m["feed"], m["episode_guid"]) for m in members},
    )


def _insight(
    rank: int,
    decision: Decision,
    members: list[dict[str, Any]],
    topic: Mapping[str, Any],
    episodes: Mapping[tuple[str, str], Mapping[str, Any]],
) -> Insight:
    cand = decision.candidate
    best = best_claim(members)
    shows = sorted({episodes[(m["feed"], m["episode_guid"])]["feed_title"] for m in members})
    citations = []
    for m in sorted(members, key=lambda m: (m["feed"], m["episode_guid"], m["start_s"])):
        ep = episodes[(m["feed"], m["episode_guid"])]
        citations.append(
            Citation(
                podcast=m["feed"],
                podcast_title=ep["feed_title"],
                episode_guid=m["episode_guid"],
                episode_title=ep["title"],
                speaker=m["speaker"],
                start_s=m["start_s"],
                end_s=m["end_s"],
                quote=m["text"],
                url=deep_link(ep["audio_url"] or ep.get("link"), m["start_s"]),
            )
        )
    return Insight(
        rank=rank,
        headline=headline(
            best["text"],
            best["speaker"],
            json.loads(best["entities"] or "[]"),
            bool(best["cites_source"]),
        ),
        summary=summary(shows, cand.episodes, cand.novelty, cand.last_featured),
        topic_id=cand.topic_id,
        topic_label=topic["label"],
        keywords=json.loads(topic["keywords"]),
        support=Support(podcasts=len(cand.podcasts), episodes=cand.episodes, claims=cand.claims),
        novelty=cand.novelty,
        citations=citations,
        score=round(decision.score, 4),
    )


def build_digest(
    day: dt.date,
    *,
    episodes: Sequence[Mapping[str, Any]],
    claims: Sequence[Mapping[str, Any]],
    claim_topics: Sequence[Mapping[str, Any]],
    topics: Sequence[Mapping[str, Any]],
    earlier: Sequence[Mapping[str, Any]],
    rules: RankingRules,
) -> tuple[Digest, list[Decision]]:
    """The day's digest from its rows, and every candidate topic's fate.

    `episodes`, `claims`, `claim_topics` and `topics` are the day's rows of those tables;
    `earlier` the `digest_insights` rows of the days novelty looks back on, oldest first.
    """
    by_episode = {(e["feed"], e["guid"]): e for e in episodes}
    claim_rows = {c["claim_id"]: c for c in claims}
    by_topic: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in claim_topics:
        claim = claim_rows.get(a["claim_id"])
        if claim and (claim["feed"], claim["episode_guid"]) in by_episode:
            by_topic[a["topic_id"]].append({**claim, **a})
    featured = _featured(earlier)
    topic_rows = {t["topic_id"]: t for t in topics}
    candidates = [
        _candidate(tid, members, topic_rows[tid], featured.get(tid))
        for tid, members in by_topic.items()
    ]
    decisions = decide(candidates, rules)
    insights = [
        _insight(
            d.rank, d, by_topic[d.candidate.topic_id], topic_rows[d.candidate.topic_id], by_episode
        )
        for d in decisions
        if d.rank is not None
    ]
    return Digest.of(day, insights, len(episodes), rules.top_k), decisions
