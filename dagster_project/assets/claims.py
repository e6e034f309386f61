"""claims: transcript sentences that assert something, with their seconds and speaker."""

import json
import os
import re
from collections import Counter, defaultdict
from datetime import date, timedelta

import dagster as dg
import numpy as np

from dagster_project.assets.common import (
    daily_asset,
    daily_check,
    finish,
    inputs_key,
    partition_day,
    unchanged,
    validated,
)
from dagster_project.assets.voices import episode_persons, voices
from dagster_project.lib import claims as rules
from dagster_project.lib.claim_classifier import (
    ClaimClassifier,
    examples_key,
    load_examples,
    with_prior,
)
from dagster_project.lib.content_key import source_version
from dagster_project.lib.segments import Segment
from dagster_project.lib.timed_text import join_segments
from dagster_project.lib.topics import show_repeats
from dagster_project.lib.tuning import (
    BODY_CLAIM_SHARE,
    CLAIM_PROBABILITY,
    EDGE_CLAIM_SHARE,
    EDGE_SENTENCES,
    SHOW_REPEAT_SIMILARITY,
    SHOW_REPEAT_WINDOW_DAYS,
    SPONSOR_READ_GAP,
)
from dagster_project.lib.voices import sentence_voice
from dagster_project.resources.models import Nlp, TopicModeler
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse


def claim_classifier(data_home: DataHome, topic_model: TopicModeler) -> ClaimClassifier:
    """The classifier, fitted on the labelled examples; their embeddings cached on disk."""
    model = re.sub(r"[^A-Za-z0-9_.-]+", "_", topic_model.embedding_model or "packaged-minilm")
    key = f"{examples_key()}.{model}"
    cache = data_home.path("models", f"claim_examples.{key}.npy")
    texts, labels = load_examples()
    if cache.exists():
        embeddings = np.load(cache)
    else:
        embeddings = topic_model.embed(texts)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            np.save(out, embeddings)
        tmp.replace(cache)
    return ClaimClassifier.fit(embeddings, labels)


def _show_repeats(
    warehouse: Warehouse,
    day: date,
    candidates: list[dict],
    embeddings: np.ndarray,
    topic_model: TopicModeler,
) -> np.ndarray:
    """True for sentences a show says in more than one episode (its tagline, its intro, its ad):
    the show talking about itself, whatever the words. Compared with the show's other episodes
    today and the claims it made in the week before."""
    feeds = sorted({c["feed"] for c in candidates})
    earlier = [
        r
        for r in warehouse.rows("claims", day - timedelta(days=SHOW_REPEAT_WINDOW_DAYS), day)
        if r["partition_date"] != day and r["feed"] in feeds
    ]
    vectors = embeddings
    if earlier:
        vectors = np.vstack([embeddings, topic_model.embed([r["text"] for r in earlier])])
    mask = show_repeats(
        [c["feed"] for c in candidates] + [r["feed"] for r in earlier],
        [c["episode_guid"] for c in candidates] + [r["episode_guid"] for r in earlier],
        vectors,
        threshold=SHOW_REPEAT_SIMILARITY,
    )
    return mask[: len(candidates)]


@daily_asset(
    group_name="analysis",
    deps=[voices],
    kinds={"python"},
)
def claims(
    context: dg.AssetExecutionContext,
    nlp: Nlp,
    topic_model: TopicModeler,
    data_home: DataHome,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """Sentences that assert something, scored; questions, show talk and sponsor reads left out.

    Structure rules out what cannot be a claim (questions, fragments, filler, the shape of a
    sponsor read, a self-introduction); a classifier on sentence embeddings tells show talk
    (banter, thanks, intros, outros) from claims by what the sentence says as a whole.
    """
    day = partition_day(context)
    key = inputs_key(
        context,
        warehouse,
        [
            ("episodes", day, day),
            ("transcript_segments", day, day),
            ("segment_voices", day, day),
            # the show's earlier claims, against which its repeated lines are found
            ("claims", day - timedelta(days=SHOW_REPEAT_WINDOW_DAYS), day - timedelta(days=1)),
        ],
        nlp.model_dump(),
        # Claims use the topic model for its embeddings alone: its clustering settings (the
        # seed, the knobs) leave them as they are, and changing those reruns the topics only.
        {"embedding_model": topic_model.embedding_model},
        examples_key(),
        source_version("dagster_project.resources.models"),
    )
    if done := unchanged(context, warehouse, ["claims"], key):
        return done
    by_episode: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in warehouse.rows("transcript_segments", day):
        by_episode[(r["feed"], r["episode_guid"])].append(r)
    episodes = warehouse.rows("episodes", day)
    persons = {(e["feed"], e["guid"]): episode_persons(nlp, e) for e in episodes}
    titles = {(e["feed"], e["guid"]): e.get("feed_title") for e in episodes}
    voiced = {
        (r["feed"], r["episode_guid"], r["segment_index"]): r
        for r in warehouse.rows("segment_voices", day)
    }
    candidates, rejected, sentences = [], Counter(), 0
    for (feed, guid), seg_rows in sorted(by_episode.items()):
        ordered = sorted(seg_rows, key=lambda r: r["segment_index"])
        timed = join_segments([Segment.from_row(r) for r in ordered])
        parsed = [
            (offset, sent) for offset, doc in nlp.parse_long(timed.text) for sent in doc.sents
        ]
        features = [rules.features(sent) for _, sent in parsed]
        reasons = rules.sponsor_reads([rules.rejection(f) for f in features], SPONSOR_READ_GAP)
        title = titles.get((feed, guid))
        # A show that opens without saying its name opens on the news: its first sentences
        # are as likely claims as the body's (see EDGE_SENTENCES).
        framed = any(rules.names_show(f.text, title) for f in features[:EDGE_SENTENCES])
        for position, ((offset, sent), f, reason) in enumerate(
            zip(parsed, features, reasons, strict=True)
        ):
            sentences += 1
            opening = framed and position < EDGE_SENTENCES
            edge = opening or position >= len(parsed) - EDGE_SENTENCES
            # The opening or closing naming the show is the show framing itself.
            if not reason and edge and rules.names_show(f.text, title):
                reason = "show frame"
            if reason:
                rejected[reason] += 1
                continue
            start_s, end_s = timed.span_times(offset + sent.start_char, offset + sent.end_char)
            first, last = timed.segments_of(offset + sent.start_char, offset + sent.end_char)
            # A named voice names the sentence only when it spoke all of it, surely.
            voice, named = sentence_voice(
                [
                    voiced.get((feed, guid, ordered[i]["segment_index"]), {})
                    for i in range(first, last + 1)
                ]
            )
            candidates.append(
                {
                    "claim_id": rules.claim_id(feed, guid, start_s, f.text),
                    "feed": feed,
                    "episode_guid": guid,
                    "start_s": start_s,
                    "end_s": end_s,
                    "text": rules.clean_text(f.text),
                    "score": rules.score(f),
                    "speaker": rules.attribute(
                        timed.speaker_at(offset + sent.start_char), persons.get((feed, guid), [])
                    )
                    or named,
                    "voice": voice,
                    "raw_text": f.text,
                    "entities": json.dumps(sorted(set(f.entities))),
                    "cites_source": f.cites_source,
                    "clarity": timed.clarity(offset + sent.start_char, offset + sent.end_char),
                    "prior": EDGE_CLAIM_SHARE if edge else BODY_CLAIM_SHARE,
                }
            )
    rows = []
    if candidates:
        classifier = claim_classifier(data_home, topic_model)
        embeddings = topic_model.embed([c["text"] for c in candidates])
        p_claim = with_prior(classifier.probability(embeddings), [c["prior"] for c in candidates])
        repeated = _show_repeats(warehouse, day, candidates, embeddings, topic_model)
        for c, p, again in zip(candidates, p_claim, repeated, strict=True):
            if again:
                rejected["show repeat"] += 1
                continue
            if p < CLAIM_PROBABILITY:
                rejected["show talk"] += 1
                continue
            # Quality orders claims: how specific the sentence is, and how surely a claim.
            rows.append({**c, "score": round(0.5 * c["score"] + 0.5 * float(p), 3)})
            del rows[-1]["prior"]
    warehouse.replace_partition("claims", day, rows, inputs_key=key)
    context.log.info(f"sentences left out, by reason: {dict(rejected)}")
    return finish(
        context,
        {
            "sentences": sentences,
            "claims": len(rows),
            "left_out": dg.MetadataValue.json(dict(rejected)),
            "attributed": sum(1 for r in rows if r["speaker"]),
        },
    )


@daily_check(asset=claims)
def claims_valid(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, data_home: DataHome):
    """great-expectations suite: unique ids, text, score in 0..1, ordered times."""
    from dagster_project.lib.expectations import validate_claims

    rows = warehouse.rows("claims", partition_day(context))
    result = validated(data_home, "claims", rows, validate_claims)
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])


@daily_check(asset=claims)
def claims_within_episode(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """Every claim's seconds lie inside its episode's transcript."""
    bad = warehouse.query(
        "SELECT c.claim_id, c.feed, c.episode_guid, c.start_s, c.end_s FROM claims c "
        "JOIN (SELECT feed, episode_guid, MIN(start_s) AS lo, MAX(end_s) AS hi "
        "      FROM transcript_segments WHERE partition_date = ? GROUP BY feed, episode_guid) t "
        "ON c.feed = t.feed AND c.episode_guid = t.episode_guid "
        "WHERE c.partition_date = ? AND (c.start_s < t.lo - 1 OR c.end_s > t.hi + 1)",
        [partition_day(context), partition_day(context)],
    )
    return dg.AssetCheckResult(
        passed=not bad, metadata={"outside": len(bad), "examples": dg.MetadataValue.json(bad[:10])}
    )
