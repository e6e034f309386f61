"""daily_digest and digest_delivery: the top five insights, then files, email and RSS."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import ValidationError

from dagster_project.assets.common import (
    Failures,
    daily_asset,
    daily_check,
    finish,
    partition_day,
    previous_day,
)
from dagster_project.assets.topics import topics
from dagster_project.lib import render, tuning
from dagster_project.lib.digest import Digest, build_digest, problems
from dagster_project.lib.ranking import RankingRules
from dagster_project.lib.store import write_atomic
from dagster_project.resources.mailer import Mailer, MailError
from dagster_project.resources.storage import DataHome
from dagster_project.resources.warehouse import Warehouse


class DigestConfig(dg.Config):
    top_k: int = tuning.TOP_K
    min_podcasts: int = tuning.MIN_PODCASTS
    novelty_lookback_days: int = tuning.NOVELTY_LOOKBACK_DAYS


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
    digest, decisions = build_digest(
        day,
        episodes=warehouse.rows("episodes", day),
        claims=warehouse.rows("claims", day),
        claim_topics=warehouse.rows("claim_topics", day),
        topics=warehouse.rows("topics", day),
        earlier=warehouse.rows(
            "digest_insights",
            day - timedelta(days=config.novelty_lookback_days),
            day - timedelta(days=1),
            order_by="partition_date",
        ),
        rules=RankingRules(top_k=config.top_k, min_podcasts=config.min_podcasts),
    )
    warehouse.replace_partition("digest_insights", day, digest.rows())
    return finish(
        context,
        {
            "insights": len(digest.insights),
            "citations": sum(len(i.citations) for i in digest.insights),
            "candidates": len(decisions),
            "preview": dg.MetadataValue.md(render.to_markdown(digest)),
            "candidate_topics": dg.MetadataValue.md(render.candidates_table(decisions)),
        },
    )


def load_digest(warehouse: Warehouse, day: date) -> Digest:
    """The stored digest of a day (validated: a ValidationError says what is wrong)."""
    rows = warehouse.rows("digest_insights", day, order_by="rank")
    return Digest.from_rows(day, rows, episodes=len(warehouse.rows("episodes", day)))


@daily_check(asset=daily_digest, blocking=True)
def daily_digest_well_formed(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
    """The contract's shape, at most top_k insights, distinct topics and headlines."""
    day = partition_day(context)
    rows = warehouse.rows("digest_insights", day, order_by="rank")
    # tuning.TOP_K, not the run's config: more insights than the product promises are never
    # delivered.
    found = problems(day, rows, top_k=tuning.TOP_K)
    return dg.AssetCheckResult(
        passed=not found,
        metadata={"insights": len(rows), "problems": dg.MetadataValue.json(found)},
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
    recent: list[Digest] = []
    for path in sorted(out.glob("????-??-??.json"), reverse=True):  # newest first, 30 at most
        if len(recent) == 30:
            break
        try:
            published = Digest.model_validate_json(path.read_text())
        except ValidationError as exc:
            context.log.warning(f"{path} is not a digest, left out of the feed: {exc}")
            continue
        if published.insights:
            recent.append(published)
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
            "insights": len(digest.insights),
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
    digest: Digest,
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
