"""The shipper against a real PostgreSQL: new rows arrive once, replays duplicate nothing, rows that
change are re-sent until final, a centre at another schema gets nothing, retention keeps unshipped rows."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa
from kit import FakeRuntime, add_component, add_results, fleet_settings, local, open_incident, set_breaker

from daemon.errors import FleetSchemaError
from daemon.service.fleet_retention import keep_unshipped
from daemon.store import fleet_migrate, fleet_sql
from daemon.store.retention import prune


@pytest.fixture
async def runtime(db_path, centre):
    rt = FakeRuntime(db_path, fleet_settings(centre), components=("web", "db"))
    await rt.writer.start()
    yield rt
    await rt.writer.stop()


async def ship(rt) -> int:
    shipper = rt.shipper()
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
    assert runtime.read(fleet_sql.lag, time.time()) == pytest.approx(120, abs=5)
    await ship(runtime)
    assert runtime.read(fleet_sql.lag, time.time()) == 0.0


async def test_retention_keeps_unshipped_rows_and_prunes_them_counted_only_when_the_disk_would_fill(
    runtime, centre, db_path
):
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
    protect = await keep_unshipped(runtime.config, runtime.store, now=time.time())
    assert protect is not None
    deleted = await prune(runtime.writer, retention, now=time.time(), protect=protect)
    assert deleted["check_results"] == 40
    with local(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM check_results").fetchone() == (60,)
    # The disk is "nearly full": unshipped rows go too, and are counted.
    runtime.config.settings.fleet = fleet_settings(centre, min_free="1000000TB")
    protect = await keep_unshipped(runtime.config, runtime.store, now=time.time())
    assert protect is None
    deleted = await prune(runtime.writer, retention, now=time.time(), protect=protect)
    assert deleted["check_results"] == 60
    with local(db_path) as conn:
        assert conn.execute(
            "SELECT dropped_unshipped FROM fleet_marks WHERE table_name = 'check_results'"
        ).fetchone() == (60,)
    assert runtime.read(fleet_sql.status, time.time()) is None  # no round recorded a status yet


async def test_a_breaker_is_resent_when_its_state_changes_not_for_every_counted_success(runtime, centre, db_path):
    conn = local(db_path)
    web = add_component(conn, "web")
    set_breaker(conn, web, "closed")
    conn.close()
    shipper = runtime.shipper()
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


async def test_a_silence_reaches_the_centres_maintenance_windows_and_so_does_its_early_clear(runtime, centre, db_path):
    from daemon.store import maintenance_sql

    conn = local(db_path)
    add_component(conn, "web")
    now = time.time()
    silence = maintenance_sql.add_silence(conn, "web", 3600, "disk swap", now)
    # A window occurrence never changes, and a silence that ended is final: neither keeps the mark open.
    maintenance_sql.record_window(conn, "nightly", None, now - 7200, now - 3600, "backup", now - 7200)
    conn.close()
    await ship(runtime)
    assert centre.rows(
        "SELECT host, id, component, kind, reason, cleared_early, active FROM maintenance_windows "
        "WHERE kind = 'silence'"
    ) == [("alpha", silence, "web", "silence", "disk swap", 0, 1)]
    assert centre.rows("SELECT component, active FROM maintenance_windows WHERE kind = 'window'") == [("*", 0)]
    assert marks(db_path)["maintenance_periods"] == (silence + 1, silence)  # the silence may still be cleared
    conn = local(db_path)
    assert maintenance_sql.clear_silences(conn, "web", time.time()) == 1
    conn.close()
    await ship(runtime)
    assert centre.rows("SELECT cleared_early, active FROM maintenance_windows WHERE kind = 'silence'") == [(1, 0)]
    assert marks(db_path)["maintenance_periods"] == (silence + 1, None)  # cleared: final


def test_an_ended_silence_is_final_without_being_cleared():
    from daemon.store import fleet_sql as sql
    from daemon.store.fleet_models import SHIPPED

    spec = next(s for s in SHIPPED if s.table == "maintenance_periods")
    row = {"kind": "silence", "cleared_at": None, "ends_at": 1000.0}
    assert sql.is_open(spec, row, now=1000.0 + sql.SILENCE_GRACE_S - 1)
    assert not sql.is_open(spec, row, now=1000.0 + sql.SILENCE_GRACE_S)
    assert not sql.is_open(spec, {**row, "cleared_at": 900.0}, now=950.0)
    assert not sql.is_open(spec, {**row, "kind": "window"}, now=950.0)


async def test_the_centres_availability_matches_the_hosts_with_maintenance_left_out(runtime, centre, db_path):
    from daemon.store import results_sql

    conn = local(db_path)
    web = add_component(conn, "web")
    now = time.time() - 5
    # (status, maintenance): 2 healthy and 1 degraded counted, 1 unhealthy counted; in maintenance an
    # unhealthy and a healthy check, which neither fraction may count.
    checks = [("healthy", 0), ("healthy", 0), ("degraded", 0), ("unhealthy", 0), ("unhealthy", 1), ("healthy", 1)]
    with conn:
        conn.execute("BEGIN")
        results_sql.write_results(
            conn,
            [(web, now + i * 0.01, status, 2.0 + i, None, None, 0, None, m) for i, (status, m) in enumerate(checks)],
        )
    columns = (
        "checks",
        "healthy",
        "degraded",
        "unhealthy",
        "unknown",
        "availability_pct",
        "healthy_pct",
        "avg_latency_ms",
        "min_latency_ms",
        "max_latency_ms",
        "injected",
        "maintenance_checks",
        "since",
    )
    here = {
        view: conn.execute(f"SELECT {', '.join(columns)} FROM {view}").fetchall()
        for view in ("component_availability_24h", "component_availability_7d", "component_availability_30d")
    }
    conn.close()
    await ship(runtime)
    for view, rows in here.items():
        assert rows[0][5:7] == (75.0, 50.0), view  # 3 of 4 up, 2 of 4 healthy
        assert centre.rows(f"SELECT {', '.join(columns)} FROM {view}") == rows, view
    assert centre.rows("SELECT availability_pct, maintenance_checks FROM fleet_availability_24h") == [(75.0, 2)]
