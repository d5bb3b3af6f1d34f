"""`process` check: the component's process is running, found by `pidfile` or by a `match` regex.

With both, the pidfile's pid must be alive *and* its command line must match — this catches a stale
pidfile whose pid the kernel has since given to an unrelated process. With `match` alone, every
/proc/PID/cmdline (arguments joined by spaces) is searched with `re.search`; healerd's own process is
never a match (its command line contains the very pattern it is looking for when run from a shell
wrapper, and it is not the component).

`find_processes` is public because the scheduler needs the pids to hand to the PidWatcher, which
turns the process's death into an immediate re-check.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass

from daemon.config.models import Component, ProcessCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, short, unhealthy
from daemon.engine.pidwatch import pid_alive

PROC = "/proc"


#: How much of a foreign command line a "not /REGEX/" message quotes.
CMDLINE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class Found:
    """The live pids, or none and why (a sentence for the check's message)."""

    pids: tuple[int, ...]
    reason: str = ""


def read_cmdline(pid: int, proc: str = PROC) -> str | None:
    """The command line with arguments joined by spaces; None for no such process or kernel threads."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw:
        return None  # kernel thread or zombie
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", errors="replace")


def read_pidfile(path: str) -> int:
    """The pid in `path`; raises FileNotFoundError, or ValueError when it holds no positive integer."""
    with open(path, "rb") as f:
        text = f.read(64).decode("ascii", errors="replace").strip()
    token = text.split()[0] if text.split() else ""
    pid = int(token)  # ValueError on garbage, as documented
    if pid <= 0:
        raise ValueError(f"{pid} is not a process id")
    return pid


def _by_pidfile(pidfile: str, pattern: re.Pattern[str] | None) -> Found:
    try:
        pid = read_pidfile(pidfile)
    except FileNotFoundError:
        return Found((), f"pidfile {pidfile} does not exist")
    except ValueError:
        return Found((), f"pidfile {pidfile} holds no pid")
    if not pid_alive(pid):
        return Found((), f"pid {pid} from {pidfile} is not running")
    if pattern is not None:
        cmdline = read_cmdline(pid)
        if cmdline is None or not pattern.search(cmdline):
            # The command line is what gets shortened, never the reason: "not /REGEX/" is the point of
            # the message, and a long checkout path or argv would otherwise push it past the limit.
            shown = short(cmdline or "?", CMDLINE_LIMIT)
            return Found((), f"pid {pid} from {pidfile} runs {shown!r}, not /{pattern.pattern}/")
    return Found((pid,))


def _by_match(pattern: re.Pattern[str], proc: str = PROC) -> Found:
    own = os.getpid()
    pids = []
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == own:
            continue
        cmdline = read_cmdline(int(entry), proc)
        if cmdline is not None and pattern.search(cmdline):
            pids.append(int(entry))
    if not pids:
        return Found((), f"no process matches /{pattern.pattern}/")
    return Found(tuple(sorted(pids)))


def find_processes(check: ProcessCheck, pidfile: str | None) -> Found:
    """Blocking (reads /proc): call it from a thread when `match` is used without a pidfile."""
    pattern = re.compile(check.match) if check.match is not None else None
    if pidfile is not None:
        return _by_pidfile(pidfile, pattern)
    if pattern is None:
        raise ValueError("a process check needs a pidfile or a match pattern")
    return _by_match(pattern)


async def check_process(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, ProcessCheck)
    if component.pidfile is not None:
        found = find_processes(check, component.pidfile)  # a few syscalls: not worth a thread
    else:
        found = await asyncio.to_thread(find_processes, check, None)
    if not found.pids:
        return unhealthy("not_running", found.reason)  # each part already bounded above
    if len(found.pids) == 1:
        return healthy(f"pid {found.pids[0]} running")
    shown = ", ".join(str(p) for p in found.pids[:5]) + (", …" if len(found.pids) > 5 else "")
    return healthy(f"{len(found.pids)} processes running (pids {shown})")


def find_pid(component: Component) -> int | None:
    """The one pid to watch for death (pidfile's, else the lowest match), or None.

    Blocking: with `match` it scans /proc (a few ms on a busy host) — call it from a thread there.
    """
    check = component.check
    if not isinstance(check, ProcessCheck):
        return None
    found = find_processes(check, component.pidfile)
    return found.pids[0] if found.pids else None
