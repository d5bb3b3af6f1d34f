"""One chaos run, from the steady-state probe to the verdict, with every step written to its journal.

    steady state before ─ no ─▶ refused (nothing injected)
          │ yes
    inject (intent recorded first) ─ failed ─▶ revert, rollback, failed
          │
    observe: detection = the target's breaker opens, recovery = it closes again; the score's minimum
             and the worst level; score < abort_below ⇒ stop at once (aborted)
          │  held faults (latency, error, unavailable, run) for `duration`; one-shot faults (kill,
          │  stop) until the target has recovered and the steady state holds, at most `duration`
    revert the held fault
    steady state after: probed until it holds (no fixed pause), at most `recovered_within` (else
          `duration`); not waited for when a one-shot fault was detected and never healed
    rollback when the run did not pass or the target is still not well, and always in a dry run
          whose fault nobody healed — an experiment never leaves its fault behind
    verdict + recommendations (engine/chaos.py)

The steady state, the score and the level are read through service/chaos/health.py (the rule is
stated there). The run samples them on each of the target's results and transitions and every
SAMPLE_EVERY seconds: an abort follows the result that crossed the floor within the degradation
service's 50 ms debounce plus one SAMPLE_EVERY at most (36 ms in the abort test's timeline).

Recovery is the healer's: once the rollback starts, breaker moves are no longer counted as detection
or recovery (a dry run whose rollback restarted the target did not "recover").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from daemon.config.models import Experiment
from daemon.engine.chaos import IN_DAEMON_FAULTS, Judgement, RunFacts, TargetFacts, judge, recommendations
from daemon.service.chaos import faults as chaos_faults
from daemon.service.chaos.health import dry_run_components, health, steady_state, target_well
from daemon.store import chaos_sql
from daemon.types import BreakerState, Level

if TYPE_CHECKING:
    from daemon.service.monitor import Monitor
    from daemon.service.wiring import ChaosHost

log = structlog.get_logger(__name__)

#: Seconds between score samples when no result or transition pokes the run.
SAMPLE_EVERY = 0.1
#: The steady state before the start is probed for up to this many of the target's check intervals,
#: within these bounds (a daemon that has just started has not checked anything yet).
BEFORE_INTERVALS = 2
BEFORE_BOUNDS_S = (1.0, 30.0)
#: A stop (SIGTERM) mid-run gets this long to revert and roll back before the daemon goes.
STOP_UNDO_S = 30.0
OPEN_STATES = (BreakerState.OPEN, BreakerState.FORCED_OPEN)


class ExperimentRun:
    def __init__(
        self,
        daemon: ChaosHost,
        experiment: Experiment,
        run_id: int,
        *,
        started_at: float,
        trigger: str,
        dry_run: bool,
        refuse: str | None = None,
    ) -> None:
        self.daemon = daemon
        self.experiment = experiment
        self.run_id = run_id
        self.trigger = trigger
        self.facts = RunFacts(started_at=started_at, fault_kind=experiment.fault.kind, dry_run=dry_run)
        self.judgement: Judgement | None = None
        self._refuse = refuse
        self._wake = asyncio.Event()
        self._writes: list[asyncio.Future] = []
        self._injected = False  # the fault may be in force (also when its injection reported failure)
        self._holding = False  # a held fault not reverted yet
        self._listening = False
        self._rolled = False  # from the rollback on, the breaker's moves are the rollback's, not the healer's

    @property
    def target(self) -> str:
        return self.experiment.target

    def _monitor(self) -> Monitor:
        monitor = self.daemon.monitor
        if monitor is None:
            raise RuntimeError("a chaos run needs the running monitor")
        return monitor

    def _wall(self) -> float:
        return self.daemon.clock.wall()

    # --- journal -------------------------------------------------------------------------------------

    def _event(
        self,
        step: str,
        status: str,
        message: str | None = None,
        data: dict[str, Any] | None = None,
        ts: float | None = None,
    ) -> asyncio.Future:
        ts = self._wall() if ts is None else ts
        run_id = self.run_id
        future = self.daemon.store.submit(
            lambda conn: chaos_sql.add_event(conn, run_id, ts=ts, step=step, status=status, message=message, data=data)
        )
        self._writes.append(future)
        log.info("chaos step", run=run_id, experiment=self.experiment.name, step=step, status=status, message=message)
        return future

    def _update(self, **fields: Any) -> asyncio.Future:
        run_id = self.run_id
        future = self.daemon.store.submit(lambda conn: chaos_sql.update_run(conn, run_id, **fields))
        self._writes.append(future)
        return future

    # --- health --------------------------------------------------------------------------------------

    def _health(self) -> tuple[float | None, Level | None]:
        return health(self.daemon)

    def _target_well(self) -> tuple[bool, str]:
        return target_well(self.daemon, self.target)

    def _steady(self) -> tuple[bool, float | None, Level | None, str]:
        return steady_state(self.daemon, self.target, self.experiment.steady_state.min_score)

    def _sample(self) -> None:
        if not self._injected:
            return
        facts = self.facts
        score, level = self._health()
        if score is not None:
            facts.min_score = score if facts.min_score is None else min(facts.min_score, score)
        if level is not None and (facts.max_level is None or level.rank > facts.max_level.rank):
            if facts.max_level is not None or level is not Level.FULL:
                self._event("level", "info", f"level {level.value}", {"level": level.value, "score": score})
            facts.max_level = level
        floor = self.experiment.abort_below
        if floor is not None and score is not None and score < floor and not facts.aborted:
            facts.aborted = f"score {score:g} fell below the safety floor {floor:g}"
            self._event("abort", "failed", facts.aborted, {"score": score, "floor": floor, "steady_state_met": False})

    async def _wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that arrives as the
        # event is set, and a swallowed cancellation would keep a stopping daemon waiting for the window
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await self._wake.wait()
        self._wake.clear()

    def request_stop(self, reason: str) -> None:
        """The daemon is stopping: leave the current wait, undo the fault, record `interrupted`."""
        if self.facts.interrupted is None:
            self.facts.interrupted = reason
        self._wake.set()

    @property
    def _stopping(self) -> bool:
        return self.facts.interrupted is not None

    # --- listeners -----------------------------------------------------------------------------------

    def _listen(self) -> None:
        monitor = self._monitor()
        monitor.transition_listeners.append(self._on_transition)
        monitor.result_listeners.append(self._on_result)
        self._listening = True

    def _unlisten(self) -> None:
        if not self._listening:
            return
        monitor = self._monitor()
        with contextlib.suppress(ValueError):
            monitor.transition_listeners.remove(self._on_transition)
        with contextlib.suppress(ValueError):
            monitor.result_listeners.remove(self._on_result)
        self._listening = False

    def _on_result(self, result) -> None:
        if result.component == self.target:  # others move the score: sampled every SAMPLE_EVERY
            self._wake.set()

    def _on_transition(self, name: str, transition) -> None:
        self._wake.set()
        facts = self.facts
        if name != self.target or not self._injected or self._rolled:
            return
        at = transition.at_wall
        since = f" ({at - facts.injected_at:.2f} s after the injection)" if facts.injected_at else ""
        data = {"from": transition.from_state.value, "to": transition.to_state.value, "reason": transition.reason}
        if transition.to_state in OPEN_STATES and facts.recovered_at is not None:
            facts.recovered_at = None
            self._event("reopened", "info", f"breaker re-opened{since}", {**data, "steady_state_met": False}, ts=at)
            self._update(recovered_at=None)
        elif transition.to_state in OPEN_STATES and facts.detected_at is None:
            facts.detected_at = at
            self._event("detected", "info", f"breaker opened{since}", {**data, "steady_state_met": False}, ts=at)
            self._update(detected_at=at)
        elif (
            transition.to_state is BreakerState.CLOSED and facts.detected_at is not None and facts.recovered_at is None
        ):
            facts.recovered_at = at
            self._event("recovered", "info", f"breaker closed{since}", {**data, "steady_state_met": None}, ts=at)
            self._update(recovered_at=at)

    # --- the run -------------------------------------------------------------------------------------

    async def execute(self) -> Judgement:
        """Never raises for a failed step; a stop request or a cancellation undoes the fault first."""
        try:
            await self._run()
        except asyncio.CancelledError:  # the fallback when request_stop() was not enough in time
            self.request_stop("the daemon stopped during the run")
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_UNDO_S):
                    await self._undo()
        except Exception as exc:  # a bug here must still undo the fault and leave a verdict
            log.exception("chaos run failed", run=self.run_id)
            self.facts.interrupted = f"the run itself failed: {type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                await self._undo()
        finally:
            self._unlisten()
            if self._injected and self.facts.fault_kind in IN_DAEMON_FAULTS:
                self._monitor().injectors.pop(self.target, None)  # however the run ended
            dry_run_components(self.daemon).discard(self.target)
        return await self._finish()

    async def _run(self) -> None:
        exp, facts = self.experiment, self.facts
        await self._event(
            "start",
            "info",
            f"{self.trigger} run of {exp.name} on {exp.target}" + (" (dry run)" if facts.dry_run else ""),
            {"experiment": exp.model_dump(mode="json"), "trigger": self.trigger, "dry_run": facts.dry_run},
            ts=facts.started_at,
        )
        if self._refuse is None and exp.target not in self.daemon.config.components:
            self._refuse = f"the target {exp.target!r} is not a configured component"
        if self._refuse is not None:
            facts.refused = self._refuse
            self._event("refused", "failed", self._refuse)
            return
        self._listen()
        if not await self._steady_before():
            return
        if facts.dry_run:
            dry_run_components(self.daemon).add(exp.target)
        await self._inject()
        if facts.inject_error is None and not self._stopping:
            await self._observe()
        if self._stopping:
            await self._undo()
            return
        await self._after()

    async def _steady_before(self) -> bool:
        component = self.daemon.config.components[self.target]
        wait = min(
            max(BEFORE_INTERVALS * component.check.every.total_seconds(), BEFORE_BOUNDS_S[0]), BEFORE_BOUNDS_S[1]
        )
        return await self._probe("steady_state_before", wait, before=True)

    async def _probe(self, step: str, wait: float, before: bool = False) -> bool:
        """Probe the steady state until it holds or `wait` runs out; one journal event with the outcome."""
        loop = asyncio.get_running_loop()
        start, deadline = self._wall(), loop.time() + wait
        while True:
            met, score, level, why = self._steady()
            self._sample()
            if met or loop.time() >= deadline or self.facts.aborted or self._stopping:
                break
            await self._wait(min(SAMPLE_EVERY, deadline - loop.time()))
        minimum = self.experiment.steady_state.min_score
        data = {
            "score": score,
            "min_score": minimum,
            "level": None if level is None else level.value,
            "start": start,
            "end": self._wall(),
            "waited_s": round(self._wall() - start, 3),
        }
        message = f"score {score:g} >= {minimum:g}, {self.target} well" if met else f"steady state does not hold: {why}"
        self._event(step, "met" if met else "not_met", message, data)
        if before:
            self.facts.score_before = score
            if not met:
                self.facts.refused = message
        return met

    async def _inject(self) -> None:
        exp, facts = self.experiment, self.facts
        component = self.daemon.config.components[self.target]
        await self._event("inject", "started", f"injecting {exp.fault.kind} into {exp.target}")  # intent first
        self._injected = True
        self._holding = facts.held
        activity = await chaos_faults.inject(
            exp,
            component,
            run_id=self.run_id,
            monitor=self._monitor(),
            cwd=self.daemon.config.directory,
            wall=self._wall,
        )
        self._event(
            "inject", "succeeded" if activity.ok else "failed", activity.message, activity.data(), ts=activity.end
        )
        if activity.ok:
            facts.injected_at = activity.start
            self._update(injected_at=activity.start)
        else:
            facts.inject_error = activity.message

    async def _observe(self) -> None:
        facts, loop = self.facts, asyncio.get_running_loop()
        deadline = loop.time() + self.experiment.duration.total_seconds()
        while True:
            self._sample()
            if facts.aborted or self._stopping:
                break
            if not facts.held and facts.recovered_at is not None and self._steady()[0]:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._wait(min(remaining, SAMPLE_EVERY))
        end = self._wall()
        facts.window_s = end - (facts.injected_at or end)
        output = {
            "detected_at": facts.detected_at,
            "recovered_at": facts.recovered_at,
            "min_score": facts.min_score,
            "max_level": None if facts.max_level is None else facts.max_level.value,
        }
        self._event(
            "observe",
            "succeeded",
            f"observed {facts.window_s:.2f} s",
            {
                "activity": {"type": "probe", "name": f"observe {self.target}"},
                "start": facts.injected_at or end,
                "end": end,
                "output": output,
            },
        )

    def _settle_bound(self) -> float:
        """How long the steady state may take to come back: `recovered_within`, else `duration`."""
        return (self.experiment.expect.recovered_within or self.experiment.duration).total_seconds()

    def _settle_s(self) -> float:
        facts = self.facts
        if not facts.held and not facts.dry_run and facts.detected_at is not None and facts.recovered_at is None:
            return 0.0  # a one-shot fault detected and not healed in the whole window: no point waiting
        return self._settle_bound()

    async def _after(self) -> None:
        facts = self.facts
        await self._revert()
        if facts.aborted or facts.inject_error:
            await self._rollback()
            return
        rolled = False
        if facts.dry_run and not self._target_well()[0]:
            await self._rollback()  # nobody was allowed to heal it
            rolled = True
        facts.settle_s = self._settle_s()
        facts.steady_after = await self._probe("steady_state_after", facts.settle_s)
        facts.score_after = self._steady()[1]
        if facts.aborted:
            await self._rollback()
            return
        if not rolled and (judge(self.experiment, facts).verdict != "passed" or not self._target_well()[0]):
            await self._rollback()
            await self._probe("steady_state_after_rollback", self._settle_bound())

    async def _revert(self) -> None:
        if not self._holding:
            return
        await self._event("revert", "started", f"reverting {self.experiment.fault.kind}")
        activity = await chaos_faults.revert(
            self.experiment,
            self.daemon.config.components.get(self.target),
            monitor=self._monitor(),
            cwd=self.daemon.config.directory,
            wall=self._wall,
        )
        self._holding = False
        if activity is None:
            return
        self._event(
            "revert", "succeeded" if activity.ok else "failed", activity.message, activity.data(), ts=activity.end
        )
        self.facts.reverted_at = activity.end
        self._update(reverted_at=activity.end)

    async def _rollback(self) -> None:
        self._rolled = True
        if self.experiment.rollback is None:
            self._event("rollback", "skipped", "no rollback configured")
            return
        await self._event("rollback", "started", "running the rollback")
        activity = await chaos_faults.rollback(
            self.experiment,
            self.daemon.config.components.get(self.target),
            cwd=self.daemon.config.directory,
            wall=self._wall,
        )
        if activity is None:  # checked above; the configuration cannot change under a running step
            return
        self._event(
            "rollback", "succeeded" if activity.ok else "failed", activity.message, activity.data(), ts=activity.end
        )
        self.facts.rolled_back = activity.ok
        if not activity.ok:
            self.facts.rollback_error = activity.message

    async def _undo(self) -> None:
        """Stopping mid-run: end the fault and roll back, as the next start would."""
        if not self._injected:
            return
        await self._revert()
        if not self._rolled:
            await self._rollback()

    async def _finish(self) -> Judgement:
        facts = self.facts
        judgement = self.judgement = judge(self.experiment, facts)
        advice = recommendations(self.experiment, facts, TargetFacts.from_config(self.daemon.config, self.target))
        now = self._wall()
        self._event("verdict", judgement.verdict, judgement.reason, {"recommendations": advice}, ts=now)
        self._update(
            finished_at=now,
            verdict=judgement.verdict,
            reason=judgement.reason,
            injected_at=facts.injected_at,
            detected_at=facts.detected_at,
            recovered_at=facts.recovered_at,
            reverted_at=facts.reverted_at,
            min_score=facts.min_score,
            max_level=None if facts.max_level is None else facts.max_level.value,
            recommendations=advice,
        )
        results = await asyncio.gather(*self._writes, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("chaos journal write failed", run=self.run_id, error=str(result))
        log.info(
            "chaos verdict",
            run=self.run_id,
            experiment=self.experiment.name,
            verdict=judgement.verdict,
            reason=judgement.reason,
        )
        return judgement
