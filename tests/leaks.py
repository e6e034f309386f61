"""Finding secrets where they must never be stored."""

from __future__ import annotations

from pathlib import Path


def stored_bytes(root: Path):
    """(path, bytes) of every file under root, and of every compressed blob in its SQLite files
    (Dagster keeps run and job snapshots zlib-compressed there, where a plain grep sees nothing).
    """
    import sqlite3
    import zlib

    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield path, data
        if not data.startswith(b"SQLite format 3"):
            continue
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in con.execute(f'SELECT * FROM "{table}"'):
                    for value in row:
                        if isinstance(value, bytes):
                            try:
                                yield path, zlib.decompress(value)
                            except zlib.error:
                                yield path, value
                        elif isinstance(value, str):
                            yield path, value.encode()
        finally:
            con.close()


def leaked(roots: list[Path], secrets: list[str]) -> list[str]:
    """Where any of the secrets is stored under the roots."""
    return [
        f"{path}: {secret[:8]}..."
        for root in roots
        for path, data in stored_bytes(root)
        for secret in secrets
        if secret.encode() in data
    ]
