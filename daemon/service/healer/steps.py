"""Perform one ladder step — retry, restore, fallback, failback — and verify it, returning what happened.

The healer has already committed the step's `started` event (intent before act) when this runs; this
module only acts and observes. A step succeeds when the component's *own check* passes after the action
(an action that exits 0 has not healed anything yet); for a fallback, the check of the candidate that
now takes the traffic. Every wait is bounded: actions by their `timeout` (the process group is killed),
verification by the step's `verify_within`, probes by the candidates' check timeouts. Nothing here
raises except cancellation: a failure is a `StepResult` with a message for `recovery_events.output`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from daemon.clock import Clock
from daemon.config.models import Action, FallbackStep, HealerdConfig, RestoreStep, RetryStep
from daemon.engine.actions import OUTPUT_TAIL, ActionContext, ActionOutcome, run_action
from daemon.engine.checkpoints import restore_checkpoint
from daemon.engine.checks import run_check
from daemon.engine.decision import Failback, RunStep
from daemon.engine.ladder import Outcome
from daemon.types import CheckResult

log = structlog.get_logger(__name__)

#: on top of an action's own timeout (which kills its process group): room for that kill to finish.
ACTION_GRACE_S = 5.0


@dataclass(frozen=True)
class Verification:
    #: wall time of the check that passed; None when none passed within the deadline.
    verified_at: float | None
    #: the newest result seen after the action (why it was not verified), if any.
    last: CheckResult | None = None


Verify = Callable[[str, float, float], Awaitable[Verification]]


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    message: str
    exit_code: int | None = None
    output: str = ""
    verified_at: float | None = None
    #: the fallback candidate that was activated (the probe's winner for `fastest`).
    candidate: str | None = None

    @property
    def text(self) -> str:
        """`recovery_events.output`: the verdict first, then the action's own output, bounded."""
        text = self.message + (f"\n{self.output}" if self.output else "")
        return text if len(text) <= OUTPUT_TAIL else text[: OUTPUT_TAIL - 1] + "…"


class StepRunner:
    def __init__(self, config: Callable[[], HealerdConfig], clock: Clock, verify: Verify, db) -> None:
        self._config = config
        self.clock = clock
        self.verify = verify
        #: runs fn(conn) in a write transaction (Writer.submit): the checkpoint module's `db`.
        self.db = db

    # --- the strategies --------------------------------------------------------------------------------

    async def run(self, name: str, step, decision: RunStep) -> StepResult:
        if isinstance(step, RetryStep):
            return await self._retry(name, step, decision)
        if isinstance(step, RestoreStep):
            return await self._restore(name, step, decision)
        if isinstance(step, FallbackStep):
            return await self._fallback(name, step, decision)
        return StepResult(
            Outcome.FAILED, f"step {decision.index + 1} is no longer a {decision.strategy} step (reloaded)"
        )

    async def _retry(self, name: str, step: RetryStep, decision: RunStep) -> StepResult:
        done = await self._act(step.action, name, decision.incident_id)
        if not done.ok:
            return _failed_action("retry", done)
        return await self._verified(name, name, step.verify_within.total_seconds(), done, "retry")

    async def _restore(self, name: str, step: RestoreStep, decision: RunStep) -> StepResult:
        # No timeout around the file work: it runs in threads that a timeout would not stop, and a
        # restore reported failed while it is still writing files would be worse than a slow one.
        checkpoint_id = int(decision.checkpoint_id) if decision.checkpoint_id is not None else None
        restored = await restore_checkpoint(step.checkpoint, db=self.db, checkpoint_id=checkpoint_id)
        if not restored.ok:
            return StepResult(Outcome.FAILED, restored.message)
        done: ActionOutcome | None = None
        if step.then is not None:
            done = await self._act(step.then, name, decision.incident_id)
            if not done.ok:
                return _failed_action(f"{restored.message}; then", done)
        return await self._verified(name, name, step.verify_within.total_seconds(), done, restored.message)

    async def _fallback(self, name: str, step: FallbackStep, decision: RunStep) -> StepResult:
        candidate = decision.candidate
        note = ""
        if candidate is None:  # `fastest`: the first candidate whose own check passes now wins
            candidate, note = await self._probe(decision.candidates)
            if candidate is None:
                return StepResult(Outcome.FAILED, f"fallback: {note}")
        done = await self._act(step.activate, name, decision.incident_id, candidate=candidate)
        if not done.ok:
            return _failed_action(f"activate {candidate}{note}", done, candidate)
        result = await self._verified(
            name, candidate, step.verify_within.total_seconds(), done, f"activate {candidate}{note}"
        )
        return StepResult(
            result.outcome, result.message, result.exit_code, result.output, result.verified_at, candidate
        )

    async def failback(self, name: str, step: FallbackStep | None, decision: Failback) -> StepResult:
        """Run `deactivate` (the switch back to the primary), then verify the primary itself."""
        verify_within = (
            step.verify_within if step is not None else FallbackStep.model_fields["verify_within"].default
        ).total_seconds()
        done: ActionOutcome | None = None
        what = f"failback from {decision.candidate}"
        if step is not None and step.deactivate is not None:
            done = await self._act(step.deactivate, name, decision.incident_id, candidate=decision.candidate)
            if not done.ok:
                return _failed_action(f"{what}: deactivate", done, decision.candidate)
        else:
            what += " (no deactivate action configured)"
        result = await self._verified(name, name, verify_within, done, what)
        return StepResult(
            result.outcome, result.message, result.exit_code, result.output, result.verified_at, decision.candidate
        )

    # --- helpers ---------------------------------------------------------------------------------------

    async def _act(self, action: Action, name: str, incident, candidate: str | None = None) -> ActionOutcome:
        config = self._config()
        component = config.components.get(name)
        if component is None:
            return ActionOutcome(False, "run", f"component {name} is no longer configured")
        ctx = ActionContext.for_component(component, cwd=config.directory, candidate=candidate, incident=incident)
        try:
            async with asyncio.timeout(action.timeout.total_seconds() + ACTION_GRACE_S):
                return await run_action(action, context=ctx)
        except TimeoutError:
            return ActionOutcome(False, "run", f"no outcome within {action.timeout.total_seconds():g}s", timed_out=True)

    async def _verified(
        self, name: str, target: str, within: float, done: ActionOutcome | None, what: str
    ) -> StepResult:
        since = self.clock.wall()
        check = await self.verify(target, since, within)
        code = done.exit_code if done is not None else None
        output = done.output if done is not None else ""
        acted = f"{what}: {done.message}" if done is not None else what
        whose = "" if target == name else f" of {target}"
        if check.verified_at is not None:
            took = check.verified_at - since
            return StepResult(
                Outcome.SUCCEEDED,
                f"{acted}; verified: the check{whose} passed {took:.2f}s after the action",
                code,
                output,
                check.verified_at,
            )
        seen = (
            f"latest check{whose} {check.last.status.value}: {check.last.message}"
            if check.last is not None
            else f"no check{whose} completed"
        )
        return StepResult(Outcome.FAILED, f"{acted}; not verified within {within:g}s ({seen})", code, output)

    async def _probe(self, candidates: tuple[str, ...]) -> tuple[str | None, str]:
        """Run every candidate's own check at once; the first that passes wins, the others are cancelled."""
        config = self._config()
        pool = [config.components[c] for c in candidates if c in config.components]
        if not pool:
            return None, "no candidate to probe"
        import httpx  # here: only a fallback with select = "fastest" probes, and most daemons have none

        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            tasks = [
                asyncio.create_task(run_check(c, clock=self.clock, client=client, cwd=config.directory)) for c in pool
            ]
            failed: list[str] = []
            try:
                for next_done in asyncio.as_completed(tasks):
                    result = await next_done
                    if not result.status.is_failure:
                        return result.component, f" (fastest: answered in {result.latency_ms:.0f} ms)"
                    failed.append(f"{result.component} {result.status.value}")
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        return None, "no candidate passed its probe (" + ", ".join(failed) + ")"


def _failed_action(what: str, done: ActionOutcome, candidate: str | None = None) -> StepResult:
    return StepResult(Outcome.FAILED, f"{what}: {done.message}", done.exit_code, done.output, None, candidate)
