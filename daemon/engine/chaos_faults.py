"""In-daemon faults: rewrite the target's check results instead of breaking the service itself.

`latency`, `error` and `unavailable` never touch the target. The monitor passes each of the target's
results through the injector before recording it (service/monitor.py `injectors`), and every result an
injector changed carries `injected=True`, so reports can tell an experiment from a real outage.

Decisions:

* **latency** does not slow the check down: waiting for real would hold a check slot and delay the
  scheduler, and the point is what healerd concludes from a slow answer. The result is rewritten as if
  it had taken `delay` longer: past the check's `timeout` it becomes unhealthy/`timeout`; past
  `degraded_over` a healthy result becomes degraded; otherwise only the latency grows (still marked
  injected: the number is not real).
* **error** fails a share `rate` of the results, drawn from a `random.Random` seeded with the run id, so a
  run can be replayed exactly; a failed result is unhealthy with error class `error`.
* **unavailable** fails every result as unhealthy/`refused` (what an unreachable service looks like).
* A result that was already failing keeps its own status and error class: the fault adds to reality, it
  never hides a real failure, and it is not marked injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from daemon.config.models import Component, ErrorFault, LatencyFault, UnavailableFault
from daemon.types import CheckResult, Status

Injector = Callable[[CheckResult], CheckResult]


def make_injector(fault: object, component: Component, *, run_id: int) -> Injector:
    """The result rewriter for one run of an in-daemon fault on `component`."""
    tag = f"chaos run {run_id}"
    if isinstance(fault, LatencyFault):
        return _latency(fault, component, tag)
    if isinstance(fault, ErrorFault):
        return _error(fault, random.Random(run_id), tag)
    if isinstance(fault, UnavailableFault):
        return _unavailable(tag)
    raise ValueError(f"{getattr(fault, 'kind', fault)!r} is not an in-daemon fault")


def _failing(result: CheckResult) -> bool:
    return result.status in (Status.UNHEALTHY, Status.UNKNOWN)


def _latency(fault: LatencyFault, component: Component, tag: str) -> Injector:
    delay_ms = fault.delay.total_seconds() * 1000.0
    timeout_ms = component.check.timeout.total_seconds() * 1000.0
    degraded_over = component.check.degraded_over
    degraded_ms = None if degraded_over is None else degraded_over.total_seconds() * 1000.0

    def inject(result: CheckResult) -> CheckResult:
        if _failing(result):
            return result
        latency = result.latency_ms + delay_ms
        if latency > timeout_ms:
            return replace(
                result,
                status=Status.UNHEALTHY,
                latency_ms=timeout_ms,
                error_class="timeout",
                message=f"{tag}: +{delay_ms:g} ms latency exceeds the {timeout_ms:g} ms timeout",
                injected=True,
            )
        if degraded_ms is not None and latency > degraded_ms and result.status is Status.HEALTHY:
            return replace(
                result,
                status=Status.DEGRADED,
                latency_ms=latency,
                message=f"{tag}: +{delay_ms:g} ms latency, over degraded_over {degraded_ms:g} ms",
                injected=True,
            )
        return replace(
            result, latency_ms=latency, message=f"{result.message} ({tag}: +{delay_ms:g} ms)".strip(), injected=True
        )

    return inject


def _error(fault: ErrorFault, rng: random.Random, tag: str) -> Injector:
    def inject(result: CheckResult) -> CheckResult:
        if _failing(result) or rng.random() >= fault.rate:
            return result
        return replace(
            result,
            status=Status.UNHEALTHY,
            error_class="error",
            message=f"{tag}: injected error (rate {fault.rate:g})",
            injected=True,
        )

    return inject


def _unavailable(tag: str) -> Injector:
    def inject(result: CheckResult) -> CheckResult:
        if _failing(result):
            return result
        return replace(
            result,
            status=Status.UNHEALTHY,
            error_class="refused",
            latency_ms=0.0,
            message=f"{tag}: target made unavailable",
            injected=True,
        )

    return inject
