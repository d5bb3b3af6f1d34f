"""The documented range of every value an operator can write, enforced at validation.

Why a range and not just a type: a value that validates is a value the daemon will use. A fuzzer fed
healerd `every = "3650000d"` (APScheduler then fails to compute the next run and never re-arms its
timer, so nothing is checked again), `weight = inf` (the health score becomes NaN), a `json_equals`
nested 300 deep (serialising the component fails on every reload), NUL bytes in paths and argv (every
run logs a traceback) and a 1 MB URL. Each is refused here, at the key that holds it, so the file is
rejected with a clear error and its last good version stays in force.

One table instead of a bound on every field: the ranges are the operator's reference (README "Value
ranges"), and one place keeps the README and the code in step. `check()` is called for every field of
every config model (a wildcard validator on the models' base class), so a field added later is bounded
by the defaults below without anyone remembering to.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

#: Any duration anywhere (retention of a year of rollups fits; ten thousand years does not).
MAX_DURATION = timedelta(days=3650)
#: Durations with a tighter range, by field name (the same name means the same thing in every model).
DURATION_RANGES: dict[str, tuple[timedelta, timedelta]] = {
    # a check more often than every 100 ms is a busy loop; less often than daily is not monitoring
    "every": (timedelta(milliseconds=100), timedelta(days=1)),
    "fast_every": (timedelta(milliseconds=100), timedelta(hours=1)),
    "timeout": (timedelta(milliseconds=1), timedelta(hours=1)),
    "degraded_over": (timedelta(milliseconds=1), timedelta(hours=1)),
    "verify_within": (timedelta(milliseconds=1), timedelta(hours=1)),
    "open_for": (timedelta(milliseconds=1), timedelta(days=1)),
    "max_open_for": (timedelta(milliseconds=1), timedelta(days=1)),
    "initial": (timedelta(milliseconds=1), timedelta(days=1)),
    "max": (timedelta(milliseconds=1), timedelta(days=1)),
    # 0 allowed: an optional floor between incidents (issue 10's restart backoff does the waiting)
    "cooldown": (timedelta(0), timedelta(days=1)),
    # 0 allowed: no grouping, each escalation goes out at once
    "group_wait": (timedelta(0), timedelta(hours=1)),
    "hold": (timedelta(milliseconds=1), timedelta(days=1)),
    "snapshot_every": (timedelta(seconds=1), timedelta(days=1)),
    "prune_every": (timedelta(seconds=1), timedelta(days=1)),
    "shutdown_grace": (timedelta(milliseconds=1), timedelta(minutes=10)),
    "reload_debounce": (timedelta(milliseconds=1), timedelta(minutes=1)),
    "delay": (timedelta(milliseconds=1), timedelta(hours=1)),
    "duration": (timedelta(milliseconds=1), timedelta(days=1)),
}
#: Integers without a bound of their own stay below this (attempts, keep, consecutive_failures …).
MAX_INT = 1_000_000
#: Integers that count bytes or queue slots have their own bound.
INT_RANGES: dict[str, int] = {"min_size": 2**50, "max_queue": 10_000_000, "min_free": 2**62}
#: Numbers: finite, and no bigger than this unless a field says otherwise.
MAX_FLOAT = 1e9
FLOAT_RANGES: dict[str, float] = {"weight": 1e6}
#: Any string: a path is at most PATH_MAX, a URL well below what servers accept (8 KB).
MAX_STRING = 4096
STRING_RANGES: dict[str, int] = {"url": 2048, "description": 4096}
#: Lists, mappings and free-form values (json_equals): how many items and how deep.
MAX_ITEMS = 10_000
MAX_DEPTH = 32


def format_span(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms"


def check(field: str, value: Any) -> Any:
    """Raise ValueError (which pydantic reports at the field's key) when `value` is out of range."""
    if isinstance(value, timedelta):
        low, high = DURATION_RANGES.get(field, (timedelta(0), MAX_DURATION))
        if not low <= value <= high:
            raise ValueError(f"must be between {format_span(low) if low else '0'} and {format_span(high)}")
        return value
    _check_data(field, value, 0)
    return value


def _check_data(field: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, float):
        high = FLOAT_RANGES.get(field, MAX_FLOAT)
        if not math.isfinite(value) or abs(value) > high:
            raise ValueError(f"must be a finite number no bigger than {high:g}")
    elif isinstance(value, int):
        high = INT_RANGES.get(field, MAX_INT)
        if abs(value) > high:
            raise ValueError(f"must be no bigger than {high}")
    elif isinstance(value, str):
        check_text(value, STRING_RANGES.get(field, MAX_STRING))
    elif isinstance(value, (list, tuple, dict)):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"more than {MAX_ITEMS} items")
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        for key, item in items:
            if key is not None:
                _check_data(field, key, depth + 1)
            _check_data(field, item, depth + 1)


def check_text(value: str, limit: int = MAX_STRING) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL byte (no path, argument or URL can hold one)")
    if len(value) > limit:
        raise ValueError(f"{len(value)} characters is too long (limit {limit})")
    return value


def parse_bounded_seconds(number: str, unit_seconds: float) -> float:
    """Seconds of a duration as written, refused when beyond any range instead of overflowing later."""
    seconds = float(number) * unit_seconds
    if not math.isfinite(seconds) or seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"is longer than any duration healerd accepts ({format_span(MAX_DURATION)})")
    return seconds
