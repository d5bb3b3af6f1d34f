"""Checks on a timing wheel: one APScheduler job per cadence bucket runs that bucket's due checks.

Why buckets and not one job per component: at 200 checks a second, APScheduler's bookkeeping per
run (job store, events, executor) was a large share of a check's CPU, and 10,000 jobs meant 10,000
job objects. Components with the same interval share a bucket; the bucket's job fires every `tick`
(a fraction of the interval, see `_tick_for`) and starts the members whose phase slot is due. Each
component keeps its own phase, so runs stay spread as before.

Choices, with their reasons:
- First runs are staggered by a random offset within one interval, capped at `MAX_FIRST_OFFSET_S`:
  aligned start times at 10,000 jobs gave 0.45–0.68 s of lateness in the reference measurements, while
  a component checked every hour must not stay `unknown` for up to an hour after a restart. The
  offset sets the component's phase, so it keeps that spread afterwards.
- A slow check never overlaps itself (the old `max_instances=1`), and a backlog collapses into one run
  per component (the old `coalesce=True`).
- A run late by less than one interval (at least 1 s: the old `misfire_grace_time`) still runs, so
  load delays checks instead of dropping them. What is dropped anyway (later than that, or skipped
  because the previous run is still going) is counted per component and reported through
  `on_missed` — never silent.
- A due check is started eagerly, inside the bucket's job: its first step runs at once, and only a
  check that has to wait gets a task of its own (Python 3.12's eager tasks, by hand: 3.11 is
  supported). A tcp connect to a local port never waits, and a task per run was ~10 µs of its CPU.
  Each run still has its own fresh context, and its timeout does not depend on the task it runs in
  (engine/checks/bounded.py).
- Components that are half-open or under recovery can be switched to a faster cadence (`set_fast`).
- When the host cannot keep up, every interval is stretched by a power of two (scheduling/overload.py)
  and relaxed again once runs are on time: as much checking as the host allows, instead of a collapse.
- Times are plain float seconds: an interval of thousands of years cannot overflow a `datetime`
  (APScheduler's own arithmetic raised `OverflowError` / `ValueError: year … is out of range` there,
  and that exception escaped its wake-up and stopped *every* job). The APScheduler underneath also
  survives such a job from elsewhere (a chaos schedule): it is removed and reported, the rest keep
  running (`_RobustScheduler`).
- `alive()` says whether the scheduler is still firing; the sd_notify watchdog withholds WATCHDOG=1
  when it is not, so systemd restarts a daemon whose checks silently stopped.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import math
import random
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler, run_in_event_loop
from apscheduler.triggers.interval import IntervalTrigger

from daemon import logctx
from daemon.config.models import Component
from daemon.scheduling.overload import LoadState, Window, next_load_state

log = structlog.get_logger(__name__)

BUCKET_PREFIX = "checks:"
MAX_FIRST_OFFSET_S = 10.0
#: a run that starts later than this after its scheduled time is counted late (reported, not dropped)
ON_TIME_S = 1.0
MISSED_LOG_EVERY_S = 10.0
#: how often the overload controller looks at the last window
LOAD_WINDOW_S = 5.0
#: a bucket's job fires this many times per interval (within the tick bounds below)
SLOTS_PER_INTERVAL = 50
#: At most two firings a second per cadence. Each firing costs an APScheduler job run and wakes the
#: writer for a batch; measured with 200 tcp checks at 1 s (bench/monit_compare.py), ticks of 0.1 s →
#: 0.25 s → 0.5 s took the daemon from ~128 to ~100 to ~85 µs of CPU per check: fewer, fuller batches
#: (the loop's and the writer's). Runs are still spread over the interval in 0.5 s phases.
MIN_TICK_S = 0.5
MAX_TICK_S = 1.0
#: no job fired for this long (the load job alone fires every LOAD_WINDOW_S): the scheduler is stuck
STALL_AFTER_S = 30.0
#: after an unexpected failure of APScheduler's wake-up, try again this soon
WAKEUP_RETRY_S = 1.0
UNSCHEDULABLE = (ValueError, OverflowError, ArithmeticError)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class LatenessStats:
    """Start lateness of submitted runs (seconds after their scheduled time), kept in a bounded ring."""

    #: a flat array of doubles: 100,000 float objects in a list cost ~3 MB, this ~0.8 MB
    samples: array = field(default_factory=lambda: array("d"))
    limit: int = 100_000
    submitted: int = 0
    #: runs that started within ON_TIME_S of their scheduled time
    on_time: int = 0

    def add(self, value: float, count: int = 1) -> None:
        """`count` runs that started `value` seconds late (a bucket's batch shares one lateness)."""
        if count < 1:
            return
        self.submitted += count
        if value <= ON_TIME_S:
            self.on_time += count
        samples, limit = self.samples, self.limit
        room = min(count, limit - len(samples))
        if room > 0:
            samples.extend(array("d", (value,)) * room)
        for seq in range(self.submitted - count + room + 1, self.submitted + 1):
            samples[seq % limit] = value  # the ring is full: overwrite the oldest, as one by one would

    def percentile(self, p: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def check_spec_key(component: Component) -> bytes:
    """What makes a job different: the check itself (breaker or ladder edits don't reschedule).
    A digest, not the JSON: 10,000 components kept 2 MB of JSON only to compare it on reload."""
    return hashlib.blake2b(component.check.model_dump_json().encode(), digest_size=16).digest()


def _tick_for(interval: float) -> tuple[float, int]:
    """(tick, slots) with tick × slots == interval: fine enough to keep runs spread, coarse enough
    that each firing starts a batch."""
    tick = min(MAX_TICK_S, max(MIN_TICK_S, interval / SLOTS_PER_INTERVAL))
    slots = max(1, round(interval / tick))
    return interval / slots, slots


@dataclass
class _Bucket:
    interval: float
    tick: float
    slots: int
    #: slot index → names of the components in that phase
    members: dict[int, set[str]] = field(default_factory=dict)
    #: the last slot number (absolute: time / tick) already handled
    cursor: int = 0

    @property
    def job_id(self) -> str:
        return f"{BUCKET_PREFIX}{self.interval!r}"


class _Resumed:
    """A coroutine already stepped once (it yielded `waiting`), continued by whoever awaits this:
    what `await coro` would have done from its first suspension on (see `_start_due`)."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine, waiting: object) -> None:
        self._coro: Coroutine | None = coro
        self._waiting: object = waiting

    def __await__(self):
        coro, waiting = self._coro, self._waiting
        if coro is None:
            raise RuntimeError("a resumed check can be awaited once")
        self._coro = self._waiting = None  # the awaiting frame owns them now; drop this object's refs
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _resume(coro: Coroutine, waiting: object) -> object:
    return await _Resumed(coro, waiting)


class _RobustScheduler(AsyncIOScheduler):
    """AsyncIOScheduler whose wake-up survives a job whose next run time cannot be computed.

    APScheduler computes a job's next fire time inside `_process_jobs`; an exception there (an interval
    so long the date overflows) escapes `wakeup`, the timer is never re-armed, and every job stops.
    Here the offending jobs are removed and reported, and the wake-up is tried again.
    """

    on_unschedulable: Callable[[str, str], None] | None = None

    @run_in_event_loop
    def wakeup(self):
        self._stop_timer()
        try:
            wait_seconds = self._process_jobs()
        except Exception as exc:
            evicted = self._evict_unschedulable()
            if not evicted:
                log.exception("scheduler wake-up failed; trying again", error=repr(exc))
            wait_seconds = 0 if evicted else WAKEUP_RETRY_S
        self._start_timer(wait_seconds)

    def _evict_unschedulable(self) -> list[str]:
        now = datetime.now(self.timezone)
        evicted = []
        for job in self.get_jobs():
            if job.next_run_time is None:
                continue
            try:
                job.trigger.get_next_fire_time(job.next_run_time, now)
            except Exception as exc:
                evicted.append(job.id)
                job.remove()
                log.error("job cannot be scheduled; removed, the others keep running", job=job.id, error=repr(exc))
                if self.on_unschedulable is not None:
                    self.on_unschedulable(job.id, f"{type(exc).__name__}: {exc}")
        return evicted


class CheckScheduler:
    def __init__(
        self,
        run: Callable[[str], Awaitable[None]],
        *,
        fast_every: timedelta = timedelta(seconds=1),
        on_missed: Callable[[str, int, str], None] | None = None,
        rng: random.Random | None = None,
        stall_after: float = STALL_AFTER_S,
    ) -> None:
        self._run = run
        self._fast_every = fast_every
        self._on_missed = on_missed
        self._rng = rng or random.Random()
        self._scheduler = _RobustScheduler(timezone=UTC)
        self._scheduler.on_unschedulable = self._report_unschedulable
        #: the APScheduler instance, for other timed jobs on the same loop (chaos experiments' schedules)
        self.jobs = self._scheduler
        self._specs: dict[str, bytes] = {}
        self._every: dict[str, float] = {}
        self._fast: set[str] = set()
        self._buckets: dict[float, _Bucket] = {}
        #: name → (bucket interval, slot)
        self._where: dict[str, tuple[float, int]] = {}
        self._running: dict[str, asyncio.Task] = {}
        self.missed: Counter[str] = Counter()
        self.load = LoadState()
        self._window = [0, 0, 0]  # submitted, late, missed since the last load evaluation
        self._missed_since_log: Counter[str] = Counter()
        self._missed_logged_at = float("-inf")
        self.lateness = LatenessStats()
        #: what could not be scheduled (job or component → why); reported, never fatal
        self.unschedulable: dict[str, str] = {}
        self.stall_after = stall_after
        #: monotonic time a job of this scheduler last fired (the watchdog reads it through alive())
        self.last_fired = time.monotonic()
        self.batches = 0

    # --- lifecycle ---

    def start(self) -> None:
        """Must be called from inside the running event loop (AsyncIOScheduler binds to it)."""
        self._scheduler.add_job(
            self._evaluate_load_job,
            IntervalTrigger(seconds=LOAD_WINDOW_S, timezone=UTC),
            id="scheduler:load",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.last_fired = time.monotonic()
        self._scheduler.start()

    def pause(self) -> None:
        """Stop starting new runs (shutdown): running checks finish on their own."""
        if self._scheduler.running:
            self._scheduler.pause()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def alive(self, now: float | None = None) -> bool:
        """Still firing: some job ran within `stall_after` (the load job alone runs every 5 s)."""
        now = time.monotonic() if now is None else now
        return self._scheduler.running and now - self.last_fired <= self.stall_after

    @property
    def job_count(self) -> int:
        return len(self._specs)

    # --- the set of jobs follows the config ---

    def sync(self, components: Mapping[str, Component]) -> SyncReport:
        """Diff the running jobs against a config: unchanged jobs are left alone (their timing too)."""
        report = SyncReport()
        for name in sorted(set(self._specs) - set(components)):
            self._remove(name)
            report.removed.append(name)
        for name, component in components.items():
            key = check_spec_key(component)
            if name not in self._specs:
                self._add(name, component, key)
                report.added.append(name)
            elif self._specs[name] != key:
                self._remove(name)
                self._add(name, component, key)
                report.changed.append(name)
            else:
                report.unchanged.append(name)
        return report

    def _add(self, name: str, component: Component, key: bytes) -> None:
        every = component.check.every.total_seconds()
        self._specs[name] = key
        self._every[name] = every
        self._place(name, first_in=self._rng.uniform(0, min(every, MAX_FIRST_OFFSET_S)))

    def _remove(self, name: str) -> None:
        self._specs.pop(name, None)
        self._every.pop(name, None)
        self._fast.discard(name)
        self.unschedulable.pop(name, None)
        self._unplace(name)

    def _interval(self, name: str) -> float:
        every = self._every[name] * self.load.stretch
        return min(every, self._fast_every.total_seconds()) if name in self._fast else every

    # --- the wheel ---

    def _place(self, name: str, *, first_in: float) -> None:
        """Put `name` in its interval's bucket, in the phase slot that makes its next run `first_in`
        from now. A component that cannot be placed is reported and skipped; the others go on."""
        self._unplace(name)
        try:
            interval = self._interval(name)
            if not (interval > 0 and math.isfinite(interval)):
                raise ValueError(f"interval {interval!r} s cannot be scheduled")
            bucket = self._bucket(interval)
            # the first run is `first_in` from now, but never later than one full turn of the wheel
            slot_number = min(
                max(math.ceil((time.time() + first_in) / bucket.tick), bucket.cursor + 1), bucket.cursor + bucket.slots
            )
            slot = slot_number % bucket.slots
        except UNSCHEDULABLE as exc:
            self._report_unschedulable(name, f"{type(exc).__name__}: {exc}")
            return
        bucket.members.setdefault(slot, set()).add(name)
        self._where[name] = (interval, slot)
        self.unschedulable.pop(name, None)

    def _unplace(self, name: str) -> None:
        where = self._where.pop(name, None)
        if where is None:
            return
        interval, slot = where
        bucket = self._buckets.get(interval)
        if bucket is None:
            return
        members = bucket.members.get(slot)
        if members is not None:
            members.discard(name)
            if not members:
                del bucket.members[slot]
        if not bucket.members:
            del self._buckets[interval]
            job = self._scheduler.get_job(bucket.job_id)
            if job is not None:
                job.remove()

    def _bucket(self, interval: float) -> _Bucket:
        bucket = self._buckets.get(interval)
        if bucket is not None:
            return bucket
        tick, slots = _tick_for(interval)
        now = time.time()
        bucket = _Bucket(interval, tick, slots, cursor=math.floor(now / tick))
        # the job fires on the bucket's grid (multiples of tick), so slot numbers are exact
        start = datetime.fromtimestamp((bucket.cursor + 1) * tick, UTC)
        logctx.detached(
            self._scheduler.add_job,
            self._fire,
            IntervalTrigger(seconds=tick, start_date=start, timezone=UTC),
            args=(interval,),
            id=bucket.job_id,
            name=bucket.job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            replace_existing=True,
        )
        self._buckets[interval] = bucket
        return bucket

    async def _fire(self, interval: float) -> None:
        """The bucket's job: start every member whose slot came due since the last firing."""
        self.last_fired = time.monotonic()
        bucket = self._buckets.get(interval)
        if bucket is None:
            return
        now = time.time()
        current = math.floor(now / bucket.tick + 1e-9)
        # a backlog longer than one interval collapses: each member is due once (coalesce)
        first = max(bucket.cursor + 1, current - bucket.slots + 1)
        bucket.cursor = max(bucket.cursor, current)
        grace = max(1.0, interval)
        members = bucket.members
        for number in range(first, current + 1):
            names = members.get(number % bucket.slots)
            if names:
                self.batches += 1
                self._start_due(names, now - number * bucket.tick, grace)

    def _start_due(self, names: set[str], lateness: float, grace: float) -> None:
        if lateness > grace:
            for name in list(names):
                self._count_missed(name, "late past its grace time", overload=True)
            return
        create_task = asyncio.get_running_loop().create_task
        running = self._running
        started = 0
        for name in list(names):  # a run may change the set (set_fast from a transition)
            if name in running:
                self._count_missed(name, "previous run still going", overload=False)
                continue
            # each run in a fresh context: whatever armed this job's timer (a recovery asking for the fast
            # cadence) must not lend its logging context to every later check (logctx)
            context = contextvars.Context()
            coro = self._run_one(name)
            # started eagerly: a run that finishes without waiting (a local tcp connect) needs no task
            # (~10 µs each at 200 checks a second); one that waits goes on in its own task, as before
            try:
                waiting = context.run(coro.send, None)
            except StopIteration:
                pass
            else:
                running[name] = create_task(_resume(coro, waiting), context=context)
            started += 1
        self.lateness.add(lateness, started)  # once per batch: every run of it is equally late
        self._window[0] += started
        if lateness > ON_TIME_S:
            self._window[1] += started

    async def _run_one(self, name: str) -> None:
        try:
            await self._run(name)
        except Exception:
            log.exception("check run failed", component=name)
        finally:
            self._running.pop(name, None)

    def next_run_at(self, name: str) -> float | None:
        """Wall-clock time of `name`'s next scheduled run (None if it is not scheduled)."""
        where = self._where.get(name)
        if where is None:
            return None
        bucket = self._buckets[where[0]]
        base = bucket.cursor + 1
        return (base + (where[1] - base) % bucket.slots) * bucket.tick

    def interval_of(self, name: str) -> float | None:
        where = self._where.get(name)
        return None if where is None else where[0]

    # --- overload ---

    def _evaluate_load_job(self) -> None:
        self.last_fired = time.monotonic()
        self.evaluate_load()

    def evaluate_load(self) -> str | None:
        """Every LOAD_WINDOW_S: stretch or relax all intervals from the last window's lateness."""
        submitted, late, missed = self._window
        self._window = [0, 0, 0]
        before = self.load.stretch
        self.load, reason = next_load_state(self.load, Window(submitted, late, missed))
        if reason is None:
            return None
        (log.warning if self.load.stretch > before else log.info)(
            "check intervals changed", stretch=self.load.stretch, reason=reason
        )
        for name in list(self._specs):
            # re-staggered, so the new cadence does not start in lockstep
            self._place(name, first_in=self._rng.uniform(0, min(self._interval(name), MAX_FIRST_OFFSET_S)))
        return reason

    # --- cadence and one-off runs ---

    def set_fast(self, name: str, fast: bool) -> None:
        """Half-open breakers and components under recovery are checked on the fast cadence."""
        if name not in self._specs or (name in self._fast) == fast:
            return
        (self._fast.add if fast else self._fast.discard)(name)
        self._place(name, first_in=self._interval(name))

    def is_fast(self, name: str) -> bool:
        return name in self._fast

    def run_soon(self, name: str) -> None:
        """Run now, once, off the wheel (a pidfd death event, an operator command); the component's
        phase is kept. A run already going is enough: nothing more is started. The run gets an empty
        context: a caller's logging context (a recovery's incident) must not leak into the check."""
        if name not in self._specs or name in self._running:
            return
        self.lateness.add(0.0)
        self._running[name] = asyncio.get_running_loop().create_task(self._run_one(name), context=contextvars.Context())

    # --- accounting ---

    def _count_missed(self, name: str, why: str, *, overload: bool) -> None:
        self.missed[name] += 1
        if overload:
            # only lateness says the host is overloaded; one check overrunning its own interval
            # ("previous run still going") is that component's problem, not a reason to slow all
            self._window[2] += 1
        self._missed_since_log[why] += 1
        self._log_missed()
        if self._on_missed is not None:
            self._on_missed(name, 1, why)

    def _report_unschedulable(self, what: str, why: str) -> None:
        self.unschedulable[what] = why
        log.error("cannot be scheduled; the other checks keep running", what=what, error=why)

    def _log_missed(self) -> None:
        """One summary line per MISSED_LOG_EVERY_S, not one per miss: under overload a line per
        missed run (thousands a second) would itself eat the loop the checks need."""
        now = time.monotonic()
        if now - self._missed_logged_at < MISSED_LOG_EVERY_S:
            return
        self._missed_logged_at = now
        worst = self.missed.most_common(3)
        log.warning(
            "check runs missed",
            since_last_report=dict(self._missed_since_log),
            missed_total=sum(self.missed.values()),
            most_missed=dict(worst),
        )
        self._missed_since_log.clear()
