"""Verification: a step succeeds only when the component's own check passes after the action.

The step waits for a check *result* rather than running a check itself, so the check that verifies is
the real one (same spec, same breaker, recorded in `check_results`) and the verdict is the one an
operator sees. While a step waits, its component is checked on the fast cadence and the next run is
pulled forward; a result counts only if its check started after the action finished, so a check that
was already in flight when the service came back cannot vouch for it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass

from daemon.service.healer.steps import Verification
from daemon.service.monitor import Monitor
from daemon.service.wiring import Cadence
from daemon.types import BreakerState, CheckResult


@dataclass
class _Waiter:
    since: float
    future: asyncio.Future
    last: CheckResult | None = None


class Verifier:
    def __init__(self, monitor: Monitor, cadence: Cadence) -> None:
        self.monitor = monitor
        self.cadence = cadence
        self._waiters: defaultdict[str, list[_Waiter]] = defaultdict(list)
        self._fast: Counter[str] = Counter()

    def wants_fast(self, name: str) -> bool:
        return self._fast[name] > 0

    async def verify(self, name: str, since: float, within: float) -> Verification:
        """Wait for a check of `name` that started after `since` and passed, up to `within` seconds."""
        waiter = _Waiter(since, asyncio.get_running_loop().create_future())
        self._waiters[name].append(waiter)
        self._hold_fast(name, +1)
        self.cadence.run_soon(name)
        try:
            async with asyncio.timeout(within):
                result = await waiter.future
            return Verification(result.ts, result)
        except TimeoutError:
            return Verification(None, waiter.last)
        finally:
            self._waiters[name].remove(waiter)
            self._hold_fast(name, -1)

    def _hold_fast(self, name: str, delta: int) -> None:
        self._fast[name] += delta
        breaker = self.monitor.breakers.get(name)
        half_open = breaker is not None and breaker.state is BreakerState.HALF_OPEN
        self.cadence.set_fast(name, self._fast[name] > 0 or half_open)

    def on_result(self, result: CheckResult) -> None:
        started = result.ts - result.latency_ms / 1000.0
        for waiter in self._waiters.get(result.component, ()):
            if started >= waiter.since and not waiter.future.done():
                waiter.last = result
                if not result.status.is_failure:
                    waiter.future.set_result(result)
