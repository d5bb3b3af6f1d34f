"""run_check's promises for every kind: bounded, measured, never raising (except cancellation)."""

from __future__ import annotations

import asyncio
import typing

import pytest

from daemon.clock import FakeClock
from daemon.config import models
from daemon.engine import checks
from daemon.engine.checks import CHECKS, Outcome, run_check
from daemon.engine.checks.base import healthy, unhealthy
from daemon.types import ERROR_CLASSES, Status


def kinds_in_config() -> set[str]:
    union = typing.get_args(typing.get_args(models.Check)[0])
    return {typing.get_args(m.model_fields["kind"].annotation)[0] for m in union}


def test_every_configurable_kind_has_a_check():
    assert set(CHECKS) == kinds_in_config()


@pytest.fixture
def fake_kind(monkeypatch):
    """Replace the `file` kind's function for one test (the component is a valid file component)."""

    def install(fn):
        monkeypatch.setitem(checks.CHECKS, "file", fn)

    return install


async def test_a_check_that_raises_is_unknown_with_the_message(fake_kind, component):
    async def boom(comp, ctx):
        raise RuntimeError("driver exploded")

    fake_kind(boom)
    result = await run_check(component("file", path="/x"))
    assert (result.status, result.error_class) == (Status.UNKNOWN, "error")
    assert result.message == "RuntimeError: driver exploded"


async def test_an_exception_without_text_still_names_itself(fake_kind, component):
    async def boom(comp, ctx):
        raise KeyError()

    fake_kind(boom)
    result = await run_check(component("file", path="/x"))
    assert result.message == "KeyError: KeyError"


async def test_a_check_that_hangs_is_stopped_at_its_timeout(fake_kind, component):
    async def hang(comp, ctx):
        await asyncio.Event().wait()

    fake_kind(hang)
    result = await run_check(component("file", path="/x", timeout="100ms"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "timeout")
    assert result.message == "no result within 0.1s"


async def test_cancellation_propagates(fake_kind, component):
    started = asyncio.Event()

    async def hang(comp, ctx):
        started.set()
        await asyncio.Event().wait()

    fake_kind(hang)
    task = asyncio.create_task(run_check(component("file", path="/x")))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_latency_and_timestamp_come_from_the_injected_clock(fake_kind, component):
    clock = FakeClock(wall=1_800_000_000.0, monotonic=50.0)

    async def takes_two_seconds(comp, ctx):
        ctx.clock.advance(2.0)
        return healthy("fine")

    fake_kind(takes_two_seconds)
    result = await run_check(component("file", path="/x"), clock=clock)
    assert result.latency_ms == pytest.approx(2000.0)
    assert result.ts == 1_800_000_002.0
    assert result.status is Status.HEALTHY


async def test_passing_check_slower_than_degraded_over_is_degraded(fake_kind, component):
    clock = FakeClock()

    async def slow_pass(comp, ctx):
        ctx.clock.advance(1.5)
        return healthy("fine")

    fake_kind(slow_pass)
    slow = await run_check(component("file", path="/x", degraded_over="1s"), clock=clock)
    assert (slow.status, slow.error_class) == (Status.DEGRADED, None)
    assert slow.message == "fine (slow: 1500 ms > 1000 ms)"
    at_limit = await run_check(component("file", path="/x", degraded_over="1500ms"), clock=clock)
    assert at_limit.status is Status.HEALTHY  # "slower than", not "as slow as"


async def test_a_slow_failure_stays_a_failure(fake_kind, component):
    clock = FakeClock()

    async def slow_fail(comp, ctx):
        ctx.clock.advance(3)
        return unhealthy("refused", "no")

    fake_kind(slow_fail)
    result = await run_check(component("file", path="/x", degraded_over="1s"), clock=clock)
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "refused")


async def test_messages_are_one_short_line(fake_kind, component):
    async def chatty(comp, ctx):
        return healthy("line one\nline two " + "x" * 400)

    fake_kind(chatty)
    result = await run_check(component("file", path="/x"))
    assert "\n" not in result.message and len(result.message) <= 200


def test_outcome_refuses_an_error_class_the_healer_cannot_match():
    with pytest.raises(ValueError):
        Outcome(Status.UNHEALTHY, "x", "kaput")
    assert all(Outcome(Status.UNHEALTHY, "x", c).error_class == c for c in ERROR_CLASSES)
