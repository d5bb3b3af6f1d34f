"""active_degradation and chaos_experiment_results, from seeded state rows."""

from __future__ import annotations

import pytest


def degradation(seed, **values) -> None:
    row = {
        "id": 1,
        "level": "reduced",
        "score": 75.5,
        "unknown_count": 1,
        "since": seed.now - 600,
        "updated_at": seed.now - 5,
    }
    row.update(values)
    seed.insert("degradation_state", **row)


def test_active_degradation_prefers_a_live_override_and_lists_disabled_flags(seed, view):
    degradation(seed, override_level="minimal", override_until=seed.now + 3600, override_reason="maintenance")
    seed.insert("feature_flag_state", name="search", enabled=0, reason="level reduced", updated_at=seed.now)
    seed.insert("feature_flag_state", name="export", enabled=0, reason="level reduced", updated_at=seed.now)
    seed.insert("feature_flag_state", name="checkout", enabled=1, updated_at=seed.now)

    (row,) = view("active_degradation")

    assert (row["level"], row["computed_level"], row["override_active"]) == ("minimal", "reduced", 1)
    assert row["score"] == 75.5 and row["unknown_count"] == 1
    assert row["override_reason"] == "maintenance"
    assert row["disabled_flags"] == "export,search"


@pytest.mark.parametrize(
    ("override_level", "until_offset", "level", "active"),
    [
        ("emergency", -1, "reduced", 0),  # expired: the computed level is back in force
        ("emergency", None, "emergency", 1),  # no end: in force until cleared
        (None, None, "reduced", 0),
    ],
)
def test_active_degradation_override_expiry(seed, view, override_level, until_offset, level, active):
    until = None if until_offset is None else seed.now + until_offset
    degradation(seed, override_level=override_level, override_until=until)
    (row,) = view("active_degradation")
    assert (row["level"], row["override_active"]) == (level, active)
    assert row["disabled_flags"] is None


def test_active_degradation_is_empty_before_the_first_score(view):
    assert view("active_degradation") == []


def test_chaos_experiment_results_times_detection_and_recovery_from_injection(seed, view):
    experiment = seed.insert("chaos_experiments", name="app-crash", target="app", loaded_at=seed.now - 3600)
    n = seed.now
    seed.insert(
        "chaos_runs",
        experiment_id=experiment,
        started_at=n - 100,
        injected_at=n - 95,
        detected_at=n - 94.5,
        recovered_at=n - 88,
        reverted_at=n - 65,
        finished_at=n - 60,
        verdict="passed",
        min_score=72.25,
        max_level="reduced",
    )
    seed.insert(
        "chaos_runs",
        experiment_id=experiment,
        started_at=n - 30,
        injected_at=n - 29,
        detected_at=n - 22,
        finished_at=n - 1,
        verdict="failed",
        reason="not recovered within 10s",
        min_score=40.0,
        max_level="minimal",
        dry_run=1,
        recommendations=["detection took 7 s: the check interval is 10 s", "add a process check"],
    )

    latest, first = view("chaos_experiment_results")  # newest first

    assert (first["experiment"], first["target"], first["verdict"]) == ("app-crash", "app", "passed")
    assert first["time_to_detect_s"] == 0.5 and first["time_to_recover_s"] == 7.0
    assert first["duration_s"] == 40.0 and first["min_score"] == 72.25 and first["max_level"] == "reduced"
    assert first["recommendations"] is None
    assert latest["verdict"] == "failed" and latest["reason"] == "not recovered within 10s"
    assert latest["time_to_detect_s"] == 7.0 and latest["time_to_recover_s"] is None
    assert latest["dry_run"] == 1
    assert latest["recommendations"] == "detection took 7 s: the check interval is 10 s; add a process check"


def test_feature_flags_view_shows_each_flag_on_or_off_with_its_reason(seed, view):
    seed.insert(
        "feature_flag_state", name="search", enabled=0, reason="level reduced ≥ off_at reduced", updated_at=seed.now
    )
    seed.insert("feature_flag_state", name="checkout", enabled=1, updated_at=seed.now)
    rows = view("feature_flags")
    assert [(r["name"], r["state"], r["reason"]) for r in rows] == [
        ("checkout", "on", None),
        ("search", "off", "level reduced ≥ off_at reduced"),
    ]
