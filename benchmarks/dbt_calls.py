"""One day's `dbt build` through the marts' dbt CLI resource, or through dagster-dbt's own.

The `marts` step runs `dbt build` for its day. dagster-dbt's `DbtCliResource` first runs
`dbt --version` (a second dbt process, which asks PyPI for the latest release) and opens a dbt
adapter in the calling process; the marts' `DbtCli` does neither (resources/marts.py). This
builds one day of the dbt project over a new, empty DuckDB warehouse (the tables' schema only:
the cost measured is the call's, not the rows') with each, in alternating rounds in one
process, and prints the wall time of each and their ratio.

    .venv/bin/python benchmarks/dbt_calls.py [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from reporting import write_report

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "data/benchmarks/dbt-report.json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from dagster_dbt import DbtCliResource

    from dagster_project.lib import tuning
    from dagster_project.resources.marts import DbtMarts, dbt_cli
    from dagster_project.resources.warehouse import DuckDBWarehouse

    day = "2026-11-18"
    build = [
        "build",
        "--vars",
        json.dumps({"min_date": day, "max_date": day, "top_k": tuning.TOP_K}),
    ]
    wall = {"marts' DbtCli": 0.0, "dagster-dbt's DbtCliResource": 0.0}
    with tempfile.TemporaryDirectory(prefix="dbt-calls-") as tmp:
        path = str(Path(tmp) / "warehouse.duckdb")
        DuckDBWarehouse(path=path).ensure_schema()
        marts = DbtMarts(duckdb_path=path)
        with marts._environment():
            for i in range(args.rounds):
                order = list(wall) if i % 2 == 0 else list(reversed(wall))
                for name in order:
                    # A new resource each call, as each step makes one (dagster-dbt keeps
                    # dbt's version on the resource once it has asked).
                    cli = dbt_cli()
                    if not name.startswith("marts"):
                        cli = DbtCliResource(**cli.model_dump())
                    started = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):  # dbt's log lines
                        invocation = cli.cli(build, target_path=Path(tmp) / "target").wait()
                    took = time.perf_counter() - started
                    assert invocation.is_successful(), f"dbt build failed ({name})"
                    wall[name] += took
                    print(f"round {i + 1}, {name}: {took:.1f} s", file=sys.stderr)
    ours, stock = wall["marts' DbtCli"], wall["dagster-dbt's DbtCliResource"]
    n = args.rounds
    print(
        f"one day's dbt build, {n} rounds each: marts' DbtCli {ours / n:.1f} s, "
        f"dagster-dbt's DbtCliResource {stock / n:.1f} s a call: "
        f"{stock / ours:.2f}x as fast ({(stock - ours) / n:.1f} s less a call)"
    )
    write_report(args.json, {"rounds": args.rounds, "wall_s": wall, "speedup": stock / ours})
    return 0


if __name__ == "__main__":
    sys.exit(main())
