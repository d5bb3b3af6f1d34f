"""`exec` check: run a Nagios-style plugin (argv, no shell) and map its exit code.

0 OK → healthy, 1 WARNING → degraded, 2 CRITICAL → unhealthy, 3 UNKNOWN → unknown, anything else
(including death by signal) → unhealthy with error class `exit_code`. The plugin's first line of
output is the message, as Nagios shows it.
"""

from __future__ import annotations

import os

from daemon.config.models import Component, ExecCheck
from daemon.engine.checks.base import CheckContext, Outcome, degraded, healthy, short, unhealthy
from daemon.engine.proc import ProcResult, run_argv
from daemon.types import Status

#: Plugins print one status line and maybe a few lines of perfdata; more is never needed here.
OUTPUT_LIMIT = 8 * 1024


def judge(result: ProcResult, timeout: float) -> Outcome:
    """The verdict on a finished plugin run (pure)."""
    line = result.first_line
    if result.timed_out:
        return unhealthy("timeout", f"no exit within {timeout:g}s (process group killed)")
    code = result.exit_code
    text = short(line) if line else f"exit {code}"
    if code == 0:
        return healthy(text)
    if code == 1:
        return degraded(text)
    if code == 2:
        return unhealthy("exit_code", text)
    if code == 3:
        return Outcome(Status.UNKNOWN, text, "unknown")
    if code is not None and code < 0:
        return unhealthy("exit_code", short(f"killed by signal {-code}" + (f": {line}" if line else "")))
    return unhealthy("exit_code", short(f"exit {code}" + (f": {line}" if line else "")))


async def check_exec(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, ExecCheck)
    timeout = check.timeout.total_seconds()
    env = {**os.environ, **check.env} if check.env else None
    try:
        result = await run_argv(check.run, timeout=timeout, env=env, cwd=ctx.cwd, output_limit=OUTPUT_LIMIT)
    except OSError as exc:  # not found / not executable: we could not evaluate, as Nagios says
        return Outcome(Status.UNKNOWN, short(f"cannot run {check.run[0]}: {exc.strerror or exc}"), "error")
    return judge(result, timeout)
