"""Logging context per task, never inherited by work that merely started while it was bound.

structlog's contextvars live in the task's `contextvars.Context`, and asyncio copies that context into
everything scheduled from it: tasks, and also `call_soon`/`call_later` callbacks. A recovery that asks
the scheduler for a faster cadence re-arms APScheduler's timer from inside its own context, so every
later job (any component's check) used to log under that recovery's component and incident. Two rules
close it: a unit of work *replaces* the context instead of adding to it (`only`), and code that arms
long-lived callbacks does so from an empty context (`detached`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import structlog

T = TypeVar("T")


@contextlib.contextmanager
def only(**values: Any) -> Iterator[None]:
    """This task's logging context is exactly `values` inside the block (whatever it inherited)."""
    previous = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**previous)


def detached(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn` in a fresh, empty context: timers and tasks it arms carry no one's logging context."""
    return contextvars.Context().run(fn, *args, **kwargs)
