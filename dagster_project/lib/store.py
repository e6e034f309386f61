"""Files under the data folder: written atomically, shared JSON indexes updated under a lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes | str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def update_json(path: Path, change: Callable[[dict], Any]) -> dict:
    """Read, change and write a JSON index under a lock, so concurrent runs never lose entries."""
    with _locked(path):
        data = read_json(path)
        change(data)
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True))
        return data


def move_into_store(tmp: Path, sha256: str, store: Path, suffix: str) -> Path:
    """Content-addressed: <store>/<sha[:2]>/<sha><suffix>; an existing copy is kept."""
    target = store / sha256[:2] / f"{sha256}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        tmp.unlink(missing_ok=True)
    else:
        shutil.move(tmp, target)
    return target
