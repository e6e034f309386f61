"""What a failed check means: who must look, and what must stop.

The stages declare their checks beside their assets; this module grades them in one place:
- ERROR and blocking (declared on the check): a bad day must not be delivered, so the check
  stops the steps after it and fails the run, and the run-failure alert mails the operators;
- WARN: a person should look (the UI shows the check yellow), the day goes on.
And it adds the freshness check on the digest: yesterday's digest exists by 07:00 UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import dagster as dg

from dagster_project.lib.preview import CHECK_PARTITIONS, FRESHNESS_CHECKS, on_purpose

# Non-blocking checks that only warn: their failure is worth a look, never a reason to hold
# the digest back (the blocking checks, ERROR, are `episodes_unique` and
# `daily_digest_well_formed`; a check named nowhere keeps Dagster's ERROR).
WARN_ONLY = {
    "transcripts_segments_valid",  # a bad segment costs a claim, not the day
    "voices_match_segments",  # a voice row without its segment names nobody
    "claims_valid",  # great-expectations over claims: ids, text, score, times
    "claims_within_episode",  # a citation's seconds off its transcript
    "topics_unique_ids",  # duplicate topic ids; the digest's own blocking check catches harm
}

# The digest of a day should exist by 07:00 UTC the next day (the schedule runs at 06:00).
DIGEST_DEADLINE_CRON = "0 7 * * *"


def with_severity(
    check: dg.AssetChecksDefinition, severity: dg.AssetCheckSeverity
) -> dg.AssetChecksDefinition:
    """The same check (name, asset, blocking, partitions, resources), its results at `severity`."""
    (spec,) = check.check_specs
    # An asset check's node is an op (Dagster types it as any node).
    evaluate = check.node_def.compute_fn.decorated_fn  # pyright: ignore[reportAttributeAccessIssue]

    @functools.wraps(evaluate)  # the signature too: Dagster passes the same resources
    def graded(*args, **kwargs) -> dg.AssetCheckResult:
        return evaluate(*args, **kwargs)._replace(severity=severity)

    with on_purpose(CHECK_PARTITIONS):
        return dg.asset_check(
            asset=spec.asset_key,
            name=spec.name,
            description=spec.description,
            blocking=spec.blocking,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            partitions_def=spec.partitions_def,
        )(graded)


def graded(checks: Iterable[dg.AssetChecksDefinition]) -> list[dg.AssetChecksDefinition]:
    """The stages' checks with the severities above; fails on a name that matches no check."""
    checks = list(checks)
    names = {spec.name for c in checks for spec in c.check_specs}
    unknown = WARN_ONLY - names
    if unknown:
        raise ValueError(f"checks.WARN_ONLY names checks that do not exist: {sorted(unknown)}")
    return [
        with_severity(c, dg.AssetCheckSeverity.WARN)
        if {s.name for s in c.check_specs} <= WARN_ONLY
        and not any(s.blocking for s in c.check_specs)
        else c
        for c in checks
    ]


def digest_freshness(
    digest: dg.AssetsDefinition | dg.AssetKey | str,
) -> Sequence[dg.AssetChecksDefinition]:
    """Yesterday's digest exists by 07:00 UTC; WARN, since it says a person should look."""
    with on_purpose(FRESHNESS_CHECKS, CHECK_PARTITIONS):  # why not FreshnessPolicy: lib/preview.py
        return dg.build_time_partition_freshness_checks(
            assets=[digest],
            deadline_cron=DIGEST_DEADLINE_CRON,
            timezone="UTC",
            severity=dg.AssetCheckSeverity.WARN,
        )
