"""Shutdown never hangs on a task that refuses to be cancelled."""

from __future__ import annotations

import asyncio

from daemon.service.tasks import cancel_and_wait


async def test_cooperative_tasks_are_cancelled_and_awaited():
    task = asyncio.create_task(asyncio.sleep(3600))
    assert await cancel_and_wait([task], timeout=5) is True
    assert task.cancelled()


async def test_a_task_that_swallows_cancellation_is_reported_not_waited_for_forever():
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # the bug this guards against: a loop that survives cancel()

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], timeout=0.05, what="test") is False
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=5)
    assert task.done()
