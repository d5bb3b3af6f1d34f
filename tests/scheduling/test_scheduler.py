"""The scheduler runs every component on its own cadence and phase, and never drops a run silently."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from helpers import async_wait_until

from daemon.config.models import Component
from daemon.scheduling.scheduler import CheckScheduler, _tick_for


def comp(name: str, every: str = "200ms", port: int = 1, weight: float = 1.0) -> Component:
    return Component.model_validate(
        {"name": name, "weight": weight, "check": {"kind": "tcp", "port": port, "every": every, "timeout": "100ms"}}
    )


wait_for = async_wait_until  # the suite-wide helper


def counting() -> tuple[Counter[str], Callable[[str], Awaitable[None]]]:
    """A job that only counts its runs per component."""
    runs: Counter[str] = Counter()

    async def run(name: str) -> None:
        runs[name] += 1

    return runs, run


async def test_every_component_runs_recurringly():
    runs, run = counting()
    s = CheckScheduler(run)
    s.start()
    try:
        report = s.sync({"a": comp("a"), "b": comp("b")})
        assert sorted(report.added) == ["a", "b"]
        await wait_for(lambda: runs["a"] >= 3 and runs["b"] >= 3)
    finally:
        s.shutdown()


async def test_reload_keeps_unchanged_jobs_and_their_timing_reschedules_changed_and_stops_removed():
    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({"a": comp("a", "10s"), "b": comp("b", "10s"), "c": comp("c", "10s")})
        next_a = s.next_run_at("a")
        # weight is not part of the check: a changed weight must not reschedule
        report = s.sync({"a": comp("a", "10s", weight=5.0), "b": comp("b", "20s")})
        assert report.unchanged == ["a"] and report.changed == ["b"] and report.removed == ["c"]
        assert s.next_run_at("a") == next_a
        assert s.next_run_at("c") is None and s.interval_of("c") is None
        assert s.interval_of("b") == 20
    finally:
        s.shutdown()


async def test_first_runs_are_staggered_within_one_interval():
    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run, rng=random.Random(7))
    s.start()
    try:
        now = time.time()
        s.sync({f"c{i}": comp(f"c{i}", "10s") for i in range(50)})
        starts = [s.next_run_at(f"c{i}") for i in range(50)]
        assert all(now <= t <= now + 10.5 for t in starts)
        assert 5 < max(starts) - min(starts) < 10.5
        _tick, slots = _tick_for(10.0)  # 20 phase slots per 10 s interval (0.5 s ticks)
        assert len(set(starts)) >= slots * 3 // 4  # most slots get a member: the runs are spread
    finally:
        s.shutdown()


async def test_a_run_skipped_because_the_previous_is_still_going_is_counted_not_silent():
    release = asyncio.Event()
    missed: list[tuple[str, str]] = []

    async def run(name: str) -> None:
        await release.wait()

    s = CheckScheduler(run, on_missed=lambda name, n, why: missed.append((name, why)))
    s.start()
    try:
        s.sync({"slow": comp("slow", "100ms")})
        await wait_for(lambda: s.missed["slow"] >= 2)
        assert missed[0] == ("slow", "previous run still going")
    finally:
        release.set()
        s.shutdown()


async def test_fast_cadence_shortens_the_interval_and_back():
    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run, fast_every=timedelta(seconds=1))
    s.start()
    try:
        s.sync({"a": comp("a", "30s")})
        s.set_fast("a", True)
        assert s.interval_of("a") == 1 and s.next_run_at("a") - time.time() <= 1.1
        s.set_fast("a", False)
        assert s.interval_of("a") == 30
    finally:
        s.shutdown()


async def test_run_soon_pulls_the_next_run_forward():
    ran = asyncio.Event()

    async def run(name: str) -> None:
        ran.set()

    s = CheckScheduler(run, rng=random.Random(1))
    s.start()
    try:
        s.sync({"a": comp("a", "1h")})
        s.run_soon("a")
        await asyncio.wait_for(ran.wait(), 10)
        assert s.lateness.submitted >= 1
    finally:
        s.shutdown()


async def test_an_overloaded_window_stretches_every_interval_and_calm_windows_relax_it():
    from daemon.scheduling.overload import CALM_WINDOWS

    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run, rng=random.Random(3))
    s.start()
    try:
        s.sync({"a": comp("a", "10s"), "b": comp("b", "20s")})
        s._window = [100, 0, 40]  # 40 runs missed in the last window
        reason = s.evaluate_load()
        assert reason and "×2" in reason
        assert (s.interval_of("a"), s.interval_of("b")) == (20, 40)
        for _ in range(CALM_WINDOWS + 1):  # +1: the window right after the change is not judged
            s._window = [100, 0, 0]
            s.evaluate_load()
        assert s.load.stretch == 1
        assert s.interval_of("a") == 10
    finally:
        s.shutdown()


async def test_one_check_overrunning_its_interval_does_not_stretch_everyone():
    release = asyncio.Event()

    async def run(name: str) -> None:
        if name == "slow":
            await release.wait()

    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({"slow": comp("slow", "100ms"), **{f"c{i}": comp(f"c{i}", "100ms") for i in range(5)}})
        await wait_for(lambda: s.missed["slow"] >= 5 and s.lateness.submitted >= 25)
        assert s.evaluate_load() is None
        assert s.load.stretch == 1
    finally:
        release.set()
        s.shutdown()


class _NoStagger(random.Random):
    """First runs at once: the tests below need a component's first run now, not within 10 s."""

    def uniform(self, a: float, b: float) -> float:
        return a


def _with_every(component: Component, every: timedelta) -> Component:
    """Bypass validation on purpose: config may bound durations, the scheduler must not rely on it."""
    return component.model_copy(update={"check": component.check.model_copy(update={"every": every})})


async def test_components_sharing_an_interval_share_one_job_and_each_still_runs():
    runs, run = counting()
    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({f"c{i}": comp(f"c{i}", "200ms") for i in range(100)} | {"slow": comp("slow", "10s")})
        bucket_jobs = [j for j in s._scheduler.get_jobs() if j.id.startswith("checks:")]
        assert len(bucket_jobs) == 2  # one per cadence, not one per component
        await wait_for(lambda: all(runs[f"c{i}"] >= 2 for i in range(100)))
        assert s.batches < s.lateness.submitted  # several checks started per firing
    finally:
        s.shutdown()


async def test_an_interval_of_millions_of_years_runs_once_and_the_others_keep_running():
    runs, run = counting()
    s = CheckScheduler(run, rng=_NoStagger())
    s.start()
    try:
        huge = _with_every(comp("huge", "10s"), timedelta(days=999_999_999))
        s.sync({"huge": huge, "a": comp("a")})
        await wait_for(lambda: runs["huge"] == 1)
        after = runs["a"]
        await wait_for(lambda: runs["a"] >= after + 3)  # the scheduler still fires
        assert runs["huge"] == 1 and s.unschedulable == {}
        assert s.next_run_at("huge") > time.time() + 1e12
    finally:
        s.shutdown()


async def test_a_job_whose_next_run_time_overflows_is_removed_and_reported_and_checks_keep_firing():
    from apscheduler.triggers.interval import IntervalTrigger

    runs: Counter[str] = Counter()
    other_job_runs = []

    async def run(name: str) -> None:
        runs[name] += 1

    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({"a": comp("a")})
        await wait_for(lambda: runs["a"] >= 1)
        # e.g. a schedule added by another service: its first run is now, its next one is past year 9999
        s._scheduler.add_job(
            lambda: other_job_runs.append(1),
            IntervalTrigger(days=999_999_999, start_date=datetime.now(UTC) + timedelta(seconds=0.3)),
            id="chaos:far",
        )
        await wait_for(lambda: "chaos:far" in s.unschedulable)
        assert "OverflowError" in s.unschedulable["chaos:far"] or "out of range" in s.unschedulable["chaos:far"]
        after = runs["a"]
        await wait_for(lambda: runs["a"] >= after + 3)
        assert s._scheduler.get_job("chaos:far") is None and s.alive()
    finally:
        s.shutdown()


async def test_the_scheduler_is_alive_while_it_fires_and_not_once_it_stops():
    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run, stall_after=0.5)
    s.start()
    try:
        s.sync({"a": comp("a")})
        assert s.alive()
        s._scheduler.pause()  # stands for any way APScheduler could stop firing
        await wait_for(lambda: not s.alive())
        s._scheduler.resume()
        await wait_for(lambda: s.alive())
    finally:
        s.shutdown()


async def test_a_run_that_never_waits_finishes_inside_its_bucket_job_and_one_that_waits_gets_its_own_task():
    """Eager start: no task for a run that completes at once; a run that waits is still tracked (and so
    not started twice) until it finishes in its own task."""
    import contextvars

    release = asyncio.Event()
    seen: dict[str, list] = {"quick": [], "slow": []}
    mark = contextvars.ContextVar("mark", default=None)

    async def run(name: str) -> None:
        seen[name].append(mark.get())  # a fresh context per run: nothing set by an earlier run leaks
        mark.set(name)
        if name == "slow":
            await release.wait()
            seen[name].append(mark.get())  # the waiting run continues in the context it started in

    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({"quick": comp("quick", "100ms"), "slow": comp("slow", "100ms")})
        await wait_for(lambda: len(seen["quick"]) >= 3 and seen["slow"])
        assert "quick" not in s._running and "slow" in s._running
        await wait_for(lambda: s.missed["slow"] >= 1)  # still going: the next due run is skipped, counted
        release.set()
        await wait_for(lambda: len(seen["slow"]) >= 2 and "slow" not in s._running)
        assert set(seen["quick"]) == {None} and seen["slow"][:2] == [None, "slow"]
    finally:
        release.set()
        s.shutdown()


async def test_a_run_that_raises_synchronously_is_logged_and_the_others_keep_running():
    runs: Counter[str] = Counter()

    async def run(name: str) -> None:
        runs[name] += 1
        if name == "bad":
            raise RuntimeError("broken before its first await")

    s = CheckScheduler(run)
    s.start()
    try:
        s.sync({"bad": comp("bad", "100ms"), "good": comp("good", "100ms")})
        await wait_for(lambda: runs["bad"] >= 3 and runs["good"] >= 3)
        assert not s._running
    finally:
        s.shutdown()


def test_a_bucket_fires_at_most_twice_a_second_and_a_shorter_interval_fires_at_its_interval():
    """Fewer, fuller batches (issue 11: 0.1 s ticks cost ~50 % more CPU per check than 0.5 s ones), yet
    a cadence under half a second keeps its own pace, and slots always tile the interval exactly."""
    for interval in (0.1, 0.3, 0.5, 1.0, 10.0, 60.0, 3600.0):
        tick, slots = _tick_for(interval)
        assert tick * slots == pytest.approx(interval)
        assert tick >= min(0.5, interval) - 1e-9
        assert tick <= 1.0 + 1e-9
    assert _tick_for(0.1) == (pytest.approx(0.1), 1)
    assert _tick_for(1.0) == (pytest.approx(0.5), 2)
    assert _tick_for(10.0) == (pytest.approx(0.5), 20)
