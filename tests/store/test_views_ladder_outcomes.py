"""recovery_ladder_outcomes: per component and strategy, from seeded recovery events."""

from __future__ import annotations


def test_ladder_outcomes_count_attempts_successes_and_median_time_to_verified_health(seed, view):
    app = seed.component("app")
    db = seed.component("db")
    seed.component("quiet")  # no recovery event: no row
    incident = seed.incident(app, ago=7200)
    t = seed.now - 3600
    for status, extra, verified_after in [
        ("succeeded", {}, 2.0),
        ("succeeded", {}, 6.0),
        ("succeeded", {}, 4.0),
        ("failed", {}, None),
        ("interrupted", {}, None),
        ("started", {}, None),  # still running: in_progress, not an attempt
        ("skipped", {}, None),  # never ran
        ("succeeded", {"dry_run": 1}, 1.0),  # chaos dry run: recorded, not performed
        ("failed", {"strategy": "restore", "step": 1}, None),
        ("succeeded", {"strategy": "fallback", "step": 2, "candidate": "app-standby", "action": "activate"}, 3.0),
        ("succeeded", {"strategy": "fallback", "step": 2, "candidate": "app-standby", "action": "deactivate"}, 1.5),
    ]:
        if verified_after is not None:
            extra["verified_at"] = t + verified_after
        if status != "started":
            extra["finished_at"] = t + (verified_after or 1.0)
        seed.insert(
            "recovery_events",
            incident_id=incident,
            component_id=app,
            strategy=extra.pop("strategy", "retry"),
            step=extra.pop("step", 0),
            attempt=1,
            reason="test",
            status=status,
            started_at=t,
            **extra,
        )
    seed.recovery(seed.incident(db, ago=60), db, ago=30, status="failed")

    rows = {(r["component"], r["strategy"]): r for r in view("recovery_ladder_outcomes")}

    assert set(rows) == {
        ("app", "retry"),
        ("app", "restore"),
        ("app", "fallback"),
        ("app", "failback"),
        ("db", "retry"),
    }
    retry = rows[("app", "retry")]
    assert (retry["attempts"], retry["succeeded"], retry["failed"], retry["interrupted"]) == (5, 3, 1, 1)
    assert retry["success_pct"] == 60.0
    assert retry["median_to_verified_s"] == 4.0 and retry["max_to_verified_s"] == 6.0
    assert retry["in_progress"] == 1
    assert rows[("app", "restore")]["success_pct"] == 0.0 and rows[("app", "restore")]["median_to_verified_s"] is None
    assert rows[("app", "fallback")]["median_to_verified_s"] == 3.0  # the activation, not the switch back
    assert rows[("app", "failback")]["median_to_verified_s"] == 1.5
    assert rows[("db", "retry")]["attempts"] == 1 and rows[("db", "retry")]["succeeded"] == 0


def test_ladder_outcomes_median_of_an_even_count_is_the_mean_of_the_middle_two(seed, view):
    app = seed.component("app")
    incident = seed.incident(app, ago=600)
    for seconds in (1.0, 2.0, 10.0, 3.0):
        seed.recovery(
            incident,
            app,
            ago=300,
            status="succeeded",
            verified_at=seed.now - 300 + seconds,
            finished_at=seed.now - 300 + seconds,
        )
    (row,) = view("recovery_ladder_outcomes")
    assert row["median_to_verified_s"] == 2.5
