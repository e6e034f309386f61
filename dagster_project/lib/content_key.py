"""Keys that name a result by what it was made from: its inputs, its settings and its code.

A stage stores the key of its inputs beside what it wrote; a rerun that computes the same key
has nothing to do (no model loaded, nothing written). Any change to an input's rows, a setting
or the code that runs gives a new key.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any


def content_key(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dict keys sorted; dates and paths as text)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def rows_hash(values: Any) -> str:
    """The hash of rows as written (a table partition's content)."""
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def source_version(*modules: str) -> str:
    """A hash of the named modules' code and of the `dagster_project.lib` modules they use.

    Comments, docstrings and formatting do not count (the syntax tree is hashed), so the
    version moves only when what runs changes.
    """
    digest = hashlib.sha256()
    names = set(modules)
    for module in modules:
        names |= lib_modules(module)
    for name in sorted(names):
        source = Path(inspect.getsourcefile(sys.modules[name]) or "").read_text()
        digest.update(name.encode() + b"\0" + code_only(source).encode() + b"\0")
    return digest.hexdigest()[:12]


def lib_modules(module: str) -> set[str]:
    """The dagster_project.lib modules a module names among its globals."""
    found = set()
    for value in vars(sys.modules[module]).values():
        owner = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", "")
        if isinstance(owner, str) and owner.startswith("dagster_project.lib."):
            found.add(owner)
    return found


@functools.lru_cache(maxsize=256)
def code_only(source: str) -> str:
    """The syntax tree of Python source without its docstrings: what runs, not what it says.

    Kept per source text: a run computes the version of each stage's code, and most stages
    share lib modules (parsing and dumping a module's tree costs tens of milliseconds)."""
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
