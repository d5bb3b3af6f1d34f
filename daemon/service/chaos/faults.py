"""The edge of a chaos run that touches the world: inject a fault, revert it, run the rollback.

Each function returns an `Activity` (never raises for an ordinary failure) so the run can record it as
a journal event in Chaos Toolkit's shape (type, name, provider) and carry on with the rollback: a fault
that half-applied must still be undone. Processes are signalled and argv run through
engine/actions.py, the same code the healer uses, so a fault and its cure obey the same rules (argv
only, process group killed on timeout, config directory as cwd).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daemon.config.models import Action, Component, Experiment
from daemon.engine.actions import ActionContext, ActionOutcome, run_action
from daemon.engine.chaos import IN_DAEMON_FAULTS
from daemon.engine.chaos_faults import make_injector


@dataclass
class Activity:
    ok: bool
    message: str
    start: float
    end: float
    activity: dict[str, Any]
    output: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return {"activity": self.activity, "start": self.start, "end": self.end, "output": self.output, **self.extra}


def _provider(action: Action) -> dict[str, Any]:
    if action.run is not None:
        return {
            "type": "process",
            "path": action.run[0],
            "arguments": list(action.run[1:]),
            "timeout": action.timeout.total_seconds(),
        }
    if action.signal is not None:
        return {"type": "python", "module": "healerd", "func": "signal", "arguments": {"signal": action.signal}}
    assert action.http is not None
    return {
        "type": "http",
        "url": action.http.url,
        "method": action.http.method,
        "timeout": action.timeout.total_seconds(),
    }


def fault_action(experiment: Experiment) -> Action | None:
    """The action that injects a process-level fault (None for in-daemon faults)."""
    fault = experiment.fault
    if fault.kind == "kill":
        return Action(signal=fault.signal)
    if fault.kind in ("stop", "run"):
        return Action(run=fault.run, timeout=fault.timeout)
    return None


def revert_action(experiment: Experiment) -> Action | None:
    fault = experiment.fault
    if fault.kind == "run":
        return Action(run=fault.revert, timeout=fault.timeout)
    return None


async def _perform(
    name: str, action: Action, component: Component | None, target: str, cwd: str | None, wall
) -> Activity:
    context = (
        ActionContext.for_component(component, cwd=cwd)
        if component is not None
        else ActionContext(component=target, cwd=cwd)
    )
    start = wall()
    outcome: ActionOutcome = await run_action(action, context=context)
    end = wall()
    extra: dict[str, Any] = {}
    if outcome.argv:
        extra["argv"] = list(outcome.argv)
    if outcome.pids:
        extra["pids"] = list(outcome.pids)
    if outcome.exit_code is not None:
        extra["exit_code"] = outcome.exit_code
    return Activity(
        outcome.ok,
        outcome.message,
        start,
        end,
        {"type": "action", "name": name, "provider": _provider(action)},
        output=outcome.output or outcome.message,
        extra=extra,
    )


async def inject(
    experiment: Experiment, component: Component, *, run_id: int, monitor, cwd: str | None, wall
) -> Activity:
    """Apply the fault. In-daemon faults install the monitor's injector for the target."""
    fault = experiment.fault
    name = f"inject {fault.kind} into {experiment.target}"
    if fault.kind in IN_DAEMON_FAULTS:
        now = wall()
        monitor.injectors[experiment.target] = make_injector(fault, component, run_id=run_id)
        spec = fault.model_dump(mode="json")
        return Activity(
            True,
            f"{fault.kind} injected into {experiment.target}'s check results",
            now,
            now,
            {
                "type": "action",
                "name": name,
                "provider": {"type": "python", "module": "healerd", "func": "inject", "arguments": spec},
            },
            output=spec,
        )
    try:
        action = fault_action(experiment)
    except ValueError as exc:  # the loader checks signals; this guards a model built another way
        now = wall()
        errors = getattr(exc, "errors", None)
        detail = "; ".join(e["msg"] for e in errors()) if callable(errors) else str(exc)
        return Activity(False, f"invalid fault: {detail}", now, now, {"type": "action", "name": name})
    assert action is not None
    return await _perform(name, action, component, experiment.target, cwd, wall)


async def revert(
    experiment: Experiment, component: Component | None, *, monitor, cwd: str | None, wall, in_process: bool = True
) -> Activity | None:
    """End a held fault: drop the injector, or run the `run` fault's `revert` argv. None: nothing held.

    `in_process=False` is the restart case: an in-daemon fault ended with the daemon that held it.
    """
    fault = experiment.fault
    name = f"revert {fault.kind} on {experiment.target}"
    if fault.kind in IN_DAEMON_FAULTS:
        now = wall()
        removed = monitor is not None and monitor.injectors.pop(experiment.target, None) is not None
        message = (
            "injector removed"
            if removed
            else "the in-daemon fault ended with the daemon that applied it"
            if not in_process
            else "no injector was installed"
        )
        return Activity(
            True,
            message,
            now,
            now,
            {"type": "action", "name": name, "provider": {"type": "python", "module": "healerd", "func": "revert"}},
            output=message,
        )
    action = revert_action(experiment)
    if action is None:
        return None
    return await _perform(name, action, component, experiment.target, cwd, wall)


async def rollback(experiment: Experiment, component: Component | None, *, cwd: str | None, wall) -> Activity | None:
    """Run the experiment's rollback action; None when it has none."""
    if experiment.rollback is None:
        return None
    return await _perform(f"rollback {experiment.name}", experiment.rollback, component, experiment.target, cwd, wall)
