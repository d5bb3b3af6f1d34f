"""The health views: numbers computed from seeded rows, against the real clock."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from helpers import wait_until

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_current_system_status_shows_latest_result_staleness_breaker_and_incident(seed, view):
    app = seed.component("app", every_s=5)
    db = seed.component("db", every_s=5, weight=3)
    seed.component("cache")  # never checked: its row must still show
    gone = seed.component("gone", removed_at=seed.now - 60)
    seed.result(app, ago=60, status="healthy")
    seed.result(app, ago=10, status="degraded", latency_ms=420.0, message="slow")
    seed.result(db, ago=100, status="unhealthy", error_class="refused", message="connection refused")
    seed.result(gone, ago=1)
    seed.insert(
        "breakers",
        component_id=db,
        state="open",
        since=seed.now - 90,
        open_until=seed.now + 30,
        updated_at=seed.now - 90,
    )
    seed.incident(db, ago=90)
    seed.incident(app, ago=3600, status="resolved", closed_at=seed.now - 3000)

    rows = {r["component"]: r for r in view("current_system_status")}

    assert list(rows) == ["app", "cache", "db"]  # sorted, removed component left out
    assert rows["app"]["status"] == "degraded" and rows["app"]["last_status"] == "degraded"
    assert rows["app"]["latency_ms"] == 420.0 and rows["app"]["message"] == "slow"
    assert rows["app"]["age_s"] == pytest.approx(10, abs=2)
    assert rows["app"]["breaker_state"] == "closed" and rows["app"]["incident_id"] is None
    # db's latest result is 100 s old with a 5 s interval: stale, so unknown, whatever it said.
    assert rows["db"]["status"] == "unknown" and rows["db"]["last_status"] == "unhealthy"
    assert rows["db"]["error_class"] == "refused"
    assert rows["db"]["breaker_state"] == "open" and rows["db"]["incident_id"] is not None
    assert rows["db"]["weight"] == 3.0
    assert ISO.match(rows["db"]["open_until"])
    assert rows["cache"]["status"] == "unknown" and rows["cache"]["last_check_at"] is None


def test_current_system_status_renders_times_as_iso_utc_with_milliseconds(seed, view):
    app = seed.component("app", every_s=60)
    seed.insert("check_results", component_id=app, ts=1_800_000_000.25, status="healthy")
    (row,) = view("current_system_status")
    assert row["last_check_at"] == "2027-01-15T08:00:00.250Z"


def test_active_circuit_breakers_lists_every_state_but_closed_with_deadline_and_reason(seed, view):
    names = ["closed-one", "open-one", "half-one", "forced-one", "off-one"]
    ids = {name: seed.component(name) for name in names}
    states = {
        "closed-one": ("closed", 500, None),
        "open-one": ("open", 20, seed.now + 10),
        "half-one": ("half_open", 40, seed.now - 5),
        "forced-one": ("forced_open", 60, None),
        "off-one": ("disabled", 80, None),
    }
    for name, (state, ago, until) in states.items():
        seed.insert(
            "breakers",
            component_id=ids[name],
            state=state,
            since=seed.now - ago,
            open_until=until,
            consecutive_failures=3 if state == "open" else 0,
            updated_at=seed.now - ago,
        )
    seed.transition(ids["open-one"], seed.now - 300, "closed", "open", "old reason")
    seed.transition(ids["open-one"], seed.now - 20, "half_open", "open", "3 consecutive failures (refused)")

    rows = view("active_circuit_breakers")

    assert [r["component"] for r in rows] == ["off-one", "forced-one", "half-one", "open-one"]  # oldest first
    by_name = {r["component"]: r for r in rows}
    assert by_name["open-one"]["remaining_s"] == pytest.approx(10, abs=2)
    assert by_name["open-one"]["for_s"] == pytest.approx(20, abs=2)
    assert by_name["open-one"]["reason"] == "3 consecutive failures (refused)"
    assert by_name["open-one"]["consecutive_failures"] == 3
    assert by_name["half-one"]["remaining_s"] == 0  # the deadline passed: never negative
    assert by_name["forced-one"]["remaining_s"] is None and by_name["forced-one"]["open_until"] is None


def test_recent_health_failures_keeps_the_last_hours_failures_newest_first(seed, view):
    app = seed.component("app")
    db = seed.component("db")
    seed.result(app, ago=600, status="unhealthy", error_class="timeout")
    seed.result(app, ago=1800, status="unknown", error_class="error")
    seed.result(app, ago=300, status="degraded")
    seed.result(app, ago=200, status="healthy")
    seed.result(app, ago=3700, status="unhealthy")  # older than an hour
    seed.result(db, ago=60, status="unhealthy", error_class="refused", injected=1, message="chaos")

    rows = view("recent_health_failures")

    assert [(r["component"], r["status"], r["error_class"]) for r in rows] == [
        ("db", "unhealthy", "refused"),
        ("app", "unhealthy", "timeout"),
        ("app", "unknown", "error"),
    ]
    assert [r["injected"] for r in rows] == [1, 0, 0]
    assert all(ISO.match(r["ts"]) for r in rows)


def test_component_availability_24h_sums_the_last_24_hourly_rollups(seed, view):
    # The window moves on the hour: never seed in the last seconds of one and read in the next.
    if 3600 - seed.now % 3600 < 5:
        wait_until(lambda: time.time() % 3600 < 5, timeout=10, message="the next hour")
        seed.now = time.time()
    app = seed.component("app")
    seed.component("idle")  # no rollups: it shows with 0 checks
    seed.rollup(app, 0, healthy=50, degraded=10, latency_sum_ms=600.0, latency_min_ms=1.0, latency_max_ms=30.0)
    seed.rollup(
        app,
        23,
        healthy=30,
        unhealthy=8,
        unknown=2,
        injected=5,
        latency_sum_ms=400.0,
        latency_min_ms=2.0,
        latency_max_ms=50.0,
    )
    seed.rollup(app, 24, unhealthy=1000, latency_sum_ms=1e6, latency_min_ms=0.1, latency_max_ms=9e3)  # too old

    rows = {r["component"]: r for r in view("component_availability_24h")}

    app_row = rows["app"]
    assert (app_row["checks"], app_row["healthy"], app_row["degraded"]) == (100, 80, 10)
    assert (app_row["unhealthy"], app_row["unknown"], app_row["injected"]) == (8, 2, 5)
    assert app_row["availability_pct"] == 90.0  # healthy + degraded count as up
    assert app_row["healthy_pct"] == 80.0
    assert app_row["avg_latency_ms"] == 10.0
    assert (app_row["min_latency_ms"], app_row["max_latency_ms"]) == (1.0, 50.0)
    first_hour = int(seed.now // 3600) * 3600 - 23 * 3600
    assert app_row["since"] == dt.datetime.fromtimestamp(first_hour, dt.UTC).strftime("%Y-%m-%dT%H:00:00.000Z")
    assert rows["idle"]["checks"] == 0 and rows["idle"]["availability_pct"] is None
