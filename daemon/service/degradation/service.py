"""Graceful degradation in the daemon: score → level → flags, recorded, published, announced.

The decisions are pure (engine/score.py, degradation.py, flags.py, trend.py); this is their edge. One
evaluation reads what the monitor knows, updates the level tracker and then, only for what changed:

* records it through the writer in one transaction — a history row per level change with its reason,
  the degradation_state row (the tracker's snapshot, so hysteresis and the override survive kill -9),
  feature_flag_state rows, and a health snapshot every `snapshot_every`;
* publishes state.json atomically (engine/publish.py) — before the write is durable, on purpose: the
  file is what applications act on, and a locked or full database must not keep them on a stale level;
* logs each level change and hands it to the `on_change` action, run one at a time in order, off the
  evaluation path, so a slow hook cannot delay the next change.

Evaluations run promptly — debounced — when a breaker moves, a component's status changes or a flapping
incident opens or closes, and otherwise only when time passing can change the outcome: the first
instant a component's last result may turn stale, an override's deadline, the next snapshot, and every
EVALUATE_EVERY seconds while a better level is being held. A quiet fleet of 10,000 components is then
scored every few tens of seconds instead of every second (issue 11: scoring every component once a
second cost more CPU than the checks themselves).
Nothing in here may stop the daemon: every failure is logged and the next evaluation tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from daemon.clock import Clock
from daemon.config.models import Degradation
from daemon.engine.degradation import LevelChange, LevelTracker
from daemon.engine.flags import FlagState, evaluate_flags
from daemon.engine.proc import run_argv
from daemon.engine.publish import publish_state, remove_stale_temps, state_document, state_file_path
from daemon.engine.score import Condition, Observation, Score, compute_score
from daemon.engine.trend import TREND_WINDOW, TrendResult, compute_trend
from daemon.service.degradation.state import COMMANDS, apply_degrade_command, row_key, state_row, tracker_from_row
from daemon.service.monitor import Monitor
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import CommandHandler, ConfigGetter, Store
from daemon.store import degradation_sql as sql
from daemon.types import BreakerState, Status

log = structlog.get_logger(__name__)

#: Conditions that a component's last result decides, and that turn STALE as that result ages.
_AGEING = frozenset({Condition.HEALTHY, Condition.DEGRADED, Condition.UNHEALTHY, Condition.UNKNOWN})

#: Seconds between evaluations while a hold is running (the tracker waits for the score to stay good).
EVALUATE_EVERY = 1.0
#: The longest the loop sleeps with nothing due: a safety margin for wall-clock jumps, not a schedule.
IDLE_EVALUATE_EVERY = 30.0
#: A burst of results (a scheduler tick checking many components) becomes one evaluation.
DEBOUNCE_S = 0.05
#: A final state write at stop may wait this long for a busy database before giving up.
STOP_WRITE_TIMEOUT_S = 5.0


class DegradationService:
    def __init__(
        self,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        monitor: Monitor,
        commands: dict[str, CommandHandler],
        env: Mapping[str, str] | None = None,
        is_flapping: Callable[[str], bool] = lambda name: False,
    ) -> None:
        """`env`: where state.json goes ($RUNTIME_DIRECTORY; the process environment when None);
        `is_flapping(name)`: the healer holds a flapping incident open for it (the healer starts later)."""
        self._config = config
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.commands = commands
        self.env = env
        self.is_flapping = is_flapping
        self.tracker: LevelTracker | None = None
        self.score: Score | None = None
        self.flags: dict[str, FlagState] = {}
        self.trend: TrendResult | None = None
        self.state_path: Path | None = None
        #: the future of the newest write submitted (tests and command handlers await it).
        self.last_write: asyncio.Future | None = None
        self._snapshots: deque[tuple[float, float | None]] = deque(maxlen=TREND_WINDOW)
        self._last_snapshot_at: float | None = None
        self._stored_flags: dict[str, tuple[bool, str | None]] = {}
        self._stored_key: tuple | None = None
        self._published: dict[str, Any] | None = None
        self._publish_failing = False
        self._seen_status: dict[str, str] = {}
        #: name → (status, ts) last recorded before this start; see observations().
        self._stored_results: dict[str, tuple[str, float]] = {}
        self._wake = asyncio.Event()
        #: when the loop must evaluate without being poked (`_due`); None before the first evaluation
        self._due_at: float | None = None
        #: what the last evaluation scored: the config's components and their observations (`_quiet_until`)
        self._basis: tuple[Mapping[str, Any], list[Observation]] | None = None
        self._lock = asyncio.Lock()
        self._hooks: asyncio.Queue[LevelChange] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    @property
    def config(self) -> Degradation:
        return self._config().settings.degradation

    def _started(self) -> LevelTracker:
        if self.tracker is None:
            raise RuntimeError("the degradation service has not started")
        return self.tracker

    # --- lifecycle -----------------------------------------------------------------------------------

    def _state_path(self) -> Path:
        return state_file_path(self.config, self.env if self.env is not None else os.environ, Path(self.store.db_path))

    async def start(self) -> None:
        self.state_path = self._state_path()
        with contextlib.suppress(OSError):
            remove_stale_temps(self.state_path)
        row, snapshots, flags, self._stored_results = await asyncio.to_thread(self.store.read, _load_stored)
        self.tracker, problem = tracker_from_row(row, self.config, self.clock)
        if problem:
            log.warning("degradation state not restored", reason=problem)
        elif row is not None:
            log.info(
                "degradation state restored",
                level=self.tracker.level.value,
                override=None if self.tracker.override is None else self.tracker.override.level.value,
            )
        self._stored_key = row_key(row) if row is not None and row.get("tracker") else None
        self._snapshots.extend(snapshots)
        self._last_snapshot_at = snapshots[-1][0] if snapshots else None
        self._stored_flags = {name: (enabled, reason) for name, (enabled, reason, _) in flags.items()}

        monitor = self.monitor
        monitor.result_listeners.append(self._on_result)
        monitor.transition_listeners.append(self._on_transition)
        for name in COMMANDS:
            self.commands[name] = self._command
        try:
            await self.evaluate(force_publish=True)
        except Exception:  # a bug here must not keep the daemon from starting; the loop tries again
            log.exception("first degradation evaluation failed")
        self._tasks.append(asyncio.create_task(self._loop(), name="degradation"))
        self._tasks.append(asyncio.create_task(self._hook_worker(), name="degradation-on-change"))

    async def stop(self) -> None:
        """Stop evaluating, then store the tracker once more so a restart credits the latest hold."""
        monitor = self.monitor
        with contextlib.suppress(ValueError):
            monitor.result_listeners.remove(self._on_result)
        with contextlib.suppress(ValueError):
            monitor.transition_listeners.remove(self._on_transition)
        # an on_change run is killed, group and all (within the bound)
        await cancel_and_wait(self._tasks, timeout=10.0, what="degradation")
        self._tasks.clear()
        if self.tracker is None or self.score is None:
            return
        row = state_row(self.tracker, self.score.value, self.score.unknown_count, self.clock.wall())
        try:
            async with asyncio.timeout(STOP_WRITE_TIMEOUT_S):
                await self.store.submit(lambda conn: sql.save_state(conn, row))
        except Exception:
            log.warning("degradation state not stored at stop (the last stored one stays)", exc_info=True)

    # --- pokes ---------------------------------------------------------------------------------------

    def _on_result(self, result) -> None:
        status = getattr(result.status, "value", result.status)
        if self._seen_status.get(result.component) != status:
            self._seen_status[result.component] = status
            self._wake.set()

    def _on_transition(self, name: str, transition) -> None:
        self._wake.set()

    def poke(self) -> None:
        """Evaluate soon: an input outside the monitor changed (a flapping incident opened or closed)."""
        self._wake.set()

    def _next_timeout(self) -> float:
        due = self._due_at
        override = self.tracker.override if self.tracker is not None else None
        if override is not None:
            due = override.until if due is None else min(due, override.until)
        if due is None or self._publish_failing:  # a state file that could not be written is retried each second
            return EVALUATE_EVERY if due is None else min(EVALUATE_EVERY, max(0.01, due - self.clock.wall()))
        return min(IDLE_EVALUATE_EVERY, max(0.01, due - self.clock.wall()))

    def _due(self, observations: list[Observation], score: Score, now: float) -> float:
        """The first instant time alone can change this evaluation's outcome (see the module doc).

        A result arriving later only moves its component's stale instant later, so the minimum taken
        here is never late; a status change or a transition wakes the loop anyway.
        """
        cfg = self.config
        due = now + IDLE_EVALUATE_EVERY
        if self._last_snapshot_at is not None:
            due = min(due, self._last_snapshot_at + cfg.snapshot_every.total_seconds())
        tracker = self._started()
        if tracker.pending_recovery() is not None:
            due = min(due, now + EVALUATE_EVERY)
        stale_after = cfg.stale_after
        for o, part in zip(observations, score.components, strict=True):
            if part.condition in _AGEING and o.last_ts is not None:
                due = min(due, o.last_ts + stale_after * o.every_s)
        return due

    def _quiet_until(self, now: float) -> float | None:
        """At a timed wake-up: when the next one is due if scoring now would change nothing, else None.

        Nothing changes when every input of every component's condition is what the last evaluation
        saw (status, breaker, known or not), except results that kept a component fresh: the score,
        flags and level are then the same. The wake-up was set for the first instant a result *might*
        turn stale, but with checks every second the results keep coming, and scoring every component
        each time was ~5 % of the event loop's samples at 200 components (py-spy, issue 11). This is
        a pass over their timestamps instead; anything else due (a hold, an override, a snapshot, a state file to
        retry, a reload) evaluates as before. A status change or a transition pokes the loop anyway.
        """
        basis, score, tracker = self._basis, self.score, self.tracker
        if basis is None or score is None or tracker is None or self._publish_failing:
            return None
        components, observations = basis
        if components is not self._config().components or tracker.pending_recovery() is not None:
            return None
        if tracker.override is not None or self._last_snapshot_at is None:
            return None
        due = min(now + IDLE_EVALUATE_EVERY, self._last_snapshot_at + self.config.snapshot_every.total_seconds())
        if due <= now:
            return None
        last, breakers, stored = self.monitor.last, self.monitor.breakers, self._stored_results
        stale_after = self.config.stale_after
        for o, part in zip(observations, score.components, strict=True):
            result = last.get(o.name)
            status, ts = (result.status, result.ts) if result is not None else stored.get(o.name, (None, None))
            breaker = breakers.get(o.name)
            if (BreakerState.CLOSED if breaker is None else breaker.state) is not o.breaker or status != o.status:
                return None
            if ts is None or o.last_ts is None:
                if ts is not o.last_ts:
                    return None  # first checked since
                continue
            limit = stale_after * o.every_s
            fresh = now - ts <= limit  # assess()'s rule
            if part.condition in _AGEING:
                if not fresh:
                    return None  # turned stale
                due = min(due, ts + limit)
            elif part.condition is Condition.STALE and fresh:
                return None  # a new result: known again
        return due

    async def _loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as the event
            # is set, and this loop would then outlive stop().
            try:
                async with asyncio.timeout(self._next_timeout()):
                    await self._wake.wait()
                await asyncio.sleep(DEBOUNCE_S)
            except TimeoutError:
                try:
                    quiet = self._quiet_until(self.clock.wall())
                except Exception:  # a bug here must not end the loop: score, as a wake-up always did
                    log.exception("degradation wake-up check failed; scoring")
                    quiet = None
                if quiet is not None:  # a timed wake-up with nothing to change: no scoring pass
                    self._due_at = quiet
                    continue
            self._wake.clear()
            try:
                await self.evaluate()
            except Exception:
                log.exception("degradation evaluation failed; the next one will try again")

    # --- one evaluation ------------------------------------------------------------------------------

    def observations(self) -> list[Observation]:
        """What the monitor knows; until a component is checked, its last *recorded* result.

        Right after a restart nothing has been checked yet; scoring "all unknown" then would drop a
        pending recovery the tracker carried over. The stored result is subject to the same staleness
        rule as a live one, so a long downtime still reads as unknown.
        """
        monitor = self.monitor
        out = []
        for name, component in self._config().components.items():
            last = monitor.last.get(name)
            status, ts = (last.status, last.ts) if last is not None else self._stored_results.get(name, (None, None))
            if status is Status.HEALTHY and self.is_flapping(name):
                status = Status.DEGRADED  # issue 10: flapping, it is not fully up even in a good phase
            breaker = monitor.breakers.get(name)
            out.append(
                Observation.for_component(
                    component,
                    status=status,
                    last_ts=ts,
                    breaker=BreakerState.CLOSED if breaker is None else breaker.state,
                )
            )
        return out

    async def evaluate(
        self,
        mutate: Callable[[LevelTracker], Sequence[LevelChange]] | None = None,
        *,
        force_publish: bool = False,
    ) -> list[LevelChange]:
        """Score, update the level (after `mutate`, an operator command), record and publish changes.

        Returns the level changes it recorded. `mutate` may raise ValueError; nothing is changed then.
        """
        async with self._lock:
            tracker = self._started()
            cfg = self.config
            if tracker.config != cfg:  # a reload changed thresholds or hold: carry the state over
                tracker.config = cfg
            changes = list(mutate(tracker)) if mutate is not None else []
            now = self.clock.wall()
            components = self._config().components
            observations = self.observations()
            score = compute_score(observations, now, degraded_weight=cfg.degraded_weight, stale_after=cfg.stale_after)
            change = tracker.update(score.value)
            if change is not None:
                changes.append(change)
            flags = evaluate_flags(cfg.flag, tracker.level, score.conditions)
            snapshot_due = (
                self._last_snapshot_at is None or now - self._last_snapshot_at >= cfg.snapshot_every.total_seconds()
            )
            if snapshot_due:
                self._snapshots.append((now, score.value))
                self._last_snapshot_at = now
            self.score, self.flags, self.trend = score, flags, compute_trend(self._snapshots)
            self._due_at = self._due(observations, score, now)
            self._basis = (components, observations)
            self._record(changes, score, flags, now, snapshot_due)
            for c in changes:
                worse = c.to_level.rank > c.from_level.rank
                (log.warning if worse else log.info)(
                    "degradation level",
                    from_level=c.from_level.value,
                    to_level=c.to_level.value,
                    cause=c.cause.value,
                    score=c.score,
                    reason=c.reason,
                )
                if c.changed:
                    self._hooks.put_nowait(c)
            await self._publish(now, force_publish)
            return changes

    def _record(
        self, changes: list[LevelChange], score: Score, flags: dict[str, FlagState], now: float, snapshot_due: bool
    ) -> None:
        """Submit one must-not-lose write with everything that changed; never waits for it."""
        tracker = self._started()
        row = state_row(tracker, score.value, score.unknown_count, now)
        key = row_key(row)
        write_row = snapshot_due or changes or key != self._stored_key
        current: dict[str, tuple[bool, str | None]] = {name: (f.enabled, f.reason) for name, f in flags.items()}
        changed_flags = {n: s for n, s in current.items() if self._stored_flags.get(n) != s}
        removed = set(self._stored_flags) - set(current)
        if not (write_row or changed_flags or removed or snapshot_due):
            return
        history = [(c.at, c.from_level.value, c.to_level.value, c.score, c.reason) for c in changes]
        snapshot = None
        if snapshot_due:
            snapshot = (score.value, tracker.level.value, score.unknown_count, len(score.components))
        keep = list(current)

        def write(conn) -> None:
            for at, from_level, to_level, value, reason in history:
                sql.insert_history(conn, ts=at, from_level=from_level, to_level=to_level, score=value, reason=reason)
            if write_row:
                sql.save_state(conn, row)
            if changed_flags or removed:
                sql.save_flags(conn, changed_flags, keep, now)
            if snapshot is not None:
                sql.insert_snapshot(
                    conn,
                    ts=now,
                    score=snapshot[0],
                    level=snapshot[1],
                    unknown_count=snapshot[2],
                    components=snapshot[3],
                )

        self._stored_key = key
        for name, (enabled, reason) in changed_flags.items():
            before = self._stored_flags.get(name)
            if before is None or before[0] != enabled:  # a new reason for the same state is stored, not logged
                log.info("feature flag " + ("on" if enabled else "off"), flag=name, reason=reason)
        self._stored_flags = current
        fut = self.store.submit(write)
        fut.add_done_callback(_log_write_failure)
        self.last_write = fut

    async def _publish(self, now: float, force: bool) -> None:
        tracker, score, trend = self._started(), self.score, self.trend
        if score is None or trend is None:
            raise RuntimeError("publish before the first evaluation")
        document = state_document(
            level=tracker.level,
            score=score.value,
            unknown=score.unknown_count,
            trend=trend.trend,
            flags=self.flags,
            override=tracker.override,
            updated_at=now,
        )
        comparable = {k: v for k, v in document.items() if k != "updated_at"}
        path = self._state_path()  # a reload may have changed degradation.state_file
        if path != self.state_path:
            self.state_path, force = path, True
        if not force and comparable == self._published:
            return
        try:
            await asyncio.to_thread(publish_state, self.state_path, document)
        except OSError as exc:
            if not self._publish_failing:  # once per outage: a read-only /run must not flood the log
                log.error(
                    "cannot publish the degradation state file; carrying on", path=str(self.state_path), error=str(exc)
                )
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("degradation state file published again", path=str(self.state_path))
        self._publish_failing = False
        self._published = comparable

    # --- operator commands ---------------------------------------------------------------------------

    async def _command(self, cmd: dict[str, Any]) -> tuple[str, str]:
        outcome: list[str] = []

        def mutate(tracker: LevelTracker) -> list[LevelChange]:
            change, sentence = apply_degrade_command(
                tracker,
                cmd["command"],
                cmd.get("args") or {},
                now=self.clock.wall(),
                requested_at=cmd.get("created_at"),
            )
            outcome.append(sentence)
            return [change] if change is not None else []

        try:
            await self.evaluate(mutate)
        except ValueError as exc:
            return "rejected", str(exc)
        if self.last_write is not None:
            await asyncio.shield(self.last_write)  # applied = durable, before the outcome says so
        return "applied", outcome[0]

    # --- on_change -----------------------------------------------------------------------------------

    async def _hook_worker(self) -> None:
        while True:
            change = await self._hooks.get()
            try:
                await self.run_on_change(change)
            except Exception:
                log.exception("on_change action failed", to_level=change.to_level.value)

    async def run_on_change(self, change: LevelChange) -> None:
        action = self.config.on_change
        if action is None:
            return
        env = {
            **os.environ,
            **action.env,
            "HEALERD_OLD_LEVEL": change.from_level.value,
            "HEALERD_NEW_LEVEL": change.to_level.value,
            "HEALERD_SCORE": "" if change.score is None else f"{change.score:g}",
            "HEALERD_REASON": change.reason,
        }
        timeout = action.timeout.total_seconds()
        if action.run is not None:
            result = await run_argv(action.run, timeout=timeout, env=env, cwd=self._config().directory)
            ok = result.exit_code == 0 and not result.timed_out
            (log.info if ok else log.warning)(
                "on_change action ran",
                argv=action.run,
                exit_code=result.exit_code,
                timed_out=result.timed_out,
                output=result.first_line,
                to_level=change.to_level.value,
            )
        elif action.http is not None:
            await _post_change(action, change, timeout)


async def _post_change(action, change: LevelChange, timeout: float) -> None:
    import httpx

    request = action.http
    body = (
        request.body
        if request.body is not None
        else json.dumps(
            {
                "old_level": change.from_level.value,
                "new_level": change.to_level.value,
                "score": change.score,
                "reason": change.reason,
                "at": change.at,
            }
        )
    )
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        response = await client.request(
            request.method, request.url, content=body, headers={"content-type": "application/json", **request.headers}
        )
    (log.info if response.status_code < 400 else log.warning)(
        "on_change action ran", url=request.url, status=response.status_code, to_level=change.to_level.value
    )


def _load_stored(conn):
    return (
        sql.load_state(conn),
        sql.recent_snapshots(conn, TREND_WINDOW),
        sql.load_flags(conn),
        sql.latest_results(conn),
    )


def _log_write_failure(fut: asyncio.Future) -> None:
    if fut.cancelled():
        return
    exc = fut.exception()
    if exc is not None:
        log.error("degradation state write failed", error=repr(exc))
