"""The contract's command as cron runs it: `env -i PATH=/usr/bin:/bin .venv/bin/dagster ...`.

A fresh copy of the project (no dbt manifest, no data, no Dagster instance yet), the system PATH
only, the PostgreSQL warehouse and an SMTP server that wants a login: the whole demo day must
run, Whisper's times must land in PostgreSQL, no secret may be written anywhere, and nothing may
ask for a host beyond this machine.
"""

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.leaks import leaked

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
DAY = "2026-11-18"
SERVER = "postgresql://postgres@127.0.0.1:5432"
DB_SECRET = f"db-secret-{uuid.uuid4().hex[:10]}"
SMTP_SECRET = f"smtp-secret-{uuid.uuid4().hex[:10]}"


def copy_project(dest: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and new, nothing ignored)."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            target.chmod(src.stat().st_mode)
    return dest


@pytest.fixture
def smtp_with_login():
    """An SMTP server that accepts only the secret password, and keeps what it receives."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received, logins = [], []

    class Inbox:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.password.decode() == SMTP_SECRET
        logins.append(ok)
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield port, received, logins
    controller.stop()


def test_the_contract_command_from_cron_on_postgres(
    tmp_path, database, smtp_with_login, recording_proxy
):
    import psycopg2

    port, received, logins = smtp_with_login
    project = copy_project(tmp_path / "project")
    assert not (project / "dbt" / "target").exists()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    url = f"postgresql://postgres:{DB_SECRET}@127.0.0.1:5432/{database}"  # trust auth ignores it
    env = {
        "PATH": "/usr/bin:/bin",
        "DAGSTER_HOME": str(dagster_home),
        "PODCAST_INSIGHTS_WAREHOUSE_URL": url,
        "PODCAST_INSIGHTS_SMTP_HOST": "127.0.0.1",
        "PODCAST_INSIGHTS_SMTP_PORT": str(port),
        "PODCAST_INSIGHTS_SMTP_TO": "reader@example.org",
        "PODCAST_INSIGHTS_SMTP_USER": "insights",
        "PODCAST_INSIGHTS_SMTP_PASSWORD": SMTP_SECRET,
        # Nothing may try the network at run time: any HTTP(S) request for a host beyond this
        # machine goes to a proxy that records it and carries nothing.
        **recording_proxy.environ(no_proxy="127.0.0.1,localhost"),
    }
    dagster = Path(sys.executable).parent / "dagster"  # .venv/bin/dagster, not activated
    force = {"ops": {"digest_delivery": {"config": {"force": True}}}}
    run = subprocess.run(
        [
            *(str(dagster), "asset", "materialize", "-m", "dagster_project.definitions"),
            *("--select", "*", "--partition", DAY, "--config-json", json.dumps(force)),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert "RUN_SUCCESS" in log

    digest = json.loads((project / "data" / "digests" / f"{DAY}.json").read_text())
    assert len(digest["insights"]) >= 4
    con = psycopg2.connect(f"{SERVER}/{database}")
    cur = con.cursor()
    cur.execute(
        "SELECT COUNT(*), MIN(start_s), MAX(end_s) FROM podcast_insights.transcript_segments "
        "WHERE partition_date = %s AND source = 'whisper'",
        [DAY],
    )
    segments, first, last = cur.fetchone()
    assert segments > 20 and 0 <= first < last
    cur.execute("SELECT COUNT(*) FROM podcast_insights.topic_days WHERE featured")  # dbt ran
    assert cur.fetchone()[0] == len(digest["insights"])
    con.close()
    assert logins == [True] and len(received) == 1  # the password reached the server, once
    assert recording_proxy.asked == []  # no request for anywhere else

    # The secrets were used, but are stored nowhere: instance, data, dbt files, the run's log.
    assert DB_SECRET not in log and SMTP_SECRET not in log
    assert leaked([dagster_home, project], [DB_SECRET, SMTP_SECRET]) == []
