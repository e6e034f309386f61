"""Steps in other processes: what every process that runs a step gets from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_step_process_keeps_numba_compilations_under_the_data_home(tmp_path):
    """numba reads NUMBA_CACHE_DIR on import; a process that loads the definitions (a Celery
    worker, a pod) compiles a function once per data home, not once per process."""
    module = tmp_path / "compiled.py"
    module.write_text(
        textwrap.dedent(
            """
            import numba

            @numba.njit(cache=True)
            def twice(x):
                return 2 * x
            """
        )
    )
    probe = textwrap.dedent(
        """
        import sys
        from dagster_project.definitions import defs
        defs()
        sys.path.insert(0, sys.argv[1])
        import numba, compiled
        assert compiled.twice(21) == 42
        print(numba.config.CACHE_DIR)
        print(compiled.twice.stats.cache_hits and "hit" or "miss")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PODCAST_INSIGHTS_HOME=str(tmp_path / "data"), PYTHONPATH=str(REPO))
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    cache = tmp_path / "data" / "cache" / "numba"
    assert runs[0] == [str(cache), "miss"]
    assert runs[1] == [str(cache), "hit"]  # the second process loaded the first one's work
    assert list(cache.rglob("*.nbi"))
