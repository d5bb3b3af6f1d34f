"""Waits between retry attempts: the formulas of AWS's "Exponential Backoff And Jitter", as pure functions.

Why jitter at all: when a shared dependency fails, every component retries at once; without
randomness their retries stay in lockstep and hit the dependency together. Full jitter does the least
total work, decorrelated finishes slightly sooner, equal jitter loses to both, and all beat `none`.

The random source is passed in (a `random.Random`), so a seeded generator makes every wait exact in
tests, and the healer can persist what it drew: the wait is part of the recovery's stored state.

With base = `initial`, cap = `max`, and attempt n counted from 0 (the wait before the first retry):

    expo(n)       = min(cap, base · multiplier^n)
    none          = expo(n)
    full          = U(0, expo(n))
    equal         = expo(n)/2 + U(0, expo(n)/2)
    decorrelated  = min(cap, U(base, prev · 3)), prev = base before the first attempt

Decorrelated jitter grows from the previous wait, not from n, and its factor 3 is the reference's
constant: `multiplier` shapes only `expo`. Should `initial` exceed `max`, the cap wins everywhere.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from daemon.config.models import Backoff

#: The reference's growth factor for decorrelated jitter.
DECORRELATED_FACTOR = 3.0


def expo(backoff: Backoff, attempt: int) -> float:
    """Capped exponential wait in seconds for attempt `attempt` (0-based), without jitter."""
    if attempt < 0:
        raise ValueError(f"attempts count from 0, got {attempt}")
    base, cap = backoff.initial.total_seconds(), backoff.max.total_seconds()
    # Compare in logarithms first: multiplier**attempt overflows a float long before attempts run out.
    if backoff.multiplier > 1 and attempt * math.log(backoff.multiplier) >= math.log(cap / base):
        return cap
    return min(cap, base * backoff.multiplier**attempt)


def next_delay(backoff: Backoff, attempt: int, prev: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt `attempt`; `prev` is the previous wait (decorrelated jitter only)."""
    ceiling = expo(backoff, attempt)
    if backoff.jitter == "none":
        return ceiling
    if backoff.jitter == "full":
        return rng.uniform(0.0, ceiling)
    if backoff.jitter == "equal":
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)
    cap = backoff.max.total_seconds()
    base = min(backoff.initial.total_seconds(), cap)
    previous = base if prev is None else max(prev, base)
    return min(cap, rng.uniform(base, previous * DECORRELATED_FACTOR))


def delays(backoff: Backoff, rng: random.Random) -> Iterator[float]:
    """The endless sequence of waits, threading `prev` through for decorrelated jitter."""
    prev: float | None = None
    attempt = 0
    while True:
        prev = next_delay(backoff, attempt, prev, rng)
        yield prev
        attempt += 1


def restart_delay(repeat: int, backoff: Backoff, cap: float) -> float:
    """Seconds the first action of an incident waits when `repeat` incidents came before it recently.

    Kubernetes' CrashLoopBackOff in the step's own terms: the first incident and the first repeat act
    at once (a service killed twice is restarted twice, at once), then the wait follows the step's
    backoff curve without jitter — `expo(repeat - 2)` — capped by `cap`. No jitter: this wait is per
    component and is shown to operators by `explain`, so it must be the same number every time.
    """
    if repeat <= 1:
        return 0.0
    return min(cap, expo(backoff, repeat - 2))
