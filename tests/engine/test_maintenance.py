"""Maintenance windows and silences (issue 10): which period covers a component at a given time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from daemon.config.models import MaintenanceWindow
from daemon.engine.maintenance import Period, covering, occurrence, window_periods


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NIGHTLY = MaintenanceWindow(name="nightly", cron="0 2 * * *", duration="1h", components=["db"], reason="backup")
WEEKEND = MaintenanceWindow(name="weekend", start="23:30", weekdays=["sat"], duration="2h")  # 2026-11-28 is a Saturday
PARIS = MaintenanceWindow(name="paris", start="02:00", duration="30m", timezone="Europe/Paris")


@pytest.mark.parametrize(
    "window, now, expected",
    [
        (NIGHTLY, "2026-11-30T01:59:59", None),
        (NIGHTLY, "2026-11-30T02:00:00", ("2026-11-30T02:00:00", "2026-11-30T03:00:00")),
        (NIGHTLY, "2026-11-30T02:59:59", ("2026-11-30T02:00:00", "2026-11-30T03:00:00")),
        (NIGHTLY, "2026-11-30T03:00:00", None),  # the end is exclusive
        (WEEKEND, "2026-11-28T23:45:00", ("2026-11-28T23:30:00", "2026-11-29T01:30:00")),
        (WEEKEND, "2026-11-29T01:00:00", ("2026-11-28T23:30:00", "2026-11-29T01:30:00")),  # across midnight
        (WEEKEND, "2026-11-29T23:45:00", None),  # Sunday: not a listed day
        (PARIS, "2026-11-30T01:10:00", ("2026-11-30T01:00:00", "2026-11-30T01:30:00")),  # 02:00 CET = 01:00 UTC
        (PARIS, "2026-11-30T02:10:00", None),
    ],
)
def test_occurrence_in_force(window, now, expected) -> None:
    got = occurrence(window, at(now))
    assert got == (None if expected is None else (at(expected[0]), at(expected[1])))


def test_a_cron_firing_inside_its_own_duration_extends_from_the_latest_start() -> None:
    every_10m = MaintenanceWindow(name="often", cron="*/10 * * * *", duration="15m")
    assert occurrence(every_10m, at("2026-11-30T02:12:00")) == (at("2026-11-30T02:10:00"), at("2026-11-30T02:25:00"))


def test_window_periods_cover_the_listed_components_or_everyone() -> None:
    now = at("2026-11-30T02:30:00")
    periods = window_periods([NIGHTLY, MaintenanceWindow(name="all", cron="0 2 * * *", duration="1h")], now)
    assert covering(periods, "db", now).name in ("nightly", "all")
    assert covering(periods, "app", now).name == "all"
    assert covering(window_periods([NIGHTLY], now), "app", now) is None


def test_covering_names_the_period_that_holds_longest_and_says_why() -> None:
    now = 1000.0
    periods = [
        Period("window", "w", None, 900, 1100, "patching"),
        Period("silence", None, "db", 950, 2800, "disk swap"),
    ]
    p = covering(periods, "db", now)
    assert p.kind == "silence" and p.describe(now) == "silenced (db): disk swap; until 1970-01-01 00:46:40 UTC"
    assert (
        covering(periods, "app", now).describe(now) == "maintenance window w: patching; until 1970-01-01 00:18:20 UTC"
    )
    assert covering(periods, "app", 1100.0) is None


@pytest.mark.parametrize(
    "data, words",
    [
        ({"name": "x", "duration": "1h"}, "exactly one of cron or start"),
        ({"name": "x", "cron": "0 2 * *", "duration": "1h"}, "cron"),
        ({"name": "x", "cron": "0 2 * * *", "weekdays": ["mon"], "duration": "1h"}, "weekdays go with start"),
        ({"name": "x", "start": "24:00", "duration": "1h"}, "pattern"),
        ({"name": "x", "start": "01:00", "duration": "0s"}, "longer than zero"),
        ({"name": "x", "start": "01:00", "duration": "1h", "timezone": "Mars/Base"}, "unknown timezone"),
    ],
)
def test_bad_windows_are_refused_with_the_reason(data, words) -> None:
    with pytest.raises(ValueError, match=words):
        MaintenanceWindow.model_validate(data)


# --- the healer's gate -------------------------------------------------------------------------------

from dataclasses import replace  # noqa: E402

from healer_kit import T0, CloseIncident, Escalate, Wait, call, comp, escalate, opened, retry  # noqa: E402

from daemon.engine.ladder import LadderState, PendingResolved, record_escalation  # noqa: E402
from daemon.types import BreakerState  # noqa: E402

SILENCED = replace(
    comp(retry(), escalate(repeat_every="1m")),
    suppressed="silenced (app): disk swap; until 2027-01-15 10:00:00 UTC",
    suppressed_until=T0 + 7200,
)


@pytest.mark.parametrize(
    "ladder, breaker",
    [
        (LadderState(), BreakerState.OPEN),  # no incident opens, no step runs
        (opened(), BreakerState.OPEN),  # an open incident gets no step
        (record_escalation(opened(), "initial", 1, ("ops",), T0 - 3600, 1), BreakerState.OPEN),  # no reminder
        (opened(), BreakerState.HALF_OPEN),
    ],
)
def test_maintenance_holds_every_action_and_escalation_until_it_ends(ladder, breaker) -> None:
    d = call(SILENCED, ladder, breaker=breaker)
    assert isinstance(d, Wait) and d.until == T0 + 7200
    assert (
        d.reason
        == "silenced (app): disk swap; until 2027-01-15 10:00:00 UTC: checks run and are recorded; no action, no escalation"
    )


def test_in_maintenance_an_incident_still_closes_and_its_resolved_message_still_goes_out() -> None:
    assert isinstance(call(SILENCED, opened(), breaker=BreakerState.CLOSED), CloseIncident)
    owed = replace(LadderState(), resolved_pending=(PendingResolved(9, 1, ("ops",), T0 - 1),))
    d = call(SILENCED, owed, breaker=BreakerState.CLOSED)
    assert isinstance(d, Escalate) and d.kind == "resolved"


def test_healerd_check_names_a_window_covering_an_unknown_component(tmp_path) -> None:
    import os

    from daemon.config.loader import load_config

    (tmp_path / "policies.d").mkdir()
    (tmp_path / "healerd.toml").write_text(
        '[[maintenance]]\nname = "w"\ncron = "0 2 * * *"\nduration = "1h"\ncomponents = ["dbb"]\n'
    )
    for p in (tmp_path, tmp_path / "policies.d"):
        os.chmod(p, 0o755)
    os.chmod(tmp_path / "healerd.toml", 0o644)
    _loaded, problems = load_config(tmp_path)
    assert [(p.key, "no component named 'dbb'" in p.message) for p in problems] == [
        ("maintenance[0].components[0]", True)
    ]
