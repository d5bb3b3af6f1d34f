"""Stopping background tasks without trusting them to stop.

On Python 3.11 `asyncio.wait_for` can swallow a cancellation that arrives as its inner future
completes (fixed in 3.12), so a loop built on it may survive `cancel()`. Shutdown must not depend on
every loop being written perfectly: cancel, wait a bounded time, cancel again, and report what is
still running instead of hanging (systemd would SIGKILL us at TimeoutStopSec, losing the final flush).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task], timeout: float = 5.0, what: str = "tasks") -> bool:
    """Cancel `tasks` and wait for them, at most `timeout` seconds per round, two rounds. True if all ended."""
    pending = {t for t in tasks if not t.done()}
    for _round in range(2):
        if not pending:
            return True
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=timeout)
    if pending:
        log.error(
            "tasks did not stop when cancelled; leaving them", what=what, tasks=sorted(t.get_name() for t in pending)
        )
        return False
    return True
