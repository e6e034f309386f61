"""daily_digest and digest_delivery: the top five insights, then files, email and RSS."""

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import numpy as np

from dagster_project.assets.common import (
    DAILY,
    Failures,
    daily_asset,
    finish,
    partition_day,
    previous_day,
)
from dagster_project.assets.topics import topics
from dagster_project.lib import digest as render
from dagster_project.lib import tuning
from dagster_project.lib.ranking import Candidate, Decision, RankingRules, decide, is_repeat
from dagster_project.lib.store import write_atomic
from dagster_project.resources.mailer import Mailer, MailError
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse


class DigestConfig(dg.Config):
    top_k: int = tuning.TOP_K
    min_podcasts: int = tuning.MIN_PODCASTS
    novelty_lookback_days: int = tuning.NOVELTY_LOOKBACK_DAYS


def _best_claim(claims: list[dict]) -> dict:
    """The headline: the cleanest of the topic's more central claims.

    Only the more central half competes, so a strong claim that sits at the edge of the theme
    never speaks for it; run-on sentences (a transcriber's missed full stop) lose.
    """
    ranked = sorted(claims, key=lambda c: (-c["centrality"], c["claim_id"]))
    central = ranked[: max(1, (len(ranked) + 1) // 2)]

    def value(c: dict) -> tuple[float, str]:
        run_on = 0.2 if len(c["text"].split()) > tuning.RUN_ON_WORDS else 0.0
        return 0.5 * c["centrality"] + 0.5 * c["score"] - run_on, c["claim_id"]

    return max(central, key=value)


def empty_note(warehouse: Warehouse, day: date) -> str:
    """What a digest without insights tells its reader: why there is nothing."""
    episodes = warehouse.rows("episodes", day)
    if not episodes:
        return "No new episodes were published on this day by the feeds followed."
    n = len(episodes)
    return f"{n} new episode{'s' if n != 1 else ''} today, but none made a claim worth citing."


def _digest(warehouse: Warehouse, day: date, insights: list[dict]) -> dict:
    """A day's digest; one without insights says why."""
    digest: dict = {"date": day.isoformat(), "insights": insights}
    if not insights:
        digest["note"] = empty_note(warehouse, day)
    return digest


def build_digest(
    warehouse: Warehouse, day: date, config: DigestConfig
) -> tuple[dict, list[Decision]]:
    """The digest JSON of the contract, from the day's tables, and every candidate's fate."""
    episodes = {(e["feed"], e["guid"]): e for e in warehouse.rows("episodes", day)}
    claim_rows = {c["claim_id"]: c for c in warehouse.rows("claims", day)}
    by_topic: dict[str, list[dict]] = defaultdict(list)
    for a in warehouse.rows("claim_topics", day):
        claim = claim_rows.get(a["claim_id"])
        if claim and (claim["feed"], claim["episode_guid"]) in episodes:
            by_topic[a["topic_id"]].append({**claim, **a})
    featured: dict[str, tuple[str, list[str]]] = {}
    for r in warehouse.rows(
        "digest_insights",
        day - timedelta(days=config.novelty_lookback_days),
        day - timedelta(days=1),
        order_by="partition_date",
    ):
        quotes = [c["quote"] for c in json.loads(r["citations"])]
        earlier = featured.get(r["topic_id"], ("", []))[1]
        featured[r["topic_id"]] = (r["partition_date"].isoformat(), earlier + quotes)
    topic_rows = {t["topic_id"]: t for t in warehouse.rows("topics", day)}
    candidates = []
    for tid, members in by_topic.items():
        scores = sorted((m["score"] for m in members), reverse=True)[:3]
        last = featured.get(tid)
        candidates.append(
            Candidate(
                topic_id=tid,
                centroid=np.asarray(json.loads(topic_rows[tid]["centroid"])),
                podcasts={m["feed"] for m in members},
                episodes=len({(m["feed"], m["episode_guid"]) for m in members}),
                claims=len(members),
                quality=float(np.mean(scores)),
                coherence=float(np.mean([m["centrality"] for m in members])),
                last_featured=last[0] if last else None,
                novel_podcasts={m["feed"] for m in members if not is_repeat(m["text"], last[1])}
                if last
                else set(),
            )
        )
    rules = RankingRules(top_k=config.top_k, min_podcasts=config.min_podcasts)
    decisions = decide(candidates, rules)
    insights = []
    for decision in (d for d in decisions if d.rank is not None):
        cand, score, rank = decision.candidate, decision.score, decision.rank
        members = by_topic[cand.topic_id]
        best = _best_claim(members)
        topic = topic_rows[cand.topic_id]
        shows = sorted({episodes[(m["feed"], m["episode_guid"])]["feed_title"] for m in members})
        citations = []
        for m in sorted(members, key=lambda m: (m["feed"], m["episode_guid"], m["start_s"])):
            ep = episodes[(m["feed"], m["episode_guid"])]
            citations.append(
                {
                    "podcast": m["feed"],  # the feed's name in the feeds file
                    "podcast_title": ep["feed_title"],
                    "episode_guid": m["episode_guid"],
                    "episode_title": ep["title"],
                    "speaker": m["speaker"],
                    "start_s": m["start_s"],
                    "end_s": m["end_s"],
                    "quote": m["text"],
                    "url": render.deep_link(ep["audio_url"] or ep["link"], m["start_s"]),
                }
            )
        insights.append(
            {
                "rank": rank,
                "headline": render.headline(
                    best["text"],
                    best["speaker"],
                    json.loads(best["entities"] or "[]"),
                    bool(best["cites_source"]),
                ),
                "summary": render.summary(shows, cand.episodes, cand.novelty, cand.last_featured),
                "topic_id": cand.topic_id,
                "topic_label": topic["label"],
                "keywords": json.loads(topic["keywords"]),
                "support": {
                    "podcasts": len(cand.podcasts),
                    "episodes": cand.episodes,
                    "claims": cand.claims,
                },
                "novelty": cand.novelty,
                "score": round(score, 4),
                "citations": citations,
            }
        )
    return _digest(warehouse, day, insights), decisions


def candidates_table(decisions: list[Decision]) -> str:
    """Every candidate topic and why it is, or is not, in the digest (for the UI)."""
    head = "| topic | shows | episodes | claims | quality | coherence | score | decision |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for d in decisions:
        c = d.candidate
        lines.append(
            f"| {c.topic_id} | {len(c.podcasts)} | {c.episodes} | {c.claims} | {c.quality:.2f} "
            f"| {c.coherence:.2f} | {d.score:.2f} | {d.reason} |"
        )
    return "\n".join(lines) if decisions else "(no candidate topics)"


@daily_asset(
    group_name="digest",
    deps=[topics, previous_day("daily_digest")],
    kinds={"python"},
)
def daily_digest(
    context: dg.AssetExecutionContext, config: DigestConfig, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Up to five insights of the day, each a different topic, each with its citations."""
    day = partition_day(context)
    digest, decisions = build_digest(warehouse, day, config)
    rows = [
        {
            "rank": i["rank"],
            "topic_id": i["topic_id"],
            "headline": i["headline"],
            "summary": i["summary"],
            "novelty": i["novelty"],
            "citations": json.dumps(i["citations"]),
            "topic_label": i["topic_label"],
            "keywords": json.dumps(i["keywords"]),
            "support": json.dumps(i["support"]),
            "score": i["score"],
        }
        for i in digest["insights"]
    ]
    warehouse.replace_partition("digest_insights", day, rows)
    return finish(
        context,
        {
            "insights": len(rows),
            "citations": sum(len(i["citations"]) for i in digest["insights"]),
            "candidates": len(decisions),
            "preview": dg.MetadataValue.md(render.to_markdown(_public(digest))),
            "candidate_topics": dg.MetadataValue.md(candidates_table(decisions)),
        },
    )


def _public(digest: dict) -> dict:
    """The digest as the contract shows it (internal fields out)."""
    note = {"note": digest["note"]} if digest.get("note") else {}
    return {
        "date": digest["date"],
        **note,
        "insights": [
            {
                **{k: v for k, v in i.items() if k != "score"},
                "citations": i["citations"],
            }
            for i in digest["insights"]
        ],
    }


def load_digest(warehouse: Warehouse, day: date) -> dict:
    """The stored digest of a day, in the contract's JSON shape."""
    insights = []
    for r in warehouse.rows("digest_insights", day, order_by="rank"):
        insights.append(
            {
                "rank": r["rank"],
                "headline": r["headline"],
                "summary": r["summary"],
                "topic_id": r["topic_id"],
                "topic_label": r["topic_label"],
                "keywords": json.loads(r["keywords"]),
                "support": json.loads(r["support"]),
                "novelty": r["novelty"],
                "citations": json.loads(r["citations"]),
            }
        )
    return _public(_digest(warehouse, day, insights))


@dg.asset_check(asset=daily_digest, blocking=True, partitions_def=DAILY)
def daily_digest_well_formed(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """At most five insights, distinct topics and headlines, each with a quote-bearing citation."""
    digest = load_digest(warehouse, partition_day(context))
    problems = []
    insights = digest["insights"]
    if len(insights) > 5:
        problems.append(f"{len(insights)} insights")
    if len({i["topic_id"] for i in insights}) != len(insights):
        problems.append("two insights share a topic")
    if len({i["headline"].lower() for i in insights}) != len(insights):
        problems.append("two insights share a headline")
    for i in insights:
        if not i["citations"]:
            problems.append(f"insight {i['rank']} has no citation")
        for c in i["citations"]:
            if not c["quote"] or c["end_s"] < c["start_s"]:
                problems.append(f"insight {i['rank']}: bad citation {c['episode_guid']}")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"insights": len(insights), "problems": dg.MetadataValue.json(problems)},
    )


class DeliveryConfig(dg.Config):
    force: bool = False  # send the email for a day that already had it, or for an old day
    email_max_age_days: int = 3  # a backfill of older days writes files but emails nobody
    email_attempts: int = 3  # SMTP tries before the failure is recorded (4xx, no connection)
    email_backoff_s: float = 5.0  # wait before the second try; doubled before each next one


@daily_asset(
    group_name="digest",
    deps=[daily_digest],
    kinds={"email"},
)
def digest_delivery(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    data_home: DataHome,
    mailer: Mailer,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """The digest as files (JSON, Markdown, HTML), the digests' RSS feed, and the email.

    Files first; the email last, tried `email_attempts` times. When it is not sent, the run
    still succeeds: the failure is recorded (deliveries: channel `email_failed`; failures), the
    metadata says so, and the next run of the day sends it, once.
    """
    day = partition_day(context)
    digest = load_digest(warehouse, day)
    out = data_home.path("digests", f"{day.isoformat()}.json").parent
    # Where the pages are published (PODCAST_INSIGHTS_SITE_URL), else the local folder.
    site = mailer.site_url or out.resolve().as_uri() + "/"
    page = render.page_url(site, day.isoformat())
    files = {
        ".json": render.to_json(digest),
        ".md": render.to_markdown(digest),
        ".html": render.to_html(digest),
    }
    for suffix, text in files.items():
        write_atomic(out / f"{day.isoformat()}{suffix}", text)
    recent: list[dict] = []
    for path in sorted(out.glob("????-??-??.json"), reverse=True):  # newest first, 30 at most
        if len(recent) == 30:
            break
        if (d := json.loads(path.read_text()))["insights"]:
            recent.append(d)
    write_atomic(out / "feed.xml", render.to_rss(recent, site))

    email = "not configured"
    email_sent = False
    age = (datetime.now(UTC).date() - day).days
    if mailer.enabled and age > config.email_max_age_days and not config.force:
        email = f"not sent: the day is {age} days old (a backfill); force to send"
        context.log.info(email)
    elif mailer.enabled:
        sent = warehouse.query(
            "SELECT * FROM deliveries WHERE partition_date = ? AND channel = 'email'", [day]
        )
        if sent and not config.force:
            email = f"already sent at {sent[0]['delivered_at']}; not sent again (force to resend)"
            context.log.info(email)
        else:
            error = _send_email(context, config, mailer, warehouse, day, digest, page, sent)
            email_sent = error is None
            email = (
                f"sent to {len(mailer.recipients)} recipient(s)"
                if email_sent
                else f"not sent: {error}; recorded, the next run of the day sends it"
            )
    return finish(
        context,
        {
            "json": dg.MetadataValue.path(str(out / f"{day.isoformat()}.json")),
            "page": dg.MetadataValue.url(page),
            "insights": len(digest["insights"]),
            "email": email,
            "email_sent": dg.MetadataValue.bool(email_sent),
            "rss_items": len(recent),
        },
    )


def _send_email(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    mailer: Mailer,
    warehouse: Warehouse,
    day: date,
    digest: dict,
    page: str,
    sent: list[dict],
) -> str | None:
    """Send the day's email and record it; or record why it was not sent, and return that."""
    failures = Failures(context, "digest_delivery")
    unsubscribe = mailer.unsubscribe_link()
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        message_id = mailer.send(
            f"Top insights for {day.isoformat()}",
            render.to_text(digest, page, unsubscribe),
            render.to_email_html(digest, page, unsubscribe),
            attempts=config.email_attempts,
            backoff_s=config.email_backoff_s,
            on_retry=context.log.warning,
        )
    except MailError as exc:
        failed = warehouse.query(
            "SELECT * FROM deliveries WHERE partition_date = ? AND channel = 'email_failed'",
            [day],
        )
        row = {
            "channel": "email_failed",
            "target": ", ".join(mailer.recipients),
            "delivered_at": now,  # when it was tried
            "detail": str(exc),
        }
        warehouse.replace_partition(
            "deliveries", day, [*failed, row], where={"channel": "email_failed"}
        )
        failures.add("email", f"digest email not sent: {exc}", url=f"smtp://{exc.host}:{exc.port}")
        failures.save(warehouse, day)
        return str(exc)
    row = {
        "channel": "email",
        "target": ", ".join(mailer.recipients),
        "delivered_at": now,
        "detail": message_id,
    }
    warehouse.replace_partition("deliveries", day, [*sent, row], where={"channel": "email"})
    failures.save(warehouse, day)  # sent: the day's delivery failure, if any, is cleared
    return None
