"""Clocks are injected so state machines (breaker, backoff, degradation) are exact in tests.

`monotonic()` measures in-process durations (immune to NTP steps); `wall()` is UTC unix seconds for
anything stored, because a stored deadline must mean the same instant after a restart.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to; both readings advance together."""

    def __init__(self, wall: float = 1_800_000_000.0, monotonic: float = 1_000.0) -> None:
        self._wall = wall
        self._mono = monotonic

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._wall += seconds
        self._mono += seconds


SYSTEM_CLOCK = SystemClock()
