"""claims: transcript sentences that assert something, with their seconds and speaker."""

import json
from collections import Counter, defaultdict

import dagster as dg

from dagster_project.assets.audio import transcripts
from dagster_project.assets.common import DAILY, daily_asset, finish, partition_day
from dagster_project.lib import claims as rules
from dagster_project.lib.timing import join_segments
from dagster_project.lib.transcript_formats import Segment
from dagster_project.resources.models import Nlp
from dagster_project.resources.warehouse import Warehouse


def _segments(rows: list[dict]) -> list[Segment]:
    return [
        Segment(
            start_s=r["start_s"],
            end_s=r["end_s"],
            text=r["text"],
            speaker=r["speaker"],
            words=[tuple(w) for w in json.loads(r["words"])] if r["words"] else None,
        )
        for r in sorted(rows, key=lambda r: r["segment_index"])
    ]


@daily_asset(
    group_name="analysis",
    deps=[transcripts],
    kinds={"python"},
)
def claims(
    context: dg.AssetExecutionContext, nlp: Nlp, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Sentences scored as claims; questions, banter, show frames and sponsor reads left out."""
    day = partition_day(context)
    by_episode: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in warehouse.rows("transcript_segments", day):
        by_episode[(r["feed"], r["episode_guid"])].append(r)
    persons = {}
    for e in warehouse.rows("episodes", day):
        text = f"{e['author'] or ''}. {e['title']}. {e['description'] or ''}"
        named = sorted({ent.text for ent in nlp.parse(text).ents if ent.label_ == "PERSON"})
        persons[(e["feed"], e["guid"])] = rules.episode_people(
            json.loads(e["persons"] or "[]"), e["author"], named
        )
    rows, rejected, sentences = [], Counter(), 0
    for (feed, guid), seg_rows in sorted(by_episode.items()):
        timed = join_segments(_segments(seg_rows))
        for offset, sent in (
            (offset, sent) for offset, doc in nlp.parse_long(timed.text) for sent in doc.sents
        ):
            sentences += 1
            f = rules.features(sent)
            reason = rules.rejection(f)
            claim_score = rules.score(f) if reason is None else 0.0
            if reason is None and claim_score < rules.MIN_SCORE:
                reason = "low score"
            if reason:
                rejected[reason] += 1
                continue
            start_s, end_s = timed.span_times(offset + sent.start_char, offset + sent.end_char)
            text = rules.clean_text(f.text)
            rows.append(
                {
                    "claim_id": rules.claim_id(feed, guid, start_s, f.text),
                    "feed": feed,
                    "episode_guid": guid,
                    "start_s": start_s,
                    "end_s": end_s,
                    "text": text,
                    "score": claim_score,
                    "speaker": rules.attribute(
                        timed.speaker_at(offset + sent.start_char), persons.get((feed, guid), [])
                    ),
                    "raw_text": f.text,
                    "entities": json.dumps(sorted(set(f.entities))),
                    "cites_source": f.cites_source,
                }
            )
    warehouse.replace_partition("claims", day, rows)
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


@dg.asset_check(asset=claims, partitions_def=DAILY)
def claims_valid(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """great-expectations suite: unique ids, text, score in 0..1, ordered times."""
    from dagster_project.lib.expectations import validate_claims

    result = validate_claims(warehouse.rows("claims", partition_day(context)))
    return dg.AssetCheckResult(passed=result["success"], metadata=result["metadata"])


@dg.asset_check(asset=claims, partitions_def=DAILY)
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
