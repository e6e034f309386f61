"""topics: claims of a trailing window clustered into themes with ids that last across days."""

import json
from datetime import timedelta

import dagster as dg
import numpy as np

from dagster_project.assets.claims import claims
from dagster_project.assets.common import (
    daily_asset,
    daily_check,
    finish,
    inputs_key,
    partition_day,
    previous_day,
    unchanged,
)
from dagster_project.lib import topics as tl
from dagster_project.lib import tuning
from dagster_project.lib.content_key import source_version
from dagster_project.resources.models import TopicModeler
from dagster_project.resources.warehouse import Warehouse


class TopicsConfig(dg.Config):
    window_days: int = tuning.TOPIC_WINDOW_DAYS  # the day and the days before it
    id_lookback_days: int = tuning.TOPIC_ID_LOOKBACK_DAYS  # how far back a theme keeps its id


@daily_asset(
    group_name="analysis",
    deps=[claims, previous_day("topics")],
    kinds={"python"},
)
def topics(
    context: dg.AssetExecutionContext,
    config: TopicsConfig,
    topic_model: TopicModeler,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """The themes the day's claims belong to: keywords, label and support across shows."""
    day = partition_day(context)
    start = day - timedelta(days=config.window_days - 1)  # the window's first day
    key = inputs_key(
        context,
        warehouse,
        [
            ("claims", start, day),
            # the feed's words about each episode (title, description), read with its claims
            ("episodes", start, day),
            # the earlier topics whose ids today's themes may take
            ("topics", day - timedelta(days=config.id_lookback_days), day - timedelta(days=1)),
        ],
        config.model_dump(),
        topic_model.model_dump(),
        source_version("dagster_project.resources.models"),
    )
    if done := unchanged(context, warehouse, ["topics", "claim_topics"], key):
        return done
    window = warehouse.rows(
        "claims",
        start,
        day,
        order_by="partition_date, feed, episode_guid, start_s, claim_id",
    )
    today = [i for i, c in enumerate(window) if c["partition_date"] == day]
    embeddings = topic_model.embed([c["text"] for c in window])
    repeats = tl.show_repeats(
        [c["feed"] for c in window], [c["episode_guid"] for c in window], embeddings
    )
    keep = np.flatnonzero(~repeats)
    notes = {
        (e["feed"], e["guid"]): tl.note_phrases(e.get("title"), e.get("description"))
        for e in warehouse.rows("episodes", start, day)
    }
    labels = np.full(len(window), tl.OUTLIER)
    keywords: dict[int, list[str]] = {}
    if len(keep):
        kept_labels, keywords = topic_model.cluster(
            [window[i]["text"] for i in keep],
            _read_with_notes([window[i] for i in keep], embeddings[keep], notes, topic_model),
        )
        labels[keep] = kept_labels
    # Claims of the day that no theme took: those said one after another in an episode about
    # one thing are a topic of their own (a stretch of the show); any other still stands, as a
    # topic of one. A sparse day keeps its candidates; ranking puts several shows' themes first.
    lone = np.zeros(len(window), dtype=bool)
    lone[today] = True
    lone &= (labels == tl.OUTLIER) & ~repeats
    labels = tl.stretches(
        [f"{c['feed']}\x1f{c['episode_guid']}" for c in window], labels, embeddings, lone
    )
    singles = np.flatnonzero(lone & (labels == tl.OUTLIER))
    labels[singles] = int(labels.max(initial=tl.OUTLIER)) + 1 + np.arange(len(singles))
    for t in set(labels[lone].tolist()):
        keywords[t] = tl.plain_keywords(
            " ".join(window[i]["text"] for i in np.flatnonzero(labels == t))
        )
    centroids = tl.centroids(labels, embeddings)
    members = {t: [window[i]["claim_id"] for i in np.flatnonzero(labels == t)] for t in centroids}
    previous = {}
    for r in warehouse.rows(
        "topics",
        day - timedelta(days=config.id_lookback_days),
        day - timedelta(days=1),
        order_by="partition_date",
    ):
        previous[r["topic_id"]] = np.asarray(json.loads(r["centroid"]), dtype=np.float32)
    ids = tl.stable_ids(centroids, members, previous)
    # What each topic says today: the centre of its claims of the day alone.
    of_today = np.full(len(window), tl.OUTLIER)
    of_today[today] = labels[today]
    day_centroids = tl.centroids(of_today, embeddings)

    topic_rows, assignment_rows = [], []
    for t, centroid in centroids.items():
        todays = [i for i in today if labels[i] == t]
        if not todays:
            continue
        for i in todays:
            assignment_rows.append(
                {
                    "claim_id": window[i]["claim_id"],
                    "topic_id": ids[t],
                    "centrality": round(float(embeddings[i] @ centroid), 4),
                }
            )
        kws = keywords.get(t, [])
        topic_rows.append(
            {
                "topic_id": ids[t],
                "label": tl.label_from_keywords(kws) or ids[t],
                "keywords": json.dumps(kws),
                "claims": len(todays),
                "episodes": len({(window[i]["feed"], window[i]["episode_guid"]) for i in todays}),
                "podcasts": len({window[i]["feed"] for i in todays}),
                "window_claims": len(members[t]),
                "centroid": _vector(centroid),
                "day_centroid": _vector(day_centroids[t]),
            }
        )
    topic_rows.sort(key=lambda r: (-r["podcasts"], -r["claims"], r["topic_id"]))
    warehouse.replace_partition("topics", day, topic_rows, inputs_key=key)
    warehouse.replace_partition("claim_topics", day, assignment_rows, inputs_key=key)
    preview = [
        {k: r[k] for k in ("topic_id", "label", "podcasts", "episodes", "claims")}
        for r in topic_rows[:15]
    ]
    return finish(
        context,
        {
            "window_claims": len(window),
            "day_claims": len(today),
            "show_repeats_left_out": int(repeats.sum()),
            "topics_today": len(topic_rows),
            "multi_show_topics": sum(1 for r in topic_rows if r["podcasts"] >= 2),
            "top_topics": dg.MetadataValue.md(_table(preview)),
        },
    )


def _read_with_notes(
    claims: list[dict],
    embeddings: np.ndarray,
    notes: dict[tuple[str, str], list[str]],
    topic_model: TopicModeler,
) -> np.ndarray:
    """The claims' embeddings to cluster: each with its episode's closest note (lib/topics.py
    with_notes)."""
    phrases = sorted({p for c in claims for p in notes.get((c["feed"], c["episode_guid"]), [])})
    vectors = dict(zip(phrases, topic_model.embed(phrases), strict=True))
    per_claim = [
        np.asarray([vectors[p] for p in notes.get((c["feed"], c["episode_guid"]), [])])
        for c in claims
    ]
    return tl.with_notes(embeddings, per_claim).astype(np.float32)


def _vector(v: np.ndarray) -> str:
    """A unit embedding as stored: a JSON list, five decimals."""
    return json.dumps([round(float(x), 5) for x in v])


def _table(rows: list[dict]) -> str:
    if not rows:
        return "(no topics)"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines)


@daily_check(asset=topics)
def topics_unique_ids(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """A topic id appears once per day and every claim of the day has at most one topic."""
    day = partition_day(context)
    dupes = warehouse.query(
        "SELECT topic_id, COUNT(*) AS n FROM topics WHERE partition_date = ? "
        "GROUP BY topic_id HAVING COUNT(*) > 1",
        [day],
    )
    multi = warehouse.query(
        "SELECT claim_id, COUNT(*) AS n FROM claim_topics WHERE partition_date = ? "
        "GROUP BY claim_id HAVING COUNT(*) > 1",
        [day],
    )
    return dg.AssetCheckResult(
        passed=not dupes and not multi,
        metadata={"duplicate_topic_ids": len(dupes), "claims_in_two_topics": len(multi)},
    )
