"""`systemd` check: `systemctl is-active UNIT`.

The systemctl binary is `$HEALERD_SYSTEMCTL` if set, else `SYSTEMCTL` (looked up on PATH), so tests
and unusual hosts can substitute it; the environment is read per check, not at import.
"""

from __future__ import annotations

import os

from daemon.config.models import Component, SystemdCheck
from daemon.engine.checks.base import CheckContext, Outcome, degraded, healthy, short, unhealthy
from daemon.engine.proc import run_argv
from daemon.types import Status

SYSTEMCTL = "systemctl"
ENV_VAR = "HEALERD_SYSTEMCTL"

#: States that are on the way to (or briefly away from) active: not a failure, not quite healthy.
TRANSITIONAL = frozenset({"activating", "reloading", "refreshing"})
#: States `is-active` prints for a unit that is not running.
STOPPED = frozenset({"inactive", "failed", "deactivating", "maintenance"})


def systemctl() -> str:
    return os.environ.get(ENV_VAR) or SYSTEMCTL


def judge(unit: str, state: str, exit_code: int | None, stderr: str) -> Outcome:
    if state == "active":
        return healthy(f"{unit} is active")
    if state in TRANSITIONAL:
        return degraded(f"{unit} is {state}")
    if state in STOPPED:
        return unhealthy("not_running", f"{unit} is {state}")
    # No recognisable state: systemd is not running, the bus is unreachable, … — we do not know.
    detail = stderr.strip().splitlines()[0] if stderr.strip() else state or "no output"
    return Outcome(Status.UNKNOWN, short(f"systemctl is-active {unit}: exit {exit_code}: {detail}"), "error")


async def check_systemd(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, SystemdCheck)
    timeout = check.timeout.total_seconds()
    # `--` so a unit name starting with "-" cannot be read as an option.
    result = await run_argv([systemctl(), "is-active", "--", check.unit], timeout=timeout, output_limit=4096)
    if result.timed_out:
        return unhealthy("timeout", f"systemctl gave no answer within {timeout:g}s")
    state = result.first_line if result.stdout_tail.strip() else ""
    return judge(check.unit, state, result.exit_code, result.stderr_tail)
