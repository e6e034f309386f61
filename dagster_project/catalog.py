"""What the UI says about each asset: owners, tags, a code version, and for the assets that
write a warehouse table its name and column schema (the row count comes with each
materialization, from the warehouse's write path).

Applied to the stages' assets in definitions.py, so the asset modules stay about their data.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

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


def code_version(module: str) -> str:
    """A hash of an asset module's code and of the `lib/` modules it uses.

    Comments, docstrings and formatting do not count (the syntax tree is hashed), so the
    version moves only when what runs changes, and Dagster then marks the asset's
    materialized days as built by older code.
    """
    digest = hashlib.sha256()
    for name in sorted({module, *_lib_modules(module)}):
        source = Path(inspect.getsourcefile(sys.modules[name]) or "").read_text()
        digest.update(name.encode() + b"\0" + _code_only(source).encode() + b"\0")
    return digest.hexdigest()[:12]


def _lib_modules(module: str) -> set[str]:
    """The dagster_project.lib modules a module names among its globals."""
    found = set()
    for value in vars(sys.modules[module]).values():
        owner = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", "")
        if isinstance(owner, str) and owner.startswith("dagster_project.lib."):
            found.add(owner)
    return found


def _code_only(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            setattr(node, "body", body[1:] or [ast.Pass()])  # noqa: B010 (any node with a body)
    return ast.dump(tree, include_attributes=False)


def describe(assets: Iterable[object], warehouse: Warehouse) -> list[dg.AssetsDefinition]:
    """The assets with owners, tags, code versions and table metadata on their specs."""

    def spec_of(assets_def: dg.AssetsDefinition):
        module = getattr(assets_def.op.compute_fn, "decorated_fn", None)
        version = code_version(module.__module__) if module is not None else None

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
