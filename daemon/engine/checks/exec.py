"""`exec` check: run a Nagios-style plugin (argv, no shell) and map its exit code.

0 OK → healthy, 1 WARNING → degraded, 2 CRITICAL → unhealthy, 3 UNKNOWN → unknown, anything else
(including death by signal) → unhealthy with error class `exit_code`. The plugin's first line of
output is the message whatever the status, as Nagios shows it; its performance data (after `|`, on
the first line and on any later line, per the plugin API) is kept apart, so figures never crowd the
text out of a message and a grapher gets them whole.
"""

from __future__ import annotations

import os

from daemon.config.models import Component, ExecCheck
from daemon.engine.checks.base import PERFDATA_LIMIT, CheckContext, Outcome, short
from daemon.engine.proc import ProcResult, run_argv
from daemon.types import Status

#: Plugins print one status line and maybe a few lines of perfdata; more is never needed here.
OUTPUT_LIMIT = 8 * 1024


def split_perfdata(output: str) -> tuple[str, str | None]:
    """`(status text, perfdata)` of a plugin's output, by the Nagios plugin API (pure).

    `TEXT | PERF` on the first line; later lines are long text, and from the first of them holding a
    `|` on, everything after it is more perfdata. The text is the first non-empty line's part before
    `|`; the perfdata pieces are joined by one space, None when there are none.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return "", None
    text, _, perf = lines[0].partition("|")
    pieces = [perf]
    for i, line in enumerate(lines[1:], start=1):
        if "|" in line:
            pieces.append(line.partition("|")[2])
            pieces.extend(lines[i + 1 :])
            break
    perfdata = " ".join(" ".join(pieces).split())
    return text.strip(), _bounded(perfdata) if perfdata else None


def _bounded(perfdata: str) -> str:
    """At most PERFDATA_LIMIT characters, cut between two `label=value` items, never inside one."""
    if len(perfdata) <= PERFDATA_LIMIT:
        return perfdata
    return perfdata[: perfdata.rfind(" ", 0, PERFDATA_LIMIT + 1)].rstrip() or perfdata[:PERFDATA_LIMIT]


def judge(result: ProcResult, timeout: float) -> Outcome:
    """The verdict on a finished plugin run (pure)."""
    if result.timed_out:
        return Outcome(Status.UNHEALTHY, f"no exit within {timeout:g}s (process group killed)", "timeout")
    line, perfdata = split_perfdata(result.stdout_head or result.stdout_tail)
    if not line and perfdata is None:  # nothing on stdout: stderr's first line says why
        line = result.first_line
    code = result.exit_code
    status, error_class = _NAGIOS.get(code, (Status.UNHEALTHY, "exit_code"))
    if code in _NAGIOS:
        text = line or f"exit {code}"
    elif code is not None and code < 0:
        text = f"killed by signal {-code}" + (f": {line}" if line else "")
    else:
        text = f"exit {code}" + (f": {line}" if line else "")
    return Outcome(status, short(text), error_class, perfdata)


#: Nagios exit codes: OK, WARNING, CRITICAL, UNKNOWN.
_NAGIOS: dict[int | None, tuple[Status, str | None]] = {  # None: killed by a signal, no code
    0: (Status.HEALTHY, None),
    1: (Status.DEGRADED, None),
    2: (Status.UNHEALTHY, "exit_code"),
    3: (Status.UNKNOWN, "unknown"),
}


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
