"""run_bounded keeps asyncio.timeout's promises, also when a check's first step ran in another task."""

from __future__ import annotations

import asyncio

import pytest

from daemon.engine.checks.bounded import run_bounded


async def no_wait() -> str:
    return "done"


async def test_a_coroutine_that_never_waits_returns_its_value_and_leaves_no_timer():
    loop = asyncio.get_running_loop()
    before = len(loop._scheduled)  # the loop's timer heap: nothing armed, nothing left behind
    assert await run_bounded(no_wait(), 5.0) == "done"
    assert len(loop._scheduled) == before


async def test_a_coroutine_that_waits_less_than_the_timeout_returns_its_value():
    async def short() -> int:
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # a bare yield too
        return 7

    assert await run_bounded(short(), 5.0) == 7


async def test_a_coroutine_that_waits_past_the_timeout_is_cancelled_at_its_await_and_times_out():
    seen = []

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            await asyncio.sleep(0)  # cleanup may itself wait; it is not cancelled twice
            seen.append("cleaned up")
            raise

    with pytest.raises(TimeoutError):
        await run_bounded(hang(), 0.05)
    assert seen == ["cancelled", "cleaned up"]


async def test_a_coroutine_spinning_on_bare_yields_still_times_out():
    async def spin() -> None:
        while True:  # noqa: ASYNC110 - the point: a coroutine that only ever yields
            await asyncio.sleep(0)

    with pytest.raises(TimeoutError):
        await run_bounded(spin(), 0.05)


async def test_the_deadline_counts_from_the_start_not_from_the_first_wait():
    loop = asyncio.get_running_loop()

    async def slow_first_step() -> str:
        until = loop.time() + 0.2
        while loop.time() < until:  # busy, without yielding, past the whole timeout
            pass
        await asyncio.sleep(0.05)  # would finish well within 0.1 s counted from here
        return "finished"

    with pytest.raises(TimeoutError):
        await run_bounded(slow_first_step(), 0.1)


async def test_a_check_that_swallows_the_cancellation_keeps_its_result():
    async def stubborn() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "gave up cleanly"
        return "unreachable"

    assert await run_bounded(stubborn(), 0.05) == "gave up cleanly"


async def test_an_exception_raised_after_waiting_comes_through_unchanged():
    async def boom() -> None:
        await asyncio.sleep(0)
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError, match="peer went away"):
        await run_bounded(boom(), 5.0)


async def test_cancelling_the_task_from_outside_is_a_cancellation_not_a_timeout():
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(run_bounded(hang(), 30.0))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_first_step_taken_in_another_task_still_times_out_in_the_task_that_continues():
    """The scheduler steps a run once inside its bucket job and hands a waiting run to a new task:
    the expiry must cancel the continuing run, not the job that took its first step."""
    from daemon.scheduling.scheduler import _resume

    async def hang() -> str:
        await asyncio.Event().wait()
        return "unreachable"

    async def run() -> str:
        try:
            return await run_bounded(hang(), 0.05)
        except TimeoutError:
            return "timed out"

    coro = run()
    waiting = coro.send(None)  # the first step, in this (the test's) task
    continued = asyncio.create_task(_resume(coro, waiting))
    assert await asyncio.wait_for(continued, 5) == "timed out"
    assert not asyncio.current_task().cancelling()  # the task that took the first step was left alone
