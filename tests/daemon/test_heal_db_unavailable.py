"""Issue 16 item 9: healing goes on while the database is locked or full, and nothing is lost.

The real daemon heals a real local HTTP service. Another connection (this test process) holds
`BEGIN EXCLUSIVE` on the daemon's database; the service is killed inside that window. Before issue 16
the healer waited for its intent to commit, so the restart came only when the lock ended. Now the intent
goes to the fsync'd journal after a bounded wait, the service is restarted *while the lock is still held*,
and once the lock ends `recovery_events` holds the step with its true start time.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from helpers import wait_until
from test_healer_e2e import closed_incident, component, env, events, explain, healthy, http_check, retry  # noqa: F401

from daemon.store.intent_journal import journal_path


class ExclusiveLock:
    """Another process's view: a connection holding BEGIN EXCLUSIVE until released."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        self.conn.execute("BEGIN EXCLUSIVE")
        self.since = time.time()
        self.released_at: float | None = None

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()
        self.released_at = time.time()


def _started_rows(d) -> list[tuple]:
    return d.query("SELECT status, started_at FROM recovery_events ORDER BY id")


def test_a_service_killed_while_the_database_is_locked_is_healed_before_the_lock_ends(env):
    app = env.service("app")
    app.start()
    env.write(component("app", check=http_check(app), steps=retry(app.argv("start"))))
    d = env.start()
    wait_until(healthy(d, "app"), timeout=20)
    first_pid = app.pid

    lock = ExclusiveLock(d.db)
    try:
        app.crash()
        # healed within its normal time, while the lock is still held (the test holds it until here)
        wait_until(
            lambda: app.pid not in (None, first_pid) and _http_ok(app.url),
            timeout=12,
            message=lambda: d.log.read_text()[-3000:],
        )
        assert _started_rows(d) == []  # nothing could be committed: the intent is in the journal
        assert journal_path(d.db).stat().st_size > 0
    finally:
        lock.release()

    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    (event,) = events(d, "app")
    assert (event["strategy"], event["status"], event["attempt"]) == ("retry", "succeeded", 1)
    ((started_at,),) = d.query("SELECT started_at FROM recovery_events")
    assert lock.since <= started_at < lock.released_at  # its true start time, inside the window
    wait_until(lambda: journal_path(d.db).stat().st_size == 0, timeout=10)  # all of it is in the database
    assert d.stop() == 0


def test_kill_9_of_the_daemon_during_the_outage_replays_the_journal_and_the_step_is_interrupted(env):
    app = env.service("app")
    app.start()
    gate = env.gate("app-start")
    env.write(component("app", check=http_check(app), steps=retry(gate.argv(app.argv("start")), attempts=2)))
    d = env.start()
    wait_until(healthy(d, "app"), timeout=20)

    lock = ExclusiveLock(d.db)
    try:
        app.crash()
        wait_until(lambda: gate.pids, timeout=12, message=lambda: d.log.read_text()[-3000:])  # the step runs
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait(10)
        gate.kill_all()
        killed_at = time.time()
        assert _started_rows(d) == []
    finally:
        lock.release()

    d2 = env.start()
    wait_until(lambda: len(gate.pids) == 2, timeout=30, message=lambda: explain(d2, "app"))
    first = events(d2, "app")[0]
    assert (first["status"], first["attempt"]) == ("interrupted", 1)
    ((started_at,),) = d2.query("SELECT started_at FROM recovery_events WHERE attempt = 1")
    assert lock.since <= started_at < killed_at
    gate.open()
    wait_until(
        lambda: [(e["attempt"], e["status"]) for e in events(d2, "app")] == [(1, "interrupted"), (2, "succeeded")],
        timeout=30,
        message=lambda: explain(d2, "app"),
    )
    # the breaker's transition to open was journaled too: the same incident goes on (not closed as if the
    # breaker had never opened), and the budget counted the interrupted attempt once (attempt 2 of 2)
    wait_until(closed_incident(d2, "app"), timeout=30, message=lambda: explain(d2, "app"))
    assert len({e["incident"] for e in events(d2, "app")}) == 1
    assert d2.query("SELECT count(*) FROM incidents") == [(1,)]
    assert d2.query("SELECT count(*) FROM breaker_transitions WHERE to_state = 'open' AND ts < ?", (killed_at,)) == [
        (1,)
    ]


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_service_killed_while_the_file_system_is_full_is_healed_and_recorded_once_space_returns(env, small_tmpfs):
    app = env.service("app")
    app.start()
    env.write(component("app", check=http_check(app), steps=retry(app.argv("start"))))
    d = env.start_daemon(env.config, small_tmpfs / "healerd.db")
    env.daemons.append(d)
    wait_until(healthy(d, "app"), timeout=20)
    first_pid = app.pid

    filler = small_tmpfs / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass  # ENOSPC
    try:
        wait_until(lambda: '"writer.db_unavailable"' in d.log.read_text(), timeout=20)
        full_since = time.time()
        app.crash()
        wait_until(
            lambda: app.pid not in (None, first_pid) and _http_ok(app.url),
            timeout=12,
            message=lambda: d.log.read_text()[-3000:],
        )
        assert "this intent is kept in memory and in this log line" in d.log.read_text()
    finally:
        filler.unlink()
    freed_at = time.time()
    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    (event,) = events(d, "app")
    assert event["status"] == "succeeded"
    ((started_at,),) = d.query("SELECT started_at FROM recovery_events")
    assert full_since <= started_at < freed_at
    assert d.stop() == 0


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False
