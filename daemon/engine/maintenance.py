"""Maintenance windows and silences as pure functions of the config, the stored silences and a time.

Which planned period covers a component now decides whether the healer may act on it; keeping that a
function of (windows, silences, now) makes it exact in tests and the same answer in `explain`,
`status` and the healer. A window's occurrence is computed, not scheduled: a daemon started in the
middle of a window is in it at once, and a window that ended while it was down is simply over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daemon.config.models import MaintenanceWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: a cron firing every minute with a week-long duration still ends the search in bounded time.
_MAX_FIRES = 20_000


@dataclass(frozen=True)
class Period:
    """One occurrence of a window, or one silence. `component` None covers every component."""

    kind: str  # "window" | "silence"
    name: str | None
    component: str | None
    starts_at: float
    ends_at: float
    reason: str = ""
    id: int | None = None

    def covers(self, component: str, now: float) -> bool:
        return self.starts_at <= now < self.ends_at and (self.component is None or self.component == component)

    def describe(self, now: float | None = None) -> str:
        what = f"maintenance window {self.name}" if self.kind == "window" else "silenced"
        who = "" if self.component is None else f" ({self.component})"
        why = f": {self.reason}" if self.reason else ""
        ends = datetime.fromtimestamp(self.ends_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{what}{who}{why}; until {ends}"


def occurrence(window: MaintenanceWindow, now: float) -> tuple[float, float] | None:
    """(start, end) of the occurrence of `window` in force at `now`, or None."""
    duration = window.duration.total_seconds()
    tz = ZoneInfo(window.timezone)
    if window.cron is not None:
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger.from_crontab(window.cron, timezone=tz)
        found = None
        fire = trigger.get_next_fire_time(None, datetime.fromtimestamp(now - duration, UTC))
        for _ in range(_MAX_FIRES):
            if fire is None or fire.timestamp() > now:
                break
            found = fire.timestamp()
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if found is not None and found + duration > now:
            return found, found + duration
        return None
    assert window.start is not None
    hour, minute = (int(x) for x in window.start.split(":"))
    days = set(window.weekdays) if window.weekdays else set(_DAYS)
    today = datetime.fromtimestamp(now, tz).date()
    best = None
    for back in range(int(duration // 86400) + 2):
        day = today - timedelta(days=back)
        if _DAYS[day.weekday()] not in days:
            continue
        start = datetime.combine(day, time(hour, minute), tz).timestamp()
        if start <= now < start + duration and (best is None or start > best):
            best = start
    return None if best is None else (best, best + duration)


def window_periods(windows: list[MaintenanceWindow], now: float) -> list[Period]:
    """The occurrences in force at `now`: one period per covered component (or one for all)."""
    out = []
    for window in windows:
        found = occurrence(window, now)
        if found is None:
            continue
        targets: list[str | None] = list(window.components) if window.components else [None]
        for component in targets:
            out.append(Period("window", window.name, component, found[0], found[1], window.reason))
    return out


def covering(periods: list[Period], component: str, now: float) -> Period | None:
    """The period that holds `component` longest from now (what explain names), or None."""
    live = [p for p in periods if p.covers(component, now)]
    return max(live, key=lambda p: (p.ends_at, p.kind == "silence")) if live else None
