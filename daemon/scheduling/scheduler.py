"""One APScheduler job per component, started inside the running event loop.

Choices, with their reasons:
- First runs are staggered by a random offset within one interval, capped at `MAX_FIRST_OFFSET_S`:
  aligned start times at 10,000 jobs gave 0.45–0.68 s of lateness in the reference measurements, while
  a component checked every hour must not stay `unknown` for up to an hour after a restart.
- `max_instances=1` (a slow check never overlaps itself) and `coalesce=True` (a backlog of missed runs
  collapses into one run instead of a burst).
- `misfire_grace_time` is the job's own interval: a run that is late by less than one interval still
  runs, so load delays checks instead of dropping them. What is dropped anyway (later than that, or
  skipped because the previous run is still going) is counted per component and reported through
  `on_missed` — never silent.
- Components that are half-open or under recovery can be switched to a faster cadence (`set_fast`).
- When the host cannot keep up, every interval is stretched by a power of two (scheduling/overload.py)
  and relaxed again once runs are on time: as much checking as the host allows, instead of a collapse.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from daemon import logctx
from daemon.config.models import Component
from daemon.scheduling.overload import LoadState, Window, next_load_state

log = structlog.get_logger(__name__)

JOB_PREFIX = "check:"
MAX_FIRST_OFFSET_S = 10.0
#: a run that starts later than this after its scheduled time is counted late (reported, not dropped)
ON_TIME_S = 1.0
MISSED_LOG_EVERY_S = 10.0
#: how often the overload controller looks at the last window
LOAD_WINDOW_S = 5.0


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass
class LatenessStats:
    """Start lateness of submitted runs (seconds after their scheduled time), kept in a bounded ring."""

    samples: list[float] = field(default_factory=list)
    limit: int = 100_000
    submitted: int = 0
    #: runs that started within ON_TIME_S of their scheduled time
    on_time: int = 0

    def add(self, value: float) -> None:
        self.submitted += 1
        if value <= ON_TIME_S:
            self.on_time += 1
        if len(self.samples) >= self.limit:
            self.samples[self.submitted % self.limit] = value
        else:
            self.samples.append(value)

    def percentile(self, p: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def check_spec_key(component: Component) -> str:
    """What makes a job different: the check itself (breaker or ladder edits don't reschedule)."""
    return component.check.model_dump_json()


class CheckScheduler:
    def __init__(
        self,
        run: Callable[[str], Awaitable[None]],
        *,
        fast_every: timedelta = timedelta(seconds=1),
        on_missed: Callable[[str, int, str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._run = run
        self._fast_every = fast_every
        self._on_missed = on_missed
        self._rng = rng or random.Random()
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._specs: dict[str, str] = {}
        self._every: dict[str, float] = {}
        self._fast: set[str] = set()
        self.missed: Counter[str] = Counter()
        self.load = LoadState()
        self._window = [0, 0, 0]  # submitted, late, missed since the last load evaluation
        self._missed_since_log: Counter[str] = Counter()
        self._missed_logged_at = float("-inf")
        self.lateness = LatenessStats()

    # --- lifecycle ---

    def start(self) -> None:
        """Must be called from inside the running event loop (AsyncIOScheduler binds to it)."""
        self._scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_SUBMITTED)
        self._scheduler.add_job(
            self.evaluate_load, IntervalTrigger(seconds=LOAD_WINDOW_S, timezone=timezone.utc),
            id="scheduler:load", max_instances=1, coalesce=True, misfire_grace_time=None,
        )
        self._scheduler.start()

    def pause(self) -> None:
        """Stop starting new runs (shutdown): running checks finish on their own."""
        if self._scheduler.running:
            self._scheduler.pause()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

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

    def _add(self, name: str, component: Component, key: str) -> None:
        every = component.check.every.total_seconds()
        self._specs[name] = key
        self._every[name] = every
        offset = self._rng.uniform(0, min(every, MAX_FIRST_OFFSET_S))
        self._scheduler.add_job(
            self._run,
            trigger=self._trigger(name, first_in=offset),
            args=(name,),
            id=JOB_PREFIX + name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every)),
            replace_existing=True,
        )

    def _remove(self, name: str) -> None:
        self._specs.pop(name, None)
        self._every.pop(name, None)
        self._fast.discard(name)
        job = self._scheduler.get_job(JOB_PREFIX + name)
        if job is not None:
            job.remove()

    def _interval(self, name: str) -> float:
        every = self._every[name] * self.load.stretch
        return min(every, self._fast_every.total_seconds()) if name in self._fast else every

    # --- overload ---

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
            job = self._scheduler.get_job(JOB_PREFIX + name)
            if job is not None:
                # re-staggered, so the new cadence does not start in lockstep
                first_in = self._rng.uniform(0, min(self._interval(name), MAX_FIRST_OFFSET_S))
                logctx.detached(job.reschedule, trigger=self._trigger(name, first_in=first_in))
        return reason

    def _trigger(self, name: str, *, first_in: float) -> IntervalTrigger:
        start = datetime.now(timezone.utc) + timedelta(seconds=first_in)
        return IntervalTrigger(seconds=self._interval(name), start_date=start, timezone=timezone.utc)

    # --- cadence and one-off runs ---

    def set_fast(self, name: str, fast: bool) -> None:
        """Half-open breakers and components under recovery are checked on the fast cadence."""
        if name not in self._specs or (name in self._fast) == fast:
            return
        (self._fast.add if fast else self._fast.discard)(name)
        job = self._scheduler.get_job(JOB_PREFIX + name)
        if job is not None:
            first_in = self._interval(name)
            job.reschedule(trigger=self._trigger(name, first_in=first_in))

    def is_fast(self, name: str) -> bool:
        return name in self._fast

    def run_soon(self, name: str) -> None:
        """Pull the next run forward to now (a pidfd death event, an operator command)."""
        job = self._scheduler.get_job(JOB_PREFIX + name)
        if job is not None:
            logctx.detached(job.modify, next_run_time=datetime.now(timezone.utc))

    # --- accounting ---

    def _on_event(self, event: JobEvent) -> None:
        if not event.job_id.startswith(JOB_PREFIX):
            return
        name = event.job_id[len(JOB_PREFIX) :]
        if event.code == EVENT_JOB_SUBMITTED:
            now = datetime.now(timezone.utc)
            for scheduled in getattr(event, "scheduled_run_times", None) or ():
                lateness = (now - scheduled).total_seconds()
                self.lateness.add(lateness)
                self._window[0] += 1
                if lateness > ON_TIME_S:
                    self._window[1] += 1
            return
        why = "late past its grace time" if event.code == EVENT_JOB_MISSED else "previous run still going"
        self.missed[name] += 1
        if event.code == EVENT_JOB_MISSED:
            # only lateness says the host is overloaded; one check overrunning its own interval
            # ("previous run still going") is that component's problem, not a reason to slow all
            self._window[2] += 1
        self._missed_since_log[why] += 1
        self._log_missed()
        if self._on_missed is not None:
            self._on_missed(name, 1, why)

    def _log_missed(self) -> None:
        """One summary line per MISSED_LOG_EVERY_S, not one per miss: under overload a line per
        missed run (thousands a second) would itself eat the loop the checks need."""
        now = time.monotonic()
        if now - self._missed_logged_at < MISSED_LOG_EVERY_S:
            return
        self._missed_logged_at = now
        worst = self.missed.most_common(3)
        log.warning("check runs missed", since_last_report=dict(self._missed_since_log),
                    missed_total=sum(self.missed.values()), most_missed=dict(worst))
        self._missed_since_log.clear()
