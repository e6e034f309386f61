"""Secrets in resource config: always `dg.EnvVar`, so run snapshots hold a name, not a value."""

from __future__ import annotations

import dagster as dg


def resolved(value: str) -> str:
    """A config value that may be a `dg.EnvVar`.

    Dagster resolves EnvVar fields when a run starts; a resource used directly (a test, a
    script, a sensor) still holds the EnvVar, so it reads the variable itself here.
    """
    return (value.get_value() or "") if isinstance(value, dg.EnvVar) else value
