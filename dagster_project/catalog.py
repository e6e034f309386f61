"""What the UI says about each asset: owners, tags, a code version, and for the assets that
write a warehouse table its name and column schema (the row count comes with each
materialization, from the warehouse's write path).

Applied to the stages' assets in definitions.py, so the asset modules stay about their data.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from dagster_project.lib.content_key import source_version
from dagster_project.resources.warehouse import Warehouse, table_metadata

# The warehouse table each asset writes: its row count and column schema show in the UI.
TABLES = {
    "feeds": "feed_fetches",
    "episodes": "episodes",
    "episode_audio": "episode_audio",
    "transcripts": "transcript_segments",
    "voices": "segment_voices",
    "claims": "claims",
    "topics": "topics",
    "daily_digest": "digest_insights",
}

# Who answers for a stage: the people a failed check or a question about the data goes to.
OWNERS = {
    "ingest": ["team:data-engineering"],
    "transcription": ["team:data-engineering"],
    "analysis": ["team:insights"],
    "digest": ["team:insights"],
    "marts": ["team:analytics"],
}

# Steps that load a model: `tag:model` selects them in the UI (`dagster asset list --select`).
MODELS = {
    "transcripts": "faster-whisper",
    "voices": "resemblyzer",
    "claims": "spacy.minilm",
    "topics": "bertopic.minilm",
}


def describe(assets: Iterable[object], warehouse: Warehouse) -> list[dg.AssetsDefinition]:
    """The assets with owners, tags, code versions and table metadata on their specs."""

    def spec_of(assets_def: dg.AssetsDefinition):
        node = assets_def.node_def
        op = next(node.iterate_op_defs()) if isinstance(node, dg.GraphDefinition) else node
        module = getattr(getattr(op, "compute_fn", None), "decorated_fn", None)
        # the asset module's code and the `lib/` modules it uses, comments and docstrings aside:
        # Dagster marks days built by older code when it moves
        version = source_version(module.__module__) if module is not None else None

        def one(spec: dg.AssetSpec) -> dg.AssetSpec:
            name = spec.key.to_user_string()
            tags = {"stage": spec.group_name or "default"}
            metadata = {}
            if name in TABLES:
                tags["table"] = TABLES[name]
                metadata = table_metadata(warehouse, TABLES[name])
            if name in MODELS:
                tags["model"] = MODELS[name]
            return spec.replace_attributes(
                owners=spec.owners or OWNERS.get(spec.group_name or "", []),
                tags={**tags, **spec.tags},
                metadata={**metadata, **spec.metadata},
                # dbt's assets carry dbt's own version (the model's checksum)
                code_version=spec.code_version or version,
            )

        return assets_def.map_asset_specs(one)

    described = []
    for a in assets:
        if not isinstance(a, dg.AssetsDefinition):  # the stages define assets, nothing else
            raise TypeError(f"{a!r} is not an asset definition")
        described.append(spec_of(a))
    return described
