"""`disk` check: free space on the filesystem holding `path` is at least `min_free` (percent or size).

Free means available to unprivileged users (`f_bavail`), because that is what the services we watch
can actually write; root's reserved blocks are not theirs.
"""

from __future__ import annotations

import os

from daemon.config.models import Component, DiskCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, unhealthy


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_space(path: str) -> tuple[int, int]:
    """(available bytes, total bytes) of the filesystem holding `path`."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


async def check_disk(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, DiskCheck)
    try:
        free, total = free_space(check.path)
    except FileNotFoundError:
        return unhealthy("missing", f"{check.path} does not exist")
    percent = 100.0 * free / total if total else 0.0
    summary = f"{_size(free)} free of {_size(total)} ({percent:.1f}%) on {check.path}"
    wanted_percent = check.min_free_percent
    if wanted_percent is not None and percent < wanted_percent:
        return unhealthy("full", f"{summary}, below {wanted_percent:g}%")
    wanted_bytes = check.min_free_bytes
    if wanted_bytes is not None and free < wanted_bytes:
        return unhealthy("full", f"{summary}, below {_size(wanted_bytes)}")
    return healthy(summary)
