"""`file` check: the path exists, was modified within `max_age`, and is at least `min_size` bytes.

Age is measured against the injected clock's wall time, since mtimes are wall-clock stamps.
"""

from __future__ import annotations

import os

from daemon.config.models import Component, FileCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, unhealthy


def _age(seconds: float) -> str:
    return (
        f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"
    )


async def check_file(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, FileCheck)
    try:
        st = os.stat(check.path)
    except FileNotFoundError:
        return unhealthy("missing", f"{check.path} does not exist")
    except NotADirectoryError:
        return unhealthy("missing", f"{check.path} does not exist (a parent is not a directory)")
    except PermissionError as exc:
        return unhealthy("error", f"cannot stat {check.path}: {exc.strerror}")
    if check.max_age is not None:
        age = ctx.clock.wall() - st.st_mtime
        limit = check.max_age.total_seconds()
        if age > limit:
            return unhealthy("stale", f"{check.path} last modified {_age(age)} ago (max {_age(limit)})")
    if check.min_size is not None and st.st_size < check.min_size:
        return unhealthy("too_small", f"{check.path} is {st.st_size} bytes (min {check.min_size})")
    return healthy(f"{check.path}: {st.st_size} bytes")
