"""The shipper against a real PostgreSQL: new rows arrive once, replays duplicate nothing, rows that
change are re-sent until final, a centre at another schema gets nothing, retention keeps unshipped rows."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from daemon.errors import FleetSchemaError
from daemon.service.fleet import FleetShipper
from daemon.service.fleet_retention import keep_unshipped
from daemon.store import fleet_migrate, fleet_sql
from daemon.store.retention import prune
from kit import FakeRuntime, add_component, add_results, fleet_settings, local, open_incident, set_breaker


@pytest.fixture
async def runtime(db_path, centre):
    rt = FakeRuntime(db_path, fleet_settings(centre), components=("web", "db"))
    await rt.writer.start()
    yield rt
    await rt.writer.stop()


async def ship(rt) -> int:
    shipper = FleetShipper(rt, rt.config.settings.fleet)
    try:
        return await asyncio.to_thread(shipper._round)
    finally:
        shipper._executor.shutdown(wait=False)
        if shipper._engine is not None:
            shipper._engine.dispose()


def marks(db_path):
    with local(db_path) as conn:
        return {t: (s, o) for t, s, o in conn.execute("SELECT table_name, shipped_id, open_from FROM fleet_marks")}


async def test_new_rows_arrive_once_in_batches_and_a_replay_from_scratch_duplicates_nothing(runtime, centre, db_path):
    conn = local(db_path)
    web = add_component(conn, "web")
    add_results(conn, web, 250)
    conn.close()
    await ship(runtime)
    assert centre.rows("SELECT count(*), count(DISTINCT id), min(host) FROM check_results") == [(250, 250, "alpha")]
    assert marks(db_path)["check_results"] == (250, None)
    # A crash after the centre committed but before the marks were saved: the batch is sent again.
    conn = local(db_path)
    conn.execute("DELETE FROM fleet_marks")
    conn.close()
    await ship(runtime)
    assert centre.rows("SELECT count(*), count(DISTINCT id) FROM check_results") == [(250, 250)]
    assert centre.rows("SELECT name FROM components") == [("web",)]


async def test_rows_that_change_are_sent_again_until_they_are_final(runtime, centre, db_path):
    conn = local(db_path)
    web = add_component(conn, "web")
    set_breaker(conn, web, "open")
    incident = open_incident(conn, web)
    conn.close()
    await ship(runtime)
    assert centre.rows("SELECT status FROM incidents") == [("open",)]
    assert centre.rows("SELECT state FROM breakers") == [("open",)]
    assert marks(db_path)["incidents"] == (incident, incident)  # open: re-read from here on
    conn = local(db_path)
    conn.execute("UPDATE incidents SET status = 'resolved', closed_at = ? WHERE id = ?", (time.time(), incident))
    set_breaker(conn, web, "closed")
    conn.close()
    await ship(runtime)
    assert centre.rows("SELECT status FROM incidents") == [("resolved",)]
    assert centre.rows("SELECT state FROM breakers") == [("closed",)]
    assert marks(db_path)["incidents"] == (incident, None)  # final: never re-read again


async def test_a_centre_at_another_schema_version_is_refused_before_anything_is_written(runtime, centre, db_path):
    conn = local(db_path)
    add_results(conn, add_component(conn, "web"), 10)
    conn.close()
    with centre.engine.begin() as pg:
        pg.execute(sa.text(f"UPDATE {fleet_migrate.VERSION_TABLE} SET version_num = 'f999'"))
    with pytest.raises(FleetSchemaError, match="newer healerd"):
        await ship(runtime)
    assert centre.rows("SELECT count(*) FROM check_results") == [(0,)]
    assert centre.rows("SELECT count(*) FROM components") == [(0,)]
    assert "check_results" not in marks(db_path)


async def test_lag_is_the_age_of_the_oldest_unshipped_row_and_zero_once_shipped(runtime, db_path):
    conn = local(db_path)
    add_results(conn, add_component(conn, "web"), 5, ts=time.time() - 120)
    conn.close()
    assert runtime._read(fleet_sql.lag, time.time()) == pytest.approx(120, abs=5)
    await ship(runtime)
    assert runtime._read(fleet_sql.lag, time.time()) == 0.0


async def test_retention_keeps_unshipped_rows_and_prunes_them_counted_only_when_the_disk_would_fill(runtime, centre, db_path):
    old = time.time() - 30 * 86400  # past the 7-day raw retention
    conn = local(db_path)
    web = add_component(conn, "web")
    add_results(conn, web, 40, ts=old)
    conn.close()
    await ship(runtime)  # the first 40 are shipped
    conn = local(db_path)
    add_results(conn, web, 60, ts=old + 1)  # 60 more, not shipped
    conn.close()
    retention = runtime.config.settings.retention
    protect = await keep_unshipped(runtime, now=time.time())
    assert protect is not None
    deleted = await prune(runtime.writer, retention, now=time.time(), protect=protect)
    assert deleted["check_results"] == 40
    with local(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM check_results").fetchone() == (60,)
    # The disk is "nearly full": unshipped rows go too, and are counted.
    runtime.config.settings.fleet = fleet_settings(centre, min_free="1000000TB")
    protect = await keep_unshipped(runtime, now=time.time())
    assert protect is None
    deleted = await prune(runtime.writer, retention, now=time.time(), protect=protect)
    assert deleted["check_results"] == 60
    with local(db_path) as conn:
        assert conn.execute("SELECT dropped_unshipped FROM fleet_marks WHERE table_name = 'check_results'").fetchone() == (60,)
    assert runtime._read(fleet_sql.status, time.time()) is None  # no round recorded a status yet


async def test_a_breaker_is_resent_when_its_state_changes_not_for_every_counted_success(runtime, centre, db_path):
    conn = local(db_path)
    web = add_component(conn, "web")
    set_breaker(conn, web, "closed")
    conn.close()
    shipper = FleetShipper(runtime, runtime.config.settings.fleet)
    try:
        assert await asyncio.to_thread(shipper._round) >= 2  # the component and its breaker
        conn = local(db_path)
        conn.execute("UPDATE breakers SET consecutive_successes = 41, updated_at = updated_at + 1")
        conn.close()
        assert await asyncio.to_thread(shipper._round) == 0
        assert centre.rows("SELECT consecutive_successes FROM breakers") == [(0,)]
        conn = local(db_path)
        conn.execute("UPDATE breakers SET state = 'open', consecutive_successes = 0, consecutive_failures = 3")
        conn.close()
        assert await asyncio.to_thread(shipper._round) == 1
        assert centre.rows("SELECT state, consecutive_failures FROM breakers") == [("open", 3)]
    finally:
        shipper._executor.shutdown(wait=False)
        shipper._engine.dispose()
