"""The self-healer loop: for every component, build decide()'s views, record the decision, apply it.

Why a pass over all components every TICK_S (and at once on a breaker transition or a finished step)
rather than a callback per event: decide() reads time (backoff, cooldown, reminders, failback), so the
same facts give a different decision later, and one loop that re-decides everything is the simplest way
to never miss a deadline. A pass only waits for database commits; every action runs in its own task
(`_recover`), so one slow restart never holds up other components' checks or decisions.

Intent before act: the `started` recovery event and the ladder state that counts the attempt commit
together (`await writer.submit`) before the action runs, and the outcome commits after it, shielded
from cancellation. On start, events still `started` are finished as `interrupted` with the matching
reducer, so the budget counts that attempt exactly once and the incident is decided again.

A decision is recorded in `decisions` when it changes (kind, step, incident, reason with its time
spans blanked), not on every pass: the table is the explanation, not a heartbeat.
"""

from __future__ import annotations

import asyncio
import random

import structlog

from daemon import logctx
from daemon.config.models import FallbackStep, RetryStep
from daemon.engine.actions import last_lines
from daemon.engine.decide import decide
from daemon.engine.decision import (
    BreakerView, CloseIncident, ComponentView, Decision, Escalate, Failback, GlobalBudget,
    OpenIncident, RunStep, Wait,
)
from daemon.engine.heal_apply import SPAN, applied, decision_columns, decision_key, heals_breaker, is_quiet, is_recorded
from daemon.engine.ladder import LadderState, Outcome, record_finished
from daemon.service.healer_facts import Facts, FactsCache
from daemon.service.healer_notify import Escalations
from daemon.service.healer_intents import Intents
from daemon.service.healer_state import LadderBook, ladder_op, store_fn
from daemon.service.healer_steps import StepResult, StepRunner
from daemon.service.healer_verify import Verifier
from daemon.service.tasks import cancel_and_wait
from daemon.store.intent_journal import entry as intent_entry
from daemon.types import BreakerState, CheckResult

log = structlog.get_logger(__name__)

TICK_S = 0.5
#: kept importable from here (tests and older callers); the rules live in engine/heal_apply.py
_SPAN = SPAN


class Healer:
    def __init__(self, runtime) -> None:
        self.rt = runtime
        self.clock = runtime.clock
        self.book = LadderBook(lambda: self.rt.monitor.component_ids, self._cooldown)
        self.verifier = Verifier(runtime)
        self.steps = StepRunner(lambda: self.rt.config, self.clock, self.verifier.verify, self.rt.writer.submit)
        self.escalations = Escalations(self)
        self.facts = FactsCache(runtime)
        self.intents = Intents(runtime)  # bounded intent commits; ids for incidents, events, decisions
        self.rng = random.Random()
        self._last_key: dict[str, tuple] = {}
        self._recoveries: dict[str, asyncio.Task] = {}
        self._finishing: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        #: the earliest deadline of this pass's decisions: the next pass starts then (or at the tick)
        self._due: float | None = None
        self._task: asyncio.Task | None = None

    @property
    def settings(self):
        return self.rt.config.settings.daemon

    def _cooldown(self) -> float:
        return self.settings.cooldown.total_seconds()

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore every ladder, finish what the previous daemon left `started`, then start deciding."""
        from daemon.service.healer_restore import restore

        await self.intents.start()  # ids continue after what the runtime replayed from the journal
        self.rt.monitor.unconfirmed = self.intents.watch  # breaker transitions too
        await restore(self)
        self.rt.monitor.result_listeners.append(self._on_result)
        self.rt.monitor.transition_listeners.append(lambda name, t: self._wake.set())
        from daemon.service.healer_commands import install

        install(self)
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
        config = self.rt.config
        monitor = self.rt.monitor
        reset_after = self.settings.budget_reset_after.total_seconds()
        repeats_reset = self.settings.restart_backoff_reset.total_seconds()
        facts: Facts | None = None  # built on the first component that needs a decision
        # counted once per pass (not per component: that is quadratic in a large fleet) and raised as
        # steps start below; a step that finishes meanwhile only makes the count conservative
        self._due = None
        running = sum(1 for n, s in self.book.ladders.items() if s.in_progress is not None and n in config.components)
        for name in list(config.components):
            breaker = monitor.breakers.get(name)
            if breaker is None:
                continue
            async with self.book.locks[name]:
                state = self.book.fold(name, reset_after, repeats_reset)
                now = self.clock.wall()
                if not self._quiet(name, state, breaker.state):
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
                    self._store_quietly(name, self.book.get(name), now)

    def _quiet(self, name: str, state: LadderState, breaker: BreakerState) -> bool:
        """Healthy with nothing pending and nothing new to record: decide() would say Nothing again."""
        return is_quiet(state, breaker, self._last_key.get(name))

    def _decide(self, name: str, state: LadderState, facts: Facts, now: float, running: int) -> Decision:
        component = self.rt.config.components[name]
        last = self.rt.monitor.last.get(name)
        status = last.status if last is not None else facts.health.get(name)
        period = self.rt.maintenance.covering(name, now) if self.rt.maintenance is not None else None
        view = ComponentView.from_config(component, status, last.error_class if last else None, self.settings,
                                         checked_at=last.ts if last is not None else None,
                                         suppressed=period.describe(now) if period else None,
                                         suppressed_until=period.ends_at if period else None)
        budget = GlobalBudget.from_settings(running, self.settings)
        return decide(view, BreakerView(self.rt.monitor.breakers[name].state), state, facts.deps, budget,
                      facts.health, facts.checkpoints, now, facts.stats)

    # --- applying ------------------------------------------------------------------------------------

    async def _apply(self, name: str, state: LadderState, d: Decision, now: float) -> None:
        fleet = getattr(self.rt, "fleet", None)
        hold = fleet.hold_reason(name, now) if fleet is not None and isinstance(d, RunStep) else None
        if hold is not None:  # a fleet incident: the cause is shared, a local restart would not fix it
            d = Wait(until=hold[0], reason=hold[1])
        if isinstance(d, (RunStep, Failback, Escalate)) and name in getattr(self.rt, "dry_run_components", ()):
            await self._dry_run(name, state, d, now)
        elif isinstance(d, OpenIncident):
            await self._open(name, state, d, now)
        elif isinstance(d, CloseIncident):
            await self._commit(name, applied(state, d, now), d, now, incident_id=d.incident_id,
                               ops=[{"op": "close_incident", "id": int(d.incident_id), "closed_at": now}])
            self._wake.set()  # an owed `resolved` message goes out on the next pass
        elif isinstance(d, (RunStep, Failback)):
            await self._start(name, state, d, now)
        elif isinstance(d, Escalate):
            await self.escalations.start(name, state, d, now)
        elif isinstance(d, Wait) and applied(state, d, now) is not None:
            incident_id = int(state.incident.id)
            await self._commit(name, applied(state, d, now), d, now, incident_id=incident_id,
                               ops=[{"op": "waiting_on", "id": incident_id, "name": d.waiting_on}])
        else:
            incident_id = state.incident.id if state.incident is not None else None
            if is_recorded(state, d, self._last_key.get(name), incident_id):
                await self._commit(name, None, d, now, incident_id=incident_id)

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
        event_id = self.intents.take("recovery_events")
        event = {"op": "event", "id": event_id, "incident_id": int(incident_id),
                 "component_id": self.book.component_id(name),
                 "strategy": "fallback" if failback else d.strategy, "step": d.index,
                 "attempt": 1 if failback else d.attempt, "reason": d.reason, "started_at": now,
                 "action": "deactivate" if failback else None, "candidate": d.candidate, "dry_run": 1}
        finish = {"op": "finish", "id": event_id, "status": "skipped", "finished_at": now,
                  "output": "dry run: recorded what would run; nothing ran"}
        await self._commit(name, None, d, now, incident_id=incident_id, ops=[event, finish])

    def _changed(self, name: str, d: Decision, incident_id) -> bool:
        return self._last_key.get(name) != decision_key(d, incident_id)

    def _decision_op(self, component_id, d: Decision, incident_id, now: float) -> dict | None:
        if component_id is None:
            return None
        return {"op": "decision", "id": self.intents.take("decisions"), "component_id": component_id, "ts": now,
                "reason": d.reason, "incident_id": None if incident_id is None else int(incident_id),
                **decision_columns(d)}

    async def _commit(self, name: str, new: LadderState | None, d: Decision, now: float, *, incident_id, ops=()):
        """One transaction: the decision's rows, the new ladder state (if any) and the decision itself.

        Written as data (store/intent_journal.py) and committed by `intents.commit`, which waits a
        bounded time for the database and otherwise journals it: a locked database never stops healing.
        """
        component_id = self.book.component_id(name)
        decision = self._decision_op(component_id, d, incident_id, now)
        ladder = ladder_op(component_id, new, self._cooldown(), now) if new is not None else None
        anchor = ["absent", "decisions", decision["id"]] if decision is not None else None
        await self.intents.commit(intent_entry(anchor, [*ops, ladder, decision]))
        if new is not None:
            self.book.set(name, new)
        self._last_key[name] = decision_key(d, incident_id)
        log.info("healer decision", component=name, incident=incident_id, kind=decision_columns(d)["kind"], reason=d.reason)

    async def _open(self, name: str, state: LadderState, d: OpenIncident, now: float) -> None:
        """The incident's id exists only inside the transaction, so its ladder state and decision row
        are written there too."""
        component_id = self.book.component_id(name)
        if component_id is None:
            return
        incident_id = self.intents.take("incidents")
        new = applied(state, d, now, incident_id)
        ops = [{"op": "incident", "id": incident_id, "component_id": component_id, "opened_at": now, "trigger": d.trigger},
               ladder_op(component_id, new, self._cooldown(), now), self._decision_op(component_id, d, incident_id, now)]
        await self.intents.commit(intent_entry(["absent", "incidents", incident_id], ops))
        self.book.set(name, new)
        self._last_key[name] = decision_key(d, incident_id)
        log.warning("incident opened", component=name, incident=incident_id, reason=d.reason)
        self._wake.set()

    async def _start(self, name: str, state: LadderState, d: RunStep | Failback, now: float) -> None:
        """Intent: the `started` event and the counted attempt commit before the task acts."""
        component = self.rt.config.components[name]
        step = component.recovery[d.index] if d.index < len(component.recovery) else None
        failback = isinstance(d, Failback)
        if failback:
            step = step if isinstance(step, FallbackStep) else None
            new = applied(state, d, now)
            event = {"strategy": "fallback", "action": "deactivate", "attempt": 1, "candidate": d.candidate}
        else:
            new = applied(state, d, now)
            event = {"strategy": d.strategy, "action": _action_label(step), "attempt": d.attempt,
                     "candidate": d.candidate,
                     "checkpoint_id": int(d.checkpoint_id) if d.checkpoint_id is not None else None}
        incident_id = int(d.incident_id)
        component_id = self.book.component_id(name)
        event_id = self.intents.take("recovery_events")
        event.update(op="event", id=event_id, incident_id=incident_id, component_id=component_id, step=d.index,
                     reason=d.reason, started_at=now, dry_run=0)
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
                    self._finish_later(name, step, d, event_id, StepResult(
                        Outcome.INTERRUPTED, "interrupted: healerd stopped while this step ran"))
                    raise
                except Exception as exc:  # a bug must not leave the step `started` forever
                    log.exception("recovery step crashed")
                    result = StepResult(Outcome.FAILED, f"healer error: {type(exc).__name__}: {exc}")
                failed = result.outcome is not Outcome.SUCCEEDED and result.output
                log.info("recovery step finished", strategy=what, outcome=result.outcome.value, message=result.message,
                         exit_code=result.exit_code, **({"output": last_lines(result.output)} if failed else {}))
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
                ops = [{"op": "finish", "id": event_id, "status": result.outcome.value, "finished_at": now,
                        "verified_at": result.verified_at, "exit_code": result.exit_code, "output": result.text,
                        "candidate": result.candidate}]
                if activated and component_id is not None:
                    ops.append({"op": "fallback_set", "component_id": component_id, "candidate": result.candidate,
                                "activated_at": now, "incident_id": int(d.incident_id), "now": now})
                if failed_back and component_id is not None:
                    ops.append({"op": "fallback_clear", "component_id": component_id, "now": now})
                ops.append(ladder_op(component_id, new, self._cooldown(), now))
                await self.intents.commit(intent_entry(["started", event_id], ops))
                self.book.set(name, new)
                if heals_breaker(d, result.outcome is Outcome.SUCCEEDED):
                    # the component's own check proved it back: probe now instead of reporting it open
                    self.rt.monitor.recovered(name, f"verified recovery: {d.strategy} (step {d.index + 1}) "
                                                    f"of incident {d.incident_id}; half-open probes decide")
                if isinstance(d, RunStep) and d.strategy == "restore":
                    self.facts.invalidate_checkpoints()  # a restore may have found its version corrupt
        except Exception:
            log.exception("recording a step's outcome failed", component=name, event_id=event_id)
        finally:
            self._wake.set()

    def _store_quietly(self, name: str, state: LadderState, now: float) -> None:
        """Persist a state that changed without a row of its own (healthy_since); not awaited."""
        future = self.rt.writer.submit(store_fn(self.book.component_id(name), state, self._cooldown(), now))
        future.add_done_callback(_log_failure)
        self.book.dirty.discard(name)

    def _on_result(self, result: CheckResult) -> None:
        breaker = self.rt.monitor.breakers.get(result.component)
        if breaker is not None:
            self.book.observe(result.component, result.status, breaker.state, result.ts)
        self.verifier.on_result(result)


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

