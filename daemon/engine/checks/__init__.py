"""Perform one health check of one component: `run_check` is the only entry point the scheduler needs.

Everything every kind must do is done here once: the check's `timeout` bounds the whole check
(`bounded.run_bounded`: `asyncio.timeout`'s semantics, armed only once a check has to wait), latency
is measured on the injected monotonic clock, a passing check slower than
`degraded_over` becomes `degraded`, and any exception a kind raises becomes an `unknown` result
carrying the exception's message — a broken check must be visible, never crash the daemon. Only
`CancelledError` (the daemon stopping) propagates.

Error classes: `timeout` when the check's timeout expires, `error` for an exception inside a kind;
the kinds add `refused`, `dns`, `bad_status`, `bad_body`, `exit_code`, `unknown` (a Nagios UNKNOWN),
`not_running`, `stale`, `missing`, `too_small`, `full`, `corrupt`. Healthy and degraded results carry
no error class. `ts` is the wall-clock time the check finished.
"""

from __future__ import annotations

import asyncio

import structlog

from daemon.clock import SYSTEM_CLOCK, Clock
from daemon.config.models import Component
from daemon.engine.checks.base import CheckContext, CheckFn, Outcome, short, unhealthy
from daemon.engine.checks.bounded import run_bounded
from daemon.engine.checks.disk import check_disk
from daemon.engine.checks.exec import check_exec
from daemon.engine.checks.file import check_file
from daemon.engine.checks.http import check_http, make_client
from daemon.engine.checks.process import check_process, find_pid, find_processes
from daemon.engine.checks.sqlite import check_sqlite
from daemon.engine.checks.systemd import check_systemd
from daemon.engine.checks.tcp import check_tcp
from daemon.types import CheckResult, Status

__all__ = ["CHECKS", "Outcome", "find_pid", "find_processes", "make_client", "run_check"]

log = structlog.get_logger(__name__)

#: kind (the config's `check.kind`) → the coroutine that performs it.
CHECKS: dict[str, CheckFn] = {
    "http": check_http,
    "tcp": check_tcp,
    "exec": check_exec,
    "process": check_process,
    "systemd": check_systemd,
    "file": check_file,
    "disk": check_disk,
    "sqlite": check_sqlite,
}


def _slow(outcome: Outcome, latency_ms: float, degraded_over_ms: float | None) -> Outcome:
    if outcome.status is Status.HEALTHY and degraded_over_ms is not None and latency_ms > degraded_over_ms:
        message = short(f"{outcome.message} (slow: {latency_ms:.0f} ms > {degraded_over_ms:.0f} ms)")
        return Outcome(Status.DEGRADED, message, perfdata=outcome.perfdata)
    return outcome


async def run_check(
    component: Component,
    *,
    clock: Clock = SYSTEM_CLOCK,
    client=None,
    cwd: str | None = None,
    ctx: CheckContext | None = None,
) -> CheckResult:
    """One observation of `component`; never raises except CancelledError. A caller running many
    checks passes one `ctx` (clock, client, cwd) instead of the three."""
    check = component.check
    if ctx is None:
        ctx = CheckContext(clock=clock, client=client, cwd=cwd)
    clock = ctx.clock
    timeout = check.timeout.total_seconds()
    started = clock.monotonic()
    try:
        outcome = await run_bounded(CHECKS[check.kind](component, ctx), timeout)
    except TimeoutError:
        outcome = unhealthy("timeout", f"no result within {timeout:g}s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("check raised", component=component.name, kind=check.kind, exc_info=True)
        text = str(exc) or type(exc).__name__
        outcome = Outcome(Status.UNKNOWN, short(f"{type(exc).__name__}: {text}"), "error")
    latency_ms = (clock.monotonic() - started) * 1000.0
    over = check.degraded_over.total_seconds() * 1000.0 if check.degraded_over is not None else None
    outcome = _slow(outcome, latency_ms, over)
    return CheckResult(
        component=component.name,
        status=outcome.status,
        latency_ms=latency_ms,
        message=short(outcome.message),
        error_class=outcome.error_class,
        ts=clock.wall(),
        perfdata=outcome.perfdata,
    )
