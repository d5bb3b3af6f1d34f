"""The scheduler keeps one job per component and never drops a run silently."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

from daemon.config.models import Component
from daemon.scheduling.scheduler import JOB_PREFIX, CheckScheduler
from helpers import async_wait_until


def comp(name: str, every: str = "200ms", port: int = 1, weight: float = 1.0) -> Component:
    return Component.model_validate(
        {"name": name, "weight": weight, "check": {"kind": "tcp", "port": port, "every": every, "timeout": "100ms"}}
    )


wait_for = async_wait_until  # the suite-wide helper


async def test_every_component_gets_its_own_recurring_job():
    runs: Counter[str] = Counter()

    async def run(name: str) -> None:
        runs[name] += 1

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
        job_a = s._scheduler.get_job(JOB_PREFIX + "a")
        next_a = job_a.next_run_time
        # weight is not part of the check: a changed weight must not reschedule
        report = s.sync({"a": comp("a", "10s", weight=5.0), "b": comp("b", "20s")})
        assert report.unchanged == ["a"] and report.changed == ["b"] and report.removed == ["c"]
        assert s._scheduler.get_job(JOB_PREFIX + "a").next_run_time == next_a
        assert s._scheduler.get_job(JOB_PREFIX + "c") is None
        assert s._scheduler.get_job(JOB_PREFIX + "b").trigger.interval == timedelta(seconds=20)
    finally:
        s.shutdown()


async def test_first_runs_are_staggered_within_one_interval():
    async def run(name: str) -> None:
        pass

    s = CheckScheduler(run, rng=random.Random(7))
    s.start()
    try:
        s.sync({f"c{i}": comp(f"c{i}", "10s") for i in range(50)})
        starts = [s._scheduler.get_job(JOB_PREFIX + f"c{i}").next_run_time for i in range(50)]
        spread = (max(starts) - min(starts)).total_seconds()
        assert 0 < spread < 10
        assert len(set(starts)) == 50
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
        assert s._scheduler.get_job(JOB_PREFIX + "a").trigger.interval == timedelta(seconds=1)
        s.set_fast("a", False)
        assert s._scheduler.get_job(JOB_PREFIX + "a").trigger.interval == timedelta(seconds=30)
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
        assert s._scheduler.get_job(JOB_PREFIX + "a").trigger.interval == timedelta(seconds=20)
        assert s._scheduler.get_job(JOB_PREFIX + "b").trigger.interval == timedelta(seconds=40)
        for _ in range(CALM_WINDOWS + 1):  # +1: the window right after the change is not judged
            s._window = [100, 0, 0]
            s.evaluate_load()
        assert s.load.stretch == 1
        assert s._scheduler.get_job(JOB_PREFIX + "a").trigger.interval == timedelta(seconds=10)
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
