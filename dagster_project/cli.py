"""`podcast-insights`: print a stored digest, or condense a run's log into stage progress."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import date

from pydantic import ValidationError

from dagster_project.lib.digest import Digest
from dagster_project.lib.render import to_markdown
from dagster_project.lib.settings import Settings

# dagster's console lines: "<time> - dagster - LEVEL - <job> - <run id> - <step> - <message>"
LOG_LINE = re.compile(
    r"^\S+ \S+ \S+ - dagster - (?P<level>[A-Z]+) - [^-]+ - [0-9a-f-]{36} - "
    r"(?:(?P<pid>\d+) - )?(?P<step>[a-z_]+) - (?P<msg>.*)$"
)


# dbt's housekeeping lines: nothing a person running the day needs to read.
QUIET = ("A dbt subsetted execution", "Copying `", "Running dbt command")


def show(day: str) -> int:
    """Print a day's published digest (its JSON, read as the contract, shown as Markdown)."""
    path = Settings.from_env().home / "digests" / f"{date.fromisoformat(day).isoformat()}.json"
    if not path.exists():
        print(f"no digest for {day} at {path}", file=sys.stderr)
        return 1
    try:
        digest = Digest.model_validate_json(path.read_text())
    except ValidationError as exc:
        print(f"{path} is not a digest: {exc}", file=sys.stderr)
        return 1
    print(to_markdown(digest), end="")
    print(f"\n(files: {path}, .md, .html)")
    return 0


def progress(lines) -> int:
    """Print one line per stage event worth a person's attention; keep failures whole."""
    started = time.monotonic()
    failed = False
    tail: list[str] = []
    for line in lines:
        tail = [*tail[-40:], line.rstrip()]
        m = LOG_LINE.match(line.strip())
        if not m:
            continue
        step, msg, level = m["step"], m["msg"], m["level"]
        if "STEP_FAILURE" in msg or "RUN_FAILURE" in msg or level == "ERROR":
            failed = True
        if msg.startswith(QUIET) and level == "INFO":
            continue
        if level in ("WARNING", "ERROR") or not msg.startswith(("ASSET_", "STEP_", "LOADED_")):
            clock = time.monotonic() - started
            print(f"[{clock:6.1f}s] {step:<22} {msg[:300]}", flush=True)
    if failed:
        print("\n".join(tail), file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podcast-insights")
    sub = parser.add_subparsers(dest="command", required=True)
    p_show = sub.add_parser("show", help="print the stored digest of a day")
    p_show.add_argument("day")
    sub.add_parser("progress", help="read a run's log on stdin, print stage progress")
    args = parser.parse_args(argv)
    if args.command == "show":
        return show(args.day)
    return progress(sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
