"""Run a check's coroutine to its first wait at once, and bound only what is left by its timeout.

Why: most checks never wait (a tcp connect to a local port completes inside `connect()`, a file
check is a `stat`), yet `asyncio.timeout` armed and cancelled a timer handle around every one of
them — ~10 µs of a tcp check's ~100 µs. `run_bounded` steps the coroutine once; only a coroutine
that suspends gets a deadline, and that deadline is the same instant `asyncio.timeout` would have
used (the loop's clock when the check started, plus the timeout).

Why not `asyncio.timeout` for the rest: it cancels the *current task*, which must be the task the
check finishes in. The scheduler starts a bucket's checks eagerly from its own job
(scheduling/scheduler.py) and hands a check that waits over to a new task only after that first
step, so the task current during the first step is not the check's. `_Bounded` therefore does what
`Task.cancel()` does, without needing the task: on expiry it cancels the future the check is
waiting on, so the check gets `CancelledError` at its `await` (and can clean up, as before); the
`CancelledError` that comes out is turned into `TimeoutError`, unless the task was also cancelled
from outside (the daemon stopping), which then wins, as with `asyncio.timeout`. A check that
swallows the cancellation and returns keeps its result, as with `asyncio.timeout`.

Python 3.12's eager tasks do the first part natively; healerd supports 3.11.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: _Bounded._state: running normally; deadline passed, cancellation not yet delivered; delivered
_RUNNING, _EXPIRED, _DELIVERED = 0, 1, 2


async def run_bounded(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    """`await coro` with `timeout` seconds from now; TimeoutError when it expires."""
    # The deadline counts from now, but the loop is looked up only once the check has to wait: on
    # Linux each get_running_loop() is a getpid() system call, and most checks never wait.
    started = time.monotonic()
    try:
        first = coro.send(None)
    except StopIteration as stop:  # finished without waiting: nothing to bound
        return stop.value
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout - (time.monotonic() - started)
    task = asyncio.current_task()
    return await _Bounded(coro, first, loop, deadline, task.cancelling() if task is not None else 0)


class _Bounded:
    """An awaitable that continues `coro` (which already yielded `first`) until `deadline`."""

    __slots__ = ("_cancelling", "_coro", "_deadline", "_loop", "_state", "_waiting")

    def __init__(
        self, coro: Coroutine, first: Any, loop: asyncio.AbstractEventLoop, deadline: float, cancelling: int
    ) -> None:
        self._coro = coro
        #: cancellation requests the task already had: only more than these come from outside
        self._cancelling = cancelling
        self._waiting = first  # what the coroutine waits on now: a future, or None (a bare yield)
        self._loop = loop
        self._deadline = deadline
        self._state = _RUNNING

    def _expire(self) -> None:
        self._state = _EXPIRED
        cancel = getattr(self._waiting, "cancel", None)
        if cancel is not None:
            cancel()  # what Task.cancel() does to the future its task waits on

    def __await__(self):
        coro = self._coro
        handle = self._loop.call_at(self._deadline, self._expire)
        try:
            while True:
                sent = thrown = None
                try:
                    sent = yield self._waiting
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:
                    thrown = exc
                if self._state == _EXPIRED:
                    # the deadline passed while waiting: the check gets its cancellation now, once
                    self._state = _DELIVERED
                    if thrown is None or isinstance(thrown, asyncio.CancelledError):
                        thrown = asyncio.CancelledError()
                try:
                    self._waiting = coro.send(sent) if thrown is None else coro.throw(thrown)
                except StopIteration as stop:
                    return stop.value
                except asyncio.CancelledError:
                    if self._state == _DELIVERED and not self._cancelled_from_outside():
                        raise TimeoutError from None
                    raise
        finally:
            handle.cancel()

    def _cancelled_from_outside(self) -> bool:
        task = asyncio.current_task()
        return task is not None and task.cancelling() > self._cancelling
