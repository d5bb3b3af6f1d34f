"""recovery_success_rate and recovery_mttr, from seeded recovery events and breaker transitions."""

from __future__ import annotations

import pytest


def test_recovery_success_rate_counts_finished_real_repairs_of_the_last_24h(seed, view):
    app = seed.component("app")
    db = seed.component("db")
    incident = seed.incident(app, ago=7200)
    for status, extra in [
        ("succeeded", {}),
        ("failed", {}),
        ("failed", {"strategy": "restore", "step": 1}),
        ("interrupted", {"strategy": "fallback", "step": 2, "candidate": "app-standby"}),
        ("started", {}),  # still running
        ("skipped", {}),  # never ran
        ("succeeded", {"strategy": "escalate", "step": 3}),  # a notification, not a repair
        ("succeeded", {"dry_run": 1}),  # chaos dry run: recorded, not performed
    ]:
        seed.recovery(incident, app, ago=3600, status=status, **extra)
    seed.recovery(incident, app, ago=25 * 3600, status="succeeded")  # outside the window
    seed.recovery(seed.incident(db, ago=60), db, ago=30, status="started")

    rows = {r["component"]: r for r in view("recovery_success_rate")}

    app_row = rows["app"]
    assert (app_row["attempts"], app_row["succeeded"], app_row["failed"], app_row["interrupted"]) == (4, 1, 2, 1)
    assert app_row["success_pct"] == 25.0
    assert app_row["in_progress"] == 1
    assert rows["db"]["attempts"] == 0 and rows["db"]["success_pct"] is None and rows["db"]["in_progress"] == 1


def outage(seed, component: int, start: float, seconds: float, *, flaps: int = 0) -> None:
    """closed → open at `start`, `flaps` failed half-open probes, closed again `seconds` later."""
    seed.transition(component, start, "closed", "open", "3 consecutive failures")
    t = start
    for _ in range(flaps):
        seed.transition(component, t + 1, "open", "half_open", "open_for elapsed")
        seed.transition(component, t + 2, "half_open", "open", "probe failed")
        t += 2
    seed.transition(component, start + seconds - 1, "open", "half_open", "open_for elapsed")
    seed.transition(component, start + seconds, "half_open", "closed", "2 successes")


def test_recovery_mttr_mean_and_median_from_open_to_next_close(seed, view):
    app = seed.component("app")
    db = seed.component("db")
    seed.component("quiet")
    base = seed.now - 86400
    outage(seed, app, base, 100, flaps=2)  # re-opens from half-open stay in the same outage
    outage(seed, app, base + 1000, 20)
    outage(seed, app, base + 2000, 60)
    outage(seed, app, base + 3000, 40)
    # An operator forcing the breaker open and resetting it is not an outage.
    seed.transition(app, base + 4000, "closed", "forced_open", "operator")
    seed.transition(app, base + 4500, "forced_open", "closed", "operator reset")
    seed.transition(db, seed.now - 50, "closed", "open", "refused")  # still open

    rows = {r["component"]: r for r in view("recovery_mttr")}

    assert set(rows) == {"app", "db"}  # components that never opened are not listed
    app_row = rows["app"]
    assert app_row["recoveries"] == 4
    assert app_row["mean_s"] == 55.0  # (100 + 20 + 60 + 40) / 4
    assert app_row["median_s"] == 50.0  # (40 + 60) / 2
    assert (app_row["min_s"], app_row["max_s"]) == (20.0, 100.0)
    assert app_row["open_since"] is None
    assert rows["db"]["recoveries"] == 0 and rows["db"]["mean_s"] is None and rows["db"]["open_since"] is not None


def test_recovery_mttr_median_of_an_odd_count_is_the_middle_value(seed, view):
    app = seed.component("app")
    base = seed.now - 86400
    for i, seconds in enumerate([7, 300, 12]):
        outage(seed, app, base + i * 1000, seconds)
    (row,) = view("recovery_mttr")
    assert row["median_s"] == 12.0
    assert row["mean_s"] == pytest.approx(106.333, abs=1e-3)
