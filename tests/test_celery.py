"""Steps in other processes: what every process that runs a step gets from the environment."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


# --------------------------------------------------------------------------- across workers

DAY = "2026-11-18"
# Two of the demo shows: four episodes that day, none with a published transcript, so four
# transcriptions to fan out (half the demo day's work: what is shown here does not need more).
SHOWS = ("grid-and-atom", "the-great-game")
REDIS_DB = 9  # a database of its own on the machine's Redis, emptied before the test


def redis_or_fail(db: int) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=2)
    try:
        client.flushdb()  # tasks left by an interrupted run of this test
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (scripts/test.sh starts it)")


def on_db(source: Path, dest: Path, db: int) -> Path:
    """The deploy file with the test's Redis database in place of database 0."""
    text = source.read_text()
    assert "redis://127.0.0.1:6379/0" in text
    dest.write_text(text.replace("redis://127.0.0.1:6379/0", f"redis://127.0.0.1:6379/{db}"))
    return dest


def materialize(env: dict[str, str], *config: str) -> subprocess.CompletedProcess:
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "dagster_project.definitions",
               "--select", "*", "--partition", DAY, *config]  # fmt: skip
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=1800)


@pytest.fixture
def celery_worker(tmp_path, serve):
    """A Celery worker process (two slots) on the test's Redis database, with the run's
    environment; two demo shows served over HTTP; the instance made from deploy/celery/."""
    from tests.conftest import DEMO_SHOWS, demo_feeds, stop_group

    redis_or_fail(REDIS_DB)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy/celery/dagster.yaml").read_text())
    server = serve(DEMO_SHOWS)
    feeds = demo_feeds(server.url, tmp_path / "feeds.yaml", SHOWS)
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODCAST_INSIGHTS_")}
    env.update(
        DAGSTER_HOME=str(home),
        PODCAST_INSIGHTS_FEEDS=str(feeds),
        PYTHONPATH=str(REPO),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",  # dagster-celery runs `celery`
    )
    subprocess.run(
        [str(bin_dir / "dagster"), "instance", "concurrency", "set", "transcription", "2"],
        env=env, cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    worker_env = dict(env, PODCAST_INSIGHTS_HOME=str(tmp_path / "celery-data"))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(bin_dir / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
         "-y", str(on_db(REPO / "deploy/celery/worker.yaml", tmp_path / "worker.yaml", REDIS_DB)),
         "--", "-c", "2"],
        env=worker_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the worker and its children end together
    )  # fmt: skip
    run_config = on_db(REPO / "deploy/celery/run_config.yaml", tmp_path / "run.yaml", REDIS_DB)
    yield {"env": env, "worker_env": worker_env, "run_config": run_config, "tmp": tmp_path,
           "home": home, "log": tmp_path / "worker.log"}  # fmt: skip
    stop_group(worker, timeout=30)
    log.close()


@pytest.mark.slow
def test_the_demo_day_through_celery_workers_gives_the_in_process_digest(celery_worker):
    import dagster as dg

    START, SUCCESS = dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS
    w = celery_worker
    across = materialize(w["worker_env"], "--config", str(w["run_config"]))
    assert across.returncode == 0, across.stderr[-3000:] + w["log"].read_text()[-3000:]
    # The in-process run starts from the Celery run's audio, transcripts and speaker
    # embeddings (content-addressed caches): it computes the day's claims, topics and digest
    # itself, without transcribing the same files a second time.
    for cache in ("audio", "transcripts", "voices"):
        shutil.copytree(w["tmp"] / "celery-data" / cache, w["tmp"] / "inprocess-data" / cache)
    alone = materialize(dict(w["env"], PODCAST_INSIGHTS_HOME=str(w["tmp"] / "inprocess-data")))
    assert alone.returncode == 0, alone.stderr[-3000:]

    digest = f"digests/{DAY}.json"
    in_process = json.loads((w["tmp"] / "inprocess-data" / digest).read_text())
    assert len(in_process["insights"]) >= 2  # both shows' themes, at least
    assert json.loads((w["tmp"] / "celery-data" / digest).read_text()) == in_process

    # Every step of the Celery run ran in a worker; none of the in-process run's did.
    with dg.DagsterInstance.from_config(str(w["home"])) as instance:
        records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)
        assert [r.dagster_run.is_success for r in records] == [True, True]
        in_workers, succeeded, spans = [], [], []
        for r in records:
            events = [e for e in instance.all_logs(r.dagster_run.run_id) if e.is_dagster_event]
            in_workers.append({e.step_key for e in events if "in celery worker" in e.message})
            succeeded.append({e.step_key for e in events if e.dagster_event_type == SUCCESS})
            spans.append(
                {
                    (e.step_key, e.dagster_event_type): e.timestamp
                    for e in events
                    if e.dagster_event_type in (START, SUCCESS)
                }
            )
    # Transcription fanned out: one step per episode of the day (none has a published
    # transcript), two at a time on the two worker processes (the `transcription` pool's limit).
    transcribing = sorted(k for k in succeeded[0] if k.startswith("transcripts.transcribe["))
    assert len(transcribing) == 4
    times = [(spans[0][(k, START)], spans[0][(k, SUCCESS)]) for k in transcribing]
    assert any(a[0] < b[1] and b[0] < a[1] for a, b in itertools.combinations(times, 2))
    assert {"transcripts.write", "topics", "marts"} <= succeeded[0] == in_workers[0]
    # The in-process run found every file in the store: nothing to transcribe, no worker.
    assert in_workers[1] == set() and succeeded[1] == succeeded[0] - set(transcribing)
