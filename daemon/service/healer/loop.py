"""The self-healer loop: for every component, build decide()'s views, record the decision, apply it.

Why a pass over all components every TICK_S (and at once on a breaker transition or a finished step)
rather than a callback per event: decide() reads time (backoff, cooldown, reminders, failback), so the
same facts give a different decision later, and one loop that re-decides everything is the simplest way
to never miss a deadline. A pass only waits for database commits; every action runs in its own task
(`_recover`), so one slow restart never holds up other components' checks or decisions.

Intent before act: the `started` recovery event and the ladder state that counts the attempt commit
together (service/healer/commit.py, the one write path) before the action runs, and the outcome commits after it, shielded
from cancellation. On start, events still `started` are finished as `interrupted` with the matching
reducer, so the budget counts that attempt exactly once and the incident is decided again.

A decision is recorded in `decisions` when it changes (kind, step, incident, reason with its time
spans blanked), not on every pass: the table is the explanation, not a heartbeat.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import structlog

from daemon import logctx
from daemon.clock import Clock
from daemon.config.models import DaemonSettings, FallbackStep, HealerdConfig, RetryStep
from daemon.engine.actions import last_lines
from daemon.engine.decide import decide
from daemon.engine.decision import (
    BreakerView,
    CloseIncident,
    ComponentView,
    Decision,
    Escalate,
    Failback,
    GlobalBudget,
    OpenIncident,
    RunStep,
    Wait,
)
from daemon.engine.heal_apply import (
    SPAN,
    IncidentId,
    applied,
    decision_columns,
    decision_key,
    heals_breaker,
    is_quiet,
    is_recorded,
)
from daemon.engine.ladder import LadderState, Outcome, record_finished
from daemon.engine.maintenance import Period
from daemon.service.healer.commit import LadderCommits
from daemon.service.healer.facts import Facts, FactsCache
from daemon.service.healer.intents import Intents
from daemon.service.healer.notify import Escalations
from daemon.service.healer.state import LadderBook
from daemon.service.healer.steps import StepResult, StepRunner
from daemon.service.healer.verify import Verifier
from daemon.service.monitor import Monitor
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import Cadence, CommandHandler, ConfigGetter, Store
from daemon.types import BreakerState, CheckResult, Status

log = structlog.get_logger(__name__)

TICK_S = 0.5
#: A pass looks only at components something happened to (`LadderBook.attention`); every this many
#: seconds, and after a reload, it walks them all — a safety net for a poke that never came.
FULL_SWEEP_S = 60.0
#: kept importable from here (tests and older callers); the rules live in engine/heal_apply.py
_SPAN = SPAN


@dataclass(frozen=True)
class HealerLinks:
    """What the healer asks of services that may start after it (maintenance, fleet, web, chaos)."""

    #: the maintenance window or silence covering a component at a time
    covering: Callable[[str, float], Period | None] = lambda name, now: None
    #: a fleet incident holding local restarts of a component: (until, reason)
    fleet_hold: Callable[[str, float], tuple[float, str] | None] = lambda name, now: None
    #: targets of dry-run chaos experiments (a live set: chaos adds and removes names)
    dry_run: Collection[str] = field(default_factory=frozenset)
    #: the HTTP service's incident page base URL, when it runs
    incident_base: Callable[[], str | None] = lambda: None


class Healer:
    def __init__(
        self,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        monitor: Monitor,
        cadence: Cadence,
        commands: dict[str, CommandHandler],
        links: HealerLinks | None = None,
    ) -> None:
        self._config = config
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.commands = commands
        self.links = links or HealerLinks()
        self.book = LadderBook(lambda: monitor.component_ids, self._cooldown)
        self.verifier = Verifier(monitor, cadence)
        self.steps = StepRunner(config, clock, self.verifier.verify, store.submit)
        self.intents = Intents(store)  # bounded intent commits; ids for incidents, events, decisions
        self.commits = LadderCommits(self.book, self.intents, store.submit, self._cooldown)
        self.escalations = Escalations(
            config=config,
            clock=clock,
            store=store,
            monitor=monitor,
            book=self.book,
            commits=self.commits,
            incident_base=self.links.incident_base,
        )
        self.facts = FactsCache(store.read, clock, monitor)
        self.rng = random.Random()
        self._recoveries: dict[str, asyncio.Task] = {}
        self._finishing: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        #: the earliest deadline of this pass's decisions: the next pass starts then (or at the tick)
        self._due: float | None = None
        self._task: asyncio.Task | None = None
        #: the config the last full sweep walked, when (monotonic), and its components' order
        self._swept: HealerdConfig | None = None
        self._swept_at = 0.0
        self._order: dict[str, int] = {}

    @property
    def config(self):
        return self._config()

    @property
    def settings(self) -> DaemonSettings:
        return self._config().settings.daemon

    def _cooldown(self) -> float:
        return self.settings.cooldown.total_seconds()

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore every ladder, finish what the previous daemon left `started`, then start deciding."""
        from daemon.service.healer.restore import restore

        await self.intents.start()  # ids continue after what the runtime replayed from the journal
        self.monitor.unconfirmed = self.intents.watch  # breaker transitions too
        await restore(self)
        self.monitor.result_listeners.append(self._on_result)
        self.monitor.transition_listeners.append(self._on_transition)
        from daemon.service.healer.commands import install

        install(self, self.commands)
        await self.escalations.resend_pending()
        self._task = asyncio.create_task(self._loop(), name="healer")

    async def stop(self) -> None:
        """Stop deciding; cancel running steps (their actions' process groups are killed) and record them
        as interrupted — the scheduler stops with us, so a step could not be verified anyway."""
        if self._task is not None:
            await cancel_and_wait([self._task], what="healer loop")
        await cancel_and_wait(list(self._recoveries.values()), timeout=10.0, what="recoveries")
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=10)
        await self.escalations.stop()
        self.intents.close()

    def wake(self) -> None:
        """Decide again now (a dependency recovered, a command arrived) rather than at the next tick."""
        self._wake.set()

    def wants_fast(self, name: str) -> bool:
        """A step being verified wants its component checked on the fast cadence."""
        return self.verifier.wants_fast(name)

    # --- the loop ------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                await self.pass_once()
            except Exception:  # the healer must outlive any bug in one pass
                log.exception("healer pass failed; trying again")
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancel from stop()
                # a decision's deadline (a backoff's end, a reminder) is honoured on time, not up to a
                # tick late: `healerd replay` decides at those instants too, and the two must agree
                due = self._due - self.clock.wall() if self._due is not None else TICK_S
                async with asyncio.timeout(min(TICK_S, max(0.0, due))):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def pass_once(self) -> None:
        config = self.config
        monitor = self.monitor
        reset_after = self.settings.budget_reset_after.total_seconds()
        repeats_reset = self.settings.restart_backoff_reset.total_seconds()
        facts: Facts | None = None  # built on the first component that needs a decision
        # counted once per pass (not per component: that is quadratic in a large fleet) and raised as
        # steps start below; a step that finishes meanwhile only makes the count conservative
        self._due = None
        running = sum(1 for n, s in self.book.ladders.items() if s.in_progress is not None and n in config.components)
        for name in self._to_examine(config):
            breaker = monitor.breakers.get(name)
            if breaker is None:
                continue
            async with self.book.locks[name]:
                state = self.book.fold(name, reset_after, repeats_reset)
                now = self.clock.wall()
                quiet = self._quiet(name, state, breaker.state)
                if not quiet:
                    facts = facts or await self.facts.get(config, self.book)
                    decision = self._decide(name, state, facts, now, running)
                    until = getattr(decision, "until", None)
                    if until is not None and until > now and (self._due is None or until < self._due):
                        self._due = until
                    try:
                        await self._apply(name, state, decision, now)
                    except Exception:
                        log.exception("applying a decision failed", component=name, decision=type(decision).__name__)
                    if state.in_progress is None and self.book.get(name).in_progress is not None:
                        running += 1
                if name in self.book.dirty:
                    self.commits.store_quietly(name, self.book.get(name), now).add_done_callback(_log_failure)
                if quiet:
                    self.book.settle(name)

    def _to_examine(self, config: HealerdConfig) -> list[str]:
        """The components this pass decides for, in config order: all of them after a reload and every
        FULL_SWEEP_S, otherwise those in `book.attention` (a healthy fleet costs nothing per pass)."""
        now = self.clock.monotonic()
        if config is not self._swept or now - self._swept_at >= FULL_SWEEP_S:
            self._swept, self._swept_at = config, now
            self._order = {name: i for i, name in enumerate(config.components)}
            return list(config.components)
        attention, order = self.book.attention, self._order
        gone = [name for name in attention if name not in order]
        attention.difference_update(gone)
        return sorted(attention, key=order.__getitem__)

    def _quiet(self, name: str, state: LadderState, breaker: BreakerState) -> bool:
        """Healthy with nothing pending and nothing new to record: decide() would say the same Nothing
        again (heal_apply.is_quiet; tests/engine/test_quiet_properties.py)."""
        return is_quiet(state, breaker, self.commits.last_key.get(name))

    def _decide(self, name: str, state: LadderState, facts: Facts, now: float, running: int) -> Decision:
        component = self.config.components[name]
        last = self.monitor.last.get(name)
        status = last.status if last is not None else facts.health.get(name, Status.UNKNOWN)
        period = self.links.covering(name, now)
        view = ComponentView.from_config(
            component,
            status,
            last.error_class if last else None,
            self.settings,
            checked_at=last.ts if last is not None else None,
            suppressed=period.describe(now) if period else None,
            suppressed_until=period.ends_at if period else None,
        )
        budget = GlobalBudget.from_settings(running, self.settings)
        return decide(
            view,
            BreakerView(self.monitor.breakers[name].state),
            state,
            facts.deps,
            budget,
            facts.health,
            facts.checkpoints,
            now,
            facts.stats,
        )

    # --- applying ------------------------------------------------------------------------------------

    async def _apply(self, name: str, state: LadderState, d: Decision, now: float) -> None:
        hold = self.links.fleet_hold(name, now) if isinstance(d, RunStep) else None
        if hold is not None:  # a fleet incident: the cause is shared, a local restart would not fix it
            d = Wait(until=hold[0], reason=hold[1])
        if isinstance(d, (RunStep, Failback, Escalate)) and name in self.links.dry_run:
            await self._dry_run(name, state, d, now)
        elif isinstance(d, OpenIncident):
            await self._open(name, state, d, now)
        elif isinstance(d, CloseIncident):
            await self._commit(
                name,
                applied(state, d, now),
                d,
                now,
                incident_id=d.incident_id,
                ops=[{"op": "close_incident", "id": int(d.incident_id), "closed_at": now}],
            )
            self._wake.set()  # an owed `resolved` message goes out on the next pass
        elif isinstance(d, (RunStep, Failback)):
            await self._start(name, state, d, now)
        elif isinstance(d, Escalate):
            await self.escalations.start(name, state, d, now)
        elif isinstance(d, Wait) and state.incident is not None and applied(state, d, now) is not None:
            incident_id = int(state.incident.id)
            await self._commit(
                name,
                applied(state, d, now),
                d,
                now,
                incident_id=incident_id,
                ops=[{"op": "waiting_on", "id": incident_id, "name": d.waiting_on}],
            )
        else:
            current = state.incident.id if state.incident is not None else None
            if is_recorded(state, d, self.commits.last_key.get(name), current):
                await self._commit(name, None, d, now, incident_id=current)

    async def _dry_run(self, name: str, state: LadderState, d: RunStep | Failback | Escalate, now: float) -> None:
        """A dry-run chaos experiment's target: record what would be done (once per distinct decision, as a
        `skipped` event with dry_run = 1), run nothing, send nothing, spend no budget."""
        incident_id = d.incident_id if d.incident_id is not None else (state.incident.id if state.incident else None)
        if not self._changed(name, d, incident_id):
            return
        if isinstance(d, Escalate) or incident_id is None:
            await self._commit(name, None, d, now, incident_id=incident_id)
            return
        failback = isinstance(d, Failback)
        strategy, attempt = ("fallback", 1) if isinstance(d, Failback) else (d.strategy, d.attempt)
        event_id = self.intents.take("recovery_events")
        event = {
            "op": "event",
            "id": event_id,
            "incident_id": int(incident_id),
            "component_id": self.book.component_id(name),
            "strategy": strategy,
            "step": d.index,
            "attempt": attempt,
            "reason": d.reason,
            "started_at": now,
            "action": "deactivate" if failback else None,
            "candidate": d.candidate,
            "dry_run": 1,
        }
        finish = {
            "op": "finish",
            "id": event_id,
            "status": "skipped",
            "finished_at": now,
            "output": "dry run: recorded what would run; nothing ran",
        }
        await self._commit(name, None, d, now, incident_id=incident_id, ops=[event, finish])

    def _changed(self, name: str, d: Decision, incident_id: IncidentId) -> bool:
        return self.commits.last_key.get(name) != decision_key(d, incident_id)

    async def _commit(
        self,
        name: str,
        new: LadderState | None,
        d: Decision,
        now: float,
        *,
        incident_id: IncidentId,
        ops: list[dict[str, Any]] | tuple[()] = (),
    ) -> None:
        """The decision's rows, the new ladder state (if any) and the decision itself, in one commit
        (service/healer/commit.py: bounded, journaled when the database is slow)."""
        await self.commits.commit(name, new, now, decision=d, incident_id=incident_id, ops=ops)
        log.info(
            "healer decision", component=name, incident=incident_id, kind=decision_columns(d)["kind"], reason=d.reason
        )

    async def _open(self, name: str, state: LadderState, d: OpenIncident, now: float) -> None:
        """The incident's id exists only inside the transaction, so its ladder state and decision row
        are written there too."""
        component_id = self.book.component_id(name)
        if component_id is None:
            return
        incident_id = self.intents.take("incidents")
        new = applied(state, d, now, incident_id)
        ops = [
            {"op": "incident", "id": incident_id, "component_id": component_id, "opened_at": now, "trigger": d.trigger}
        ]
        await self.commits.commit(
            name, new, now, decision=d, incident_id=incident_id, ops=ops, anchor=["absent", "incidents", incident_id]
        )
        log.warning("incident opened", component=name, incident=incident_id, reason=d.reason)
        self._wake.set()

    async def _start(self, name: str, state: LadderState, d: RunStep | Failback, now: float) -> None:
        """Intent: the `started` event and the counted attempt commit before the task acts."""
        component = self.config.components[name]
        step = component.recovery[d.index] if d.index < len(component.recovery) else None
        event: dict[str, Any]
        if isinstance(d, Failback):
            step = step if isinstance(step, FallbackStep) else None
            new = applied(state, d, now)
            event = {"strategy": "fallback", "action": "deactivate", "attempt": 1, "candidate": d.candidate}
        else:
            new = applied(state, d, now)
            event = {
                "strategy": d.strategy,
                "action": _action_label(step),
                "attempt": d.attempt,
                "candidate": d.candidate,
                "checkpoint_id": int(d.checkpoint_id) if d.checkpoint_id is not None else None,
            }
        incident_id = _incident_of(d)
        component_id = self.book.component_id(name)
        event_id = self.intents.take("recovery_events")
        event.update(
            op="event",
            id=event_id,
            incident_id=incident_id,
            component_id=component_id,
            step=d.index,
            reason=d.reason,
            started_at=now,
            dry_run=0,
        )
        await self._commit(name, new, d, now, incident_id=incident_id, ops=[event])
        task = asyncio.create_task(self._recover(name, step, d, event_id), name=f"recover:{name}")
        task.add_done_callback(_log_failure)
        self._recoveries[name] = task

    async def _recover(self, name: str, step, d: RunStep | Failback, event_id: int) -> None:
        with logctx.only(component=name, incident=d.incident_id):
            what = "failback" if isinstance(d, Failback) else d.strategy
            log.info("recovery step started", strategy=what, step=d.index, event_id=event_id, reason=d.reason)
            try:
                try:
                    if isinstance(d, Failback):
                        result = await self.steps.failback(name, step, d)
                    else:
                        result = await self.steps.run(name, step, d)
                except asyncio.CancelledError:
                    self._finish_later(
                        name,
                        step,
                        d,
                        event_id,
                        StepResult(Outcome.INTERRUPTED, "interrupted: healerd stopped while this step ran"),
                    )
                    raise
                except Exception as exc:  # a bug must not leave the step `started` forever
                    log.exception("recovery step crashed")
                    result = StepResult(Outcome.FAILED, f"healer error: {type(exc).__name__}: {exc}")
                failed = result.outcome is not Outcome.SUCCEEDED and result.output
                log.info(
                    "recovery step finished",
                    strategy=what,
                    outcome=result.outcome.value,
                    message=result.message,
                    exit_code=result.exit_code,
                    **({"output": last_lines(result.output)} if failed else {}),
                )
                await asyncio.shield(self._finish_later(name, step, d, event_id, result))
            finally:
                if self._recoveries.get(name) is asyncio.current_task():
                    del self._recoveries[name]

    def _finish_later(self, name, step, d, event_id, result) -> asyncio.Task:
        """The outcome write as its own task: it completes even when the step's task is cancelled."""
        task = asyncio.create_task(self._finish(name, step, d, event_id, result))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        return task

    async def _finish(self, name: str, step, d: RunStep | Failback, event_id: int, result: StepResult) -> None:
        try:
            async with self.book.locks[name]:
                now = self.clock.wall()
                state = self.book.get(name)
                new = state
                if state.in_progress is not None:
                    config_step = step if not isinstance(d, Failback) else None
                    new = record_finished(state, config_step, result.outcome, now, self.rng, candidate=result.candidate)
                component_id = self.book.component_id(name)
                activated = isinstance(d, RunStep) and d.strategy == "fallback" and result.outcome is Outcome.SUCCEEDED
                failed_back = isinstance(d, Failback) and result.outcome is Outcome.SUCCEEDED
                ops = [
                    {
                        "op": "finish",
                        "id": event_id,
                        "status": result.outcome.value,
                        "finished_at": now,
                        "verified_at": result.verified_at,
                        "exit_code": result.exit_code,
                        "output": result.text,
                        "candidate": result.candidate,
                    }
                ]
                if activated and component_id is not None:
                    ops.append(
                        {
                            "op": "fallback_set",
                            "component_id": component_id,
                            "candidate": result.candidate,
                            "activated_at": now,
                            "incident_id": _incident_of(d),
                            "now": now,
                        }
                    )
                if failed_back and component_id is not None:
                    ops.append({"op": "fallback_clear", "component_id": component_id, "now": now})
                await self.commits.commit(name, new, now, ops=ops, anchor=["started", event_id])
                if heals_breaker(d, result.outcome is Outcome.SUCCEEDED):
                    # the component's own check proved it back: probe now instead of reporting it open
                    what = d.strategy if isinstance(d, RunStep) else "fallback"
                    self.monitor.recovered(
                        name,
                        f"verified recovery: {what} (step {d.index + 1}) "
                        f"of incident {d.incident_id}; half-open probes decide",
                    )
                if isinstance(d, RunStep) and d.strategy == "restore":
                    self.facts.invalidate_checkpoints()  # a restore may have found its version corrupt
        except Exception:
            log.exception("recording a step's outcome failed", component=name, event_id=event_id)
        finally:
            self._wake.set()

    def _on_transition(self, name: str, transition: object) -> None:
        self.book.attention.add(name)
        self._wake.set()

    def _on_result(self, result: CheckResult) -> None:
        breaker = self.monitor.breakers.get(result.component)
        if breaker is not None:
            self.book.observe(result.component, result.status, breaker.state, result.ts)
        self.verifier.on_result(result)


def _incident_of(d: RunStep | Failback) -> int:
    """A step always belongs to an open incident (decide() only runs steps inside one)."""
    if d.incident_id is None:
        raise ValueError(f"{type(d).__name__} without an incident")
    return int(d.incident_id)


def _action_label(step) -> str:
    """`recovery_events.action`: which of the step's actions ran (run/signal/http for a retry)."""
    if isinstance(step, RetryStep):
        action = step.action
        return "run" if action.run is not None else "signal" if action.signal is not None else "http"
    return {"restore": "restore", "fallback": "activate"}.get(getattr(step, "strategy", ""), "run")


def _log_failure(future: asyncio.Future) -> None:
    """Done-callback for work nobody awaits (quiet stores, step tasks): an error is logged, not lost."""
    if not future.cancelled() and future.exception() is not None:
        exc = future.exception()
        log.error("healer background work failed", error=f"{type(exc).__name__}: {exc}")
