"""Checks → breakers → store: what happens each time a component is checked.

The breaker state machine is pure; this module is its edge. A transition is a must-not-lose write
(submitted to the writer together with the breaker's new snapshot); counter changes without a
transition are coalesced and flushed every `FLUSH_EVERY` seconds, so a `kill -9` loses at most that
much of counting progress but never a transition or a deadline. A breaker whose only change since
its last committed row is its streak counters (a healthy component's success count, every check)
gets a three-column UPDATE instead of the whole row: ~1.5 µs instead of ~15 µs a check in SQLite.

Process death is an event: when a `process` check finds its process, the pid is watched through a
pidfd, and the death itself is recorded as an `unhealthy/not_running` result the moment it happens,
instead of waiting for the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from daemon.clock import Clock
from daemon.config.models import Component, HealerdConfig, ProcessCheck
from daemon.engine.breaker import BreakerSnapshot, CircuitBreaker, Transition
from daemon.engine.checks import make_client, run_check
from daemon.engine.checks.base import CheckContext
from daemon.engine.pidwatch import PidWatcher
from daemon.service.tasks import cancel_and_wait
from daemon.store import state as store_state
from daemon.store.intent_journal import apply_entry
from daemon.store.intent_journal import entry as intent_entry
from daemon.types import BreakerState, CheckResult, Status

log = structlog.get_logger(__name__)
#: the stdlib logger under `log`: asking it first spares a filtered-out debug line structlog's whole
#: processor chain (timestamp, context merge), ~20 µs per check at 200 checks a second
_stdlog = logging.getLogger(__name__)

FLUSH_EVERY = 0.25
#: A healthy breaker's success count changes on every check and decides nothing while it is closed
#: (only half-open counts successes): a row whose only change is its counters is written at most this
#: often, and at stop. A kill -9 can then bring a closed breaker back with a success count a few checks
#: short, never with another state, window or deadline (issue 11: one UPDATE per check otherwise).
COUNTS_EVERY = 10.0

TransitionListener = Callable[[str, Transition], None]


def snapshot_row(snapshot: BreakerSnapshot) -> dict[str, Any]:
    """The breaker as the `breakers` table stores it."""
    return {
        "state": snapshot.state.value,
        "since": snapshot.since,
        "open_until": snapshot.open_until,
        "consecutive_failures": snapshot.consecutive_failures,
        "consecutive_successes": snapshot.consecutive_successes,
        "reopen_count": snapshot.reopen_count,
        "recent": list(snapshot.recent),
        "last_closed_at": snapshot.last_closed_at,
    }


def snapshot_from_row(row: dict[str, Any]) -> BreakerSnapshot:
    return BreakerSnapshot(
        state=BreakerState(row["state"]),
        since=float(row["since"]),
        open_until=row.get("open_until"),
        consecutive_failures=int(row.get("consecutive_failures") or 0),
        consecutive_successes=int(row.get("consecutive_successes") or 0),
        reopen_count=int(row.get("reopen_count") or 0),
        recent=tuple(row.get("recent") or ()),
        last_closed_at=row.get("last_closed_at"),
    )


ResultListener = Callable[[CheckResult], None]


def _only_counts_differ(before: BreakerSnapshot, after: BreakerSnapshot) -> bool:
    """Everything but the consecutive failure/success counters is the same."""
    return (
        before.state is after.state
        and before.since == after.since
        and before.open_until == after.open_until
        and before.reopen_count == after.reopen_count
        and before.recent == after.recent
        and before.last_closed_at == after.last_closed_at
    )


class Monitor:
    def __init__(self, config: HealerdConfig, writer, clock: Clock, component_ids: dict[str, int]) -> None:
        self.config = config
        self.writer = writer
        self.clock = clock
        self.component_ids = component_ids
        self.breakers: dict[str, CircuitBreaker] = {}
        self.last: dict[str, CheckResult] = {}
        self.transition_listeners: list[TransitionListener] = []
        #: (future, entry) of each transition write: the healer journals those not committed in time
        self.unconfirmed: Callable[[asyncio.Future[Any], dict[str, Any]], None] | None = None
        self.result_listeners: list[ResultListener] = []
        #: in-daemon fault injection (chaos): name → callable(result) -> result
        self.injectors: dict[str, Callable[[CheckResult], CheckResult]] = {}
        self._dirty: set[str] = set()
        #: the snapshot last handed to the writer per breaker: unchanged ones are not rewritten
        self._persisted: dict[str, BreakerSnapshot] = {}
        #: name → snapshot of the last breaker write that committed, under the current component id (_flush)
        self._committed: dict[str, BreakerSnapshot] = {}
        self._running: dict[str, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._http = make_client()  # kept-alive connections, no proxy from the environment
        self._context: CheckContext | None = None  # one per monitor, not one per check
        self._pidwatch: PidWatcher | None = None
        self._watched: dict[str, tuple[int, ...]] = {}
        self._callbacks: dict[str, Callable[[int, float], None]] = {}
        #: called with a component name when one of several watched pids dies (pull its check forward)
        self.on_process_event: Callable[[str], None] | None = None
        #: name → why it is in maintenance (or None): results are marked, transitions say so (issue 10)
        self.in_maintenance: Callable[[str], str | None] | None = None
        self._flusher: asyncio.Task | None = None
        self.checks_run = 0
        #: names whose breaker may be OPEN: the only ones tick() has to look at
        self._open: set[str] = set()
        #: monotonic time of the last flush that wrote counters-only changes (COUNTS_EVERY)
        self._counts_at = float("-inf")
        #: breakers whose only change is their counters, written when COUNTS_EVERY comes round
        self._counts_later: set[str] = set()

    # --- lifecycle -----------------------------------------------------------------------------------

    def restore(self, stored: dict[str, dict[str, Any]]) -> None:
        """Breakers come back as they were stored: an open breaker stays open until its deadline."""
        for name, component in self.config.components.items():
            snap = stored.get(name)
            if snap is not None:
                breaker = self.breakers[name] = CircuitBreaker.restore(
                    component.breaker, snapshot_from_row(snap), self.clock
                )
                if breaker.state is BreakerState.OPEN:
                    self._open.add(name)
            else:
                self.breakers[name] = CircuitBreaker(component.breaker, self.clock)
                self._dirty.add(name)

    def start(self) -> None:
        self._pidwatch = PidWatcher()
        self._flusher = asyncio.create_task(self._flush_loop(), name="breaker-flush")

    async def stop(self, grace: float) -> None:
        """Let running checks finish (up to `grace`), then persist every breaker one last time."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        if self._flusher is not None:
            await cancel_and_wait([self._flusher], what="breaker flush")
        self._dirty.update(self.breakers)
        await self._flush(counts=True)
        if self._pidwatch is not None:
            self._pidwatch.close()
        await self._http.aclose()

    def apply_config(self, config: HealerdConfig, component_ids: dict[str, int]) -> None:
        """Unchanged components keep their breaker; a changed breaker spec carries the state over."""
        self.config = config
        for name, cid in self.component_ids.items():
            if component_ids.get(name) != cid:  # its row is another one now: write it whole next time
                self._committed.pop(name, None)
        self.component_ids = component_ids
        for name in list(self.breakers):
            if name not in config.components:
                del self.breakers[name]
                self.last.pop(name, None)
                self._persisted.pop(name, None)
                self._committed.pop(name, None)
                self._unwatch(name)
        for name, component in config.components.items():
            breaker = self.breakers.get(name)
            if breaker is None:
                self.breakers[name] = CircuitBreaker(component.breaker, self.clock)
                self._dirty.add(name)
            elif breaker.spec != component.breaker:
                self.breakers[name] = breaker.with_spec(component.breaker)
                self._dirty.add(name)

    # --- one check -----------------------------------------------------------------------------------

    async def run(self, name: str) -> None:
        """The scheduler's job for one component. Never raises: a failure here is logged, not fatal."""
        component = self.config.components.get(name)
        if component is None:
            return
        self._running[name] = self._running.get(name, 0) + 1
        self._idle.clear()
        # bind/reset by token, not bound_contextvars(): that one reads the whole context on each call
        tokens = structlog.contextvars.bind_contextvars(component=name)
        try:
            ctx = self._context
            if ctx is None or ctx.cwd != self.config.directory:
                ctx = self._context = CheckContext(clock=self.clock, client=self._http, cwd=self.config.directory)
            result = await run_check(component, ctx=ctx)
            injector = self.injectors.get(name)
            if injector is not None:
                result = injector(result)
            self.checks_run += 1
            if _stdlog.isEnabledFor(logging.DEBUG):
                log.debug(
                    "check",
                    status=result.status.value,
                    error_class=result.error_class,
                    latency_ms=round(result.latency_ms, 1),
                )
            self.observe(result)
            if isinstance(component.check, ProcessCheck) and result.status is Status.HEALTHY:
                await self._watch_process(component)
        except Exception:
            log.exception("check pipeline failed", component=name)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
            self._running[name] -= 1
            if self._running[name] <= 0:
                del self._running[name]
            if not self._running:
                self._idle.set()

    def observe(self, result: CheckResult) -> list[Transition]:
        """Record a result and feed it to the component's breaker."""
        why = self.in_maintenance(result.component) if self.in_maintenance is not None else None
        if why is not None and not result.maintenance:
            result = replace(result, maintenance=True)
        self.writer.submit_result(result)
        self.last[result.component] = result
        breaker = self.breakers.get(result.component)
        transitions: list[Transition] = []
        if breaker is not None:
            # a healthy result on a settled breaker changes only its success count: that goes out with the
            # counters every COUNTS_EVERY, without a snapshot and comparison in every flush until then
            counted = result.status is Status.HEALTHY and breaker.settled()
            transitions = breaker.feed(result.status, result.error_class)  # feed() ticks first
            (self._counts_later if counted and not transitions else self._dirty).add(result.component)
            if transitions and why is not None:
                transitions = [replace(t, reason=f"{t.reason} (during maintenance: {why})") for t in transitions]
            if transitions:
                self._persist_transitions(result.component, transitions)
        for listener in self.result_listeners:
            listener(result)
        return transitions

    def recovered(self, name: str, reason: str) -> list[Transition]:
        """The healer verified a recovery: an open breaker goes half-open now (its probes decide)."""
        breaker = self.breakers.get(name)
        if breaker is None:
            return []
        transitions = breaker.recovered(reason)
        if transitions:
            self._dirty.add(name)
            self._persist_transitions(name, transitions)
        return transitions

    def changed_in_place(self, name: str, transitions: list[Transition]) -> None:
        """An operator command changed the breaker itself (service/commands.py): store its snapshot and
        its transitions like those of a check."""
        self._dirty.add(name)
        if transitions:
            self._persist_transitions(name, transitions)

    def tick(self) -> None:
        """Time-based transitions (open → half_open at the deadline) without waiting for a result.

        Only open breakers have a deadline; they are tracked as they open, so a fleet of 10,000
        closed breakers is not walked four times a second."""
        for name in list(self._open):
            breaker = self.breakers.get(name)
            if breaker is None or breaker.state is not BreakerState.OPEN:
                self._open.discard(name)
                continue
            transitions = list(breaker.tick())
            if transitions:
                self._dirty.add(name)
                self._persist_transitions(name, transitions)

    def _persist_transitions(self, name: str, transitions: list[Transition]) -> None:
        component_id = self.component_ids.get(name)
        breaker = self.breakers[name]
        snap = breaker.snapshot()
        self._persisted[name] = snap
        snapshot = snapshot_row(snap)
        now = self.clock.wall()
        for t in transitions:
            log.info(
                "breaker transition",
                component=name,
                from_state=str(t.from_state.value),
                to_state=str(t.to_state.value),
                reason=t.reason,
            )
        if component_id is not None:
            # as data (store/intent_journal.py): if the database does not commit it in time, the healer's
            # intent journal keeps it, so a kill -9 during a database outage loses no transition
            ops: list[dict[str, Any]] = [
                {
                    "op": "transition",
                    "component_id": component_id,
                    "ts": t.at_wall,
                    "from_state": t.from_state.value,
                    "to_state": t.to_state.value,
                    "reason": t.reason,
                    "open_until": t.open_until_wall,
                }
                for t in transitions
            ]
            ops.append({"op": "breaker", "component_id": component_id, "snapshot": snapshot, "now": now})
            last = transitions[-1]
            write = intent_entry(["transition", component_id, last.at_wall, last.to_state.value], ops)
            future = self.writer.submit(lambda conn, write=write: apply_entry(conn, write))
            future.add_done_callback(lambda f, done=[(name, snap)]: self._written(f, done))
            if self.unconfirmed is not None:
                self.unconfirmed(future, write)
            self._dirty.discard(name)
        for t in transitions:
            for listener in self.transition_listeners:
                listener(name, t)
        last = transitions[-1]
        if last.to_state is BreakerState.OPEN:
            self._open.add(name)
            if last.open_until_wall is not None:
                self._half_open_at(name, last.open_until_wall)

    def _half_open_at(self, name: str, until_wall: float) -> None:
        """Go half-open at the open period's end, not at the next 250 ms tick after it: a decision taken
        in between would see the breaker open for up to 250 ms too long (and `healerd replay`, which
        steps the breaker at its deadline, would decide differently). The flush loop's tick stays as
        the fallback (a breaker restored from the database, a timer that fires a hair early)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # driven without a loop (unit tests): the tick covers it
            return
        delay = max(0.0, until_wall - self.clock.wall()) + 0.002
        loop.call_later(delay, self._tick_one, name, context=contextvars.Context())

    def _tick_one(self, name: str) -> None:
        breaker = self.breakers.get(name)
        if breaker is not None and breaker.state is BreakerState.OPEN:
            transitions = list(breaker.tick())
            if transitions:
                self._dirty.add(name)
                self._persist_transitions(name, transitions)

    # --- persistence of counters ---------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            self.tick()
            await self._flush()

    async def _flush(self, *, counts: bool = False) -> None:
        """Persist breakers whose snapshot changed since it was last written (most have not).

        Only the streak counters changed since the last write that committed, and everything handed
        over since has committed: three columns are updated instead of the row, and only every
        COUNTS_EVERY seconds (or when `counts`); until then the breaker stays dirty. Anything else (or
        any doubt: a write still in flight, one that failed, another component id) writes the whole
        row at once, as before, so the stored row is the same either way."""
        counts_due = counts or self.clock.monotonic() - self._counts_at >= COUNTS_EVERY
        if not self._dirty and not (counts_due and self._counts_later):
            return
        now = self.clock.wall()
        if counts_due:
            self._counts_at = self.clock.monotonic()
            self._dirty.update(self._counts_later)
            self._counts_later.clear()
        rows: list[tuple[int, dict[str, Any]]] = []
        counts_list: list[tuple[int, BreakerSnapshot]] = []
        done: list[tuple[str, BreakerSnapshot]] = []
        committed = self._committed
        for name in list(self._dirty):
            cid = self.component_ids.get(name)
            breaker = self.breakers.get(name)
            if cid is None or breaker is None:
                continue
            snapshot = breaker.snapshot()
            handed = self._persisted.get(name)
            if handed == snapshot:
                continue
            if handed is not None and committed.get(name) is handed and _only_counts_differ(handed, snapshot):
                if not counts_due:
                    self._counts_later.add(name)  # not looked at again until counts are due
                    continue
                counts_list.append((cid, snapshot))
            else:
                rows.append((cid, snapshot_row(snapshot)))
            self._persisted[name] = snapshot
            done.append((name, snapshot))
        self._dirty.clear()
        if rows or counts_list:

            def write(conn, rows=rows, counts=counts_list) -> None:
                if rows:
                    store_state.save_breakers(conn, rows, now)
                if counts and store_state.save_breaker_counts(
                    conn, [(cid, s.consecutive_failures, s.consecutive_successes) for cid, s in counts], now
                ) != len(counts):
                    # a row taken as current is not there (nothing deletes one today): the whole rows
                    store_state.save_breakers(conn, [(cid, snapshot_row(s)) for cid, s in counts], now)

            fut = self.writer.submit(write)
            fut.add_done_callback(lambda f: self._written(f, done))
            with contextlib.suppress(Exception):
                await asyncio.shield(fut)

    def _written(self, future: asyncio.Future, done: list[tuple[str, BreakerSnapshot]]) -> None:
        """A breaker write finished: what committed is the base of the next counters-only update; after
        a failure the next write is the whole row again."""
        ok = not future.cancelled() and future.exception() is None
        for name, snapshot in done:
            if ok:
                self._committed[name] = snapshot
            else:
                self._committed.pop(name, None)

    # --- process death as an event -------------------------------------------------------------------

    async def _watch_process(self, component: Component) -> None:
        """Watch the process the check just found; its death is recorded the moment it happens.

        One pid (a pidfile, or a `match` with one process): its death *is* the observation, recorded
        as unhealthy/not_running at once. Several pids: a death only means "look again", so the
        component's check is pulled forward instead.
        """
        from daemon.engine.checks.process import find_processes

        if self._pidwatch is None or not isinstance(component.check, ProcessCheck):
            return
        if component.pidfile is None:
            found = await asyncio.to_thread(find_processes, component.check, None)
        else:
            found = find_processes(component.check, component.pidfile)
        pids = tuple(found.pids)
        name = component.name
        if not pids or self._watched.get(name) == pids:
            return
        self._unwatch(name)
        self._watched[name] = pids

        def died(dead_pid: int, detected_at: float) -> None:
            if dead_pid not in self._watched.get(name, ()):
                return
            log.warning("watched process died", component=name, pid=dead_pid)
            if len(pids) == 1:
                self._watched.pop(name, None)
                self._callbacks.pop(name, None)
                self.observe(
                    CheckResult(
                        component=name,
                        status=Status.UNHEALTHY,
                        latency_ms=0.0,
                        message=f"process {dead_pid} exited (pidfd event)",
                        error_class="not_running",
                        ts=self.clock.wall(),
                    )
                )
            elif self.on_process_event is not None:
                self._unwatch(name)
                self.on_process_event(name)

        self._callbacks[name] = died
        for pid in pids:
            self._pidwatch.watch(pid, died)

    def _unwatch(self, name: str) -> None:
        pids = self._watched.pop(name, ())
        callback = self._callbacks.pop(name, None)
        if self._pidwatch is not None:
            for pid in pids:
                self._pidwatch.unwatch(pid, callback)  # only ours: another component may watch this pid

    @property
    def running_checks(self) -> int:
        return sum(self._running.values())
