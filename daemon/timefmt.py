"""How healerd writes a moment and a length of time for people: one spelling everywhere.

Reasons recorded by decide(), `healerd explain`, the status pages, notifications and the CLI all print
through here, so an incident reads the same in each ("healthy for 42s", "2024-05-01T10:00:00Z").
Config values are spelled exactly by config/durations.py (`format_duration`), which round-trips; this
module is for reading, not for parsing back. UTC always: hosts in a fleet disagree about local time.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float, *, digits: int = 0, sep: str = "T") -> str:
    """`2024-05-01T10:00:00Z`; `digits` 3 or 6 adds milliseconds or microseconds (truncated, not rounded)."""
    text = datetime.fromtimestamp(ts, UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")
    return (text[: len(text) - 6 + digits] if digits else text[:-7]) + "Z"


def iso_or(ts: float | None, missing: str, *, digits: int = 0, sep: str = "T") -> str:
    """`iso(ts)`, or `missing` when there is no moment."""
    return missing if ts is None else iso(ts, digits=digits, sep=sep)


def clock_time(ts: float) -> str:
    """`10:00:00.123`: the time of day to the millisecond, for lines under a dated heading."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


def span(seconds: float) -> str:
    """A rough, readable length of time ("2.4s", "42s", "7m", "1.5h"); negative lengths read as 0."""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
