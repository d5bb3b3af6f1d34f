"""The writer survives a database it cannot write: locked, full, read-only. Real SQLite failures only.

What must hold in each case: the event loop keeps running, results are shed oldest-first beyond the
bound and counted, must-not-lose calls stay queued, and writing resumes by itself when the database
is usable again.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from writer_kit import NOW, add_components, insert_transition, result, rows, scalar, until

from daemon.store import writer as writer_module
from daemon.store.writer import Writer
from daemon.types import Status

FAST_RETRY = {"busy_timeout_ms": 50, "retry_base_s": 0.01, "retry_cap_s": 0.05}


@pytest.fixture
def ids(db_path):
    return add_components(db_path, ["api", "db"])


class Ticker:
    """A task that counts loop iterations: if it advances during an outage, the loop was not blocked."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)

    def stop(self) -> None:
        self.task.cancel()


def exclusive_lock(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


async def test_a_locked_database_delays_writes_and_loses_nothing(db_path, ids):
    blocker = exclusive_lock(db_path)
    writer = Writer(db_path, **FAST_RETRY)
    await writer.start()
    ticker = Ticker()
    try:
        calls = [writer.submit(insert_transition(ids["db"], f"t{i}")) for i in range(10)]
        for i in range(200):
            writer.submit_result(result("api", ts=NOW + i))
        await until(lambda: writer.stats().retries >= 3, message="writer retrying against the lock")
        stats = writer.stats()
        assert not stats.db_available and "locked" in stats.last_error
        before = ticker.ticks
        await until(lambda: ticker.ticks > before + 100, message="loop keeps turning during the outage")
        assert not any(f.done() for f in calls)
        blocker.execute("COMMIT")
        blocker.close()
        transition_ids = await asyncio.wait_for(asyncio.gather(*calls), 15)
        await asyncio.wait_for(writer.flush(), 15)
    finally:
        ticker.stop()
        await writer.stop()
    assert len(set(transition_ids)) == 10
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == 10
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 200
    stats = writer.stats()
    assert stats.db_available and stats.shed == 0 and stats.written == 200


async def test_shedding_drops_exactly_the_oldest_results_and_never_a_call(db_path, ids):
    n, k = 50, 30
    blocker = exclusive_lock(db_path)
    writer = Writer(db_path, max_queue=n, **FAST_RETRY)
    await writer.start()
    try:
        first = writer.submit(insert_transition(ids["db"], "before"))
        await until(lambda: writer.stats().retries >= 1, message="writer sees the lock")
        for i in range(n + k):
            writer.submit_result(result("api", ts=NOW + i, message=f"r{i}"))
        calls = [writer.submit(insert_transition(ids["db"], f"during{i}")) for i in range(k)]
        await until(lambda: writer.stats().retries >= 3, message="more retries while queued")
        assert writer.stats().shed == k
        blocker.execute("COMMIT")
        blocker.close()
        await asyncio.wait_for(asyncio.gather(first, *calls), 15)
        await asyncio.wait_for(writer.flush(), 15)
    finally:
        await writer.stop()
    written = [m for (m,) in rows(db_path, "SELECT message FROM check_results ORDER BY ts")]
    assert written == [f"r{i}" for i in range(k, n + k)]
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == k + 1
    stats = writer.stats()
    assert (stats.shed, stats.written, stats.calls_done) == (k, n, k + 1)


async def test_shedding_is_logged_as_a_count_not_a_line_per_result(db_path, ids):
    blocker = exclusive_lock(db_path)
    writer = Writer(db_path, max_queue=10, **FAST_RETRY)
    with capture_logs() as logs:
        await writer.start()
        try:
            for i in range(1_010):
                writer.submit_result(result("api", ts=NOW + i))
            await until(lambda: writer.stats().retries >= 2, message="writer retrying")
            blocker.execute("COMMIT")
            blocker.close()
            await asyncio.wait_for(writer.flush(), 15)
        finally:
            await writer.stop()
    shed_lines = [e for e in logs if e["event"] == "writer.results_shed"]
    assert 1 <= len(shed_lines) <= 3
    assert sum(e["shed"] for e in shed_lines) == 1_000
    assert any(e["event"] == "writer.db_unavailable" for e in logs)
    assert any(e["event"] == "writer.db_resumed" for e in logs)


async def test_a_growing_call_backlog_is_logged(db_path, ids, monkeypatch):
    monkeypatch.setattr(writer_module, "CALL_BACKLOG_WARN", 5)
    blocker = exclusive_lock(db_path)
    writer = Writer(db_path, **FAST_RETRY)
    with capture_logs() as logs:
        await writer.start()
        try:
            calls = [writer.submit(insert_transition(ids["db"], f"t{i}")) for i in range(20)]
            await until(lambda: writer.stats().retries >= 1, message="writer retrying")
            blocker.execute("COMMIT")
            blocker.close()
            await asyncio.wait_for(asyncio.gather(*calls), 15)
        finally:
            await writer.stop()
    assert [e["queued_calls"] for e in logs if e["event"] == "writer.call_backlog"][:1] == [6]


async def test_a_full_database_holds_writes_until_it_has_room_again(db_path, ids):
    """SQLITE_FULL for real: the writer's own connection may not grow the file past max_page_count."""
    writer = Writer(db_path, **FAST_RETRY)
    await writer.start()
    try:
        pages = await writer.submit(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
        await writer.submit(lambda c: c.execute(f"PRAGMA max_page_count={pages}").fetchall())
        for i in range(3_000):
            writer.submit_result(result("api", Status.UNHEALTHY, ts=NOW + i, message="x" * 200))
        await until(lambda: writer.stats().retries >= 2, message="writer hits the size limit")
        assert "full" in writer.stats().last_error
        kept = writer.submit(insert_transition(ids["api"], "during the outage"))
        await until(lambda: writer.stats().retries >= 4, message="still failing with the call queued")
        assert not kept.done()
        # Room again (the limit lives on the writer's connection, so lift it there).
        await writer.submit(lambda c: c.execute("PRAGMA max_page_count=1073741823").fetchall())
        await asyncio.wait_for(kept, 15)
        await asyncio.wait_for(writer.flush(), 15)
    finally:
        await writer.stop()
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 3_000
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == 1
    assert writer.stats().db_available


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_a_full_filesystem_holds_writes_until_space_is_freed(db_path, ids, small_tmpfs):
    path = small_tmpfs / "healerd.db"
    shutil.copyfile(db_path, path)
    writer = Writer(path, **FAST_RETRY)
    await writer.start()
    filler = small_tmpfs / "filler"
    try:
        await writer.submit(lambda c: c.execute("SELECT 1").fetchall())  # connection and -wal exist
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass  # ENOSPC: the filesystem is full
        for i in range(2_000):
            writer.submit_result(result("db", ts=NOW + i, message="y" * 200))
        kept = writer.submit(insert_transition(ids["db"], "during the outage"))
        await until(lambda: writer.stats().retries >= 2, message="writer hits ENOSPC")
        assert "full" in writer.stats().last_error
        assert not kept.done()
        filler.unlink()
        await asyncio.wait_for(kept, 15)
        await asyncio.wait_for(writer.flush(), 15)
    finally:
        await writer.stop()
    assert scalar(path, "SELECT count(*) FROM check_results") == 2_000
    assert scalar(path, "PRAGMA integrity_check") == "ok"


@pytest.fixture
def immutable(tmp_path):
    """chattr +i: a file even root cannot write (root ignores modes, not the immutable attribute)."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    marked: list[Path] = []

    def mark(*paths: Path) -> None:
        for p in paths:
            subprocess.run(["chattr", "+i", str(p)], check=True)
            marked.append(p)

    def clear() -> None:
        while marked:
            subprocess.run(["chattr", "-i", str(marked.pop())], check=False)

    mark.clear = clear  # type: ignore[attr-defined]
    try:
        yield mark
    finally:
        clear()


async def test_a_read_only_database_file_holds_writes_until_writable_again(db_path, ids, immutable):
    writer = Writer(db_path, **FAST_RETRY)
    await writer.start()
    try:
        await writer.submit(insert_transition(ids["api"], "before"))
        immutable(db_path, db_path.with_name(db_path.name + "-wal"))
        for i in range(500):
            writer.submit_result(result("api", ts=NOW + i))
        kept = writer.submit(insert_transition(ids["api"], "during the outage"))
        await until(lambda: writer.stats().retries >= 3, message="writer refused by a read-only file")
        assert not writer.stats().db_available
        assert not kept.done()
        immutable.clear()
        await asyncio.wait_for(kept, 15)
        await asyncio.wait_for(writer.flush(), 15)
    finally:
        immutable.clear()
        await writer.stop()
    assert scalar(db_path, "SELECT count(*) FROM check_results") == 500
    assert scalar(db_path, "SELECT count(*) FROM breaker_transitions") == 2
    assert scalar(db_path, "PRAGMA integrity_check") == "ok"


async def test_stop_is_bounded_when_the_database_stays_locked(db_path, ids):
    blocker = exclusive_lock(db_path)
    writer = Writer(db_path, **FAST_RETRY)
    await writer.start()
    try:
        call = writer.submit(insert_transition(ids["db"], "never"))
        for i in range(5):
            writer.submit_result(result("db", ts=NOW + i))
        await until(lambda: writer.stats().retries >= 1, message="writer retrying")
        await writer.stop(timeout=0.3)
        with pytest.raises(Exception, match="stopped"):
            await call
        assert writer.stats().lost_on_stop == 5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
