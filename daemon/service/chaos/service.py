"""Chaos experiments in the daemon: which may run, when (on command or by cron), and what a restart undoes.

Experiments run inside the daemon because observing them needs its checks, breakers and score; the
CLI only asks (operator command `chaos_run`) and reads the journal. Safety rules enforced here:

* at most `daemon.max_concurrent_experiments` runs at once (default 1), and never two on one target
  (two faults on one breaker would make both measurements meaningless); a run over the limit is
  recorded as `refused` with the reason, so a skipped scheduled run is visible in the history;
* a run left `running` by a daemon that died (kill -9, power loss) is marked `interrupted` at the next
  start and undone: its held fault reverted (a `run` fault's `revert` argv; an in-daemon fault died
  with the old process) and its rollback run — before any new run may start;
* a daemon stopping mid-run reverts and rolls back before it goes (service/chaos/run.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any

import structlog

from daemon.config.models import Experiment
from daemon.engine.chaos import RunFacts, judge
from daemon.errors import NotFoundError
from daemon.service.chaos import faults as chaos_faults
from daemon.service.chaos.health import dry_run_components
from daemon.service.chaos.run import STOP_UNDO_S, ExperimentRun
from daemon.store import chaos_sql

if TYPE_CHECKING:
    from daemon.service.wiring import ChaosHost

log = structlog.get_logger(__name__)

COMMAND = "chaos_run"
JOB_PREFIX = "chaos:"
#: A scheduled run that could not start on time (the daemon was busy or down) still starts this late.
SCHEDULE_GRACE_S = 300
_STARTED = re.compile(r"\bstarted run (\d+)\b")


def started_sentence(run_id: int) -> str:
    """The `chaos_run` command's outcome; `run_id_from_outcome` reads it back (the CLI waits on it)."""
    return f"started run {run_id}"


def run_id_from_outcome(outcome: str | None) -> int | None:
    match = _STARTED.search(outcome or "")
    return int(match.group(1)) if match else None


def experiment_row(experiment: Experiment, source: str | None) -> dict[str, Any]:
    return {
        "name": experiment.name,
        "description": experiment.description,
        "target": experiment.target,
        "spec": experiment.model_dump_json(),
        "source_file": source,
    }


class ChaosService:
    def __init__(self, daemon: ChaosHost) -> None:
        self.daemon = daemon
        self.ids: dict[str, int] = {}
        self.active: dict[int, ExperimentRun] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        self._cron: dict[str, str] = {}
        self._recovery: asyncio.Task | None = None
        #: check-then-register is one step: a command and a cron job starting together must not both
        #: pass the concurrency check while the first one's row is being written
        self._starting = asyncio.Lock()
        dry_run_components(daemon)

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._sync()
        if self.daemon.commands is None:
            raise RuntimeError("chaos starts after the command processor")
        self.daemon.commands.handlers[COMMAND] = self._command
        stale = await asyncio.to_thread(self.daemon.store.read, chaos_sql.running_runs)
        if stale:
            self._recovery = asyncio.create_task(self._recover(stale), name="chaos-interrupted")
        self._schedule()

    async def apply_config(self) -> None:
        await self._sync()
        self._schedule()

    async def stop(self) -> None:
        """Each running experiment reverts and rolls back before the daemon goes.

        Asked first (the run leaves its wait, undoes, records `interrupted`); cancelled only if that
        has not finished within STOP_UNDO_S — the run then undoes once more under its own bound.
        """
        for run in list(self.active.values()):
            run.request_stop("the daemon stopped during the run")
        tasks = list(self.tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_UNDO_S)
            for task in late:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._recovery is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._recovery, 30)

    async def _sync(self) -> None:
        config = self.daemon.config
        rows = [experiment_row(e, config.sources.get(n)) for n, e in config.experiments.items()]
        now = self.daemon.clock.wall()
        self.ids = await self.daemon.store.submit(lambda conn: chaos_sql.sync_experiments(conn, rows, now))

    # --- starting runs -------------------------------------------------------------------------------

    async def start_run(self, name: str, *, trigger: str, dry_run: bool = False) -> int:
        """Record a run and start it (or record it refused). Raises NotFoundError for an unknown name."""
        experiment = self.daemon.config.experiments.get(name)
        if experiment is None or name not in self.ids:
            known = ", ".join(sorted(self.daemon.config.experiments)) or "none"
            raise NotFoundError(f"no experiment named {name!r} (configured: {known})")
        if self._recovery is not None and not self._recovery.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._recovery)  # undo what a dead daemon left before injecting again
        async with self._starting:
            refuse = self._refusal(experiment)
            dry = dry_run or experiment.actions == "dry-run"
            now = self.daemon.clock.wall()
            eid = self.ids[name]
            run_id = await self.daemon.store.submit(
                lambda conn: chaos_sql.insert_run(conn, eid, started_at=now, trigger=trigger, dry_run=dry)
            )
            run = ExperimentRun(
                self.daemon, experiment, run_id, started_at=now, trigger=trigger, dry_run=dry, refuse=refuse
            )
            if refuse is None:
                self.active[run_id] = run  # holds a slot from now on, before the task first runs
            self.tasks[run_id] = asyncio.create_task(self._execute(run), name=f"chaos-run-{run_id}")
        return run_id

    def _refusal(self, experiment: Experiment) -> str | None:
        for run_id, run in self.active.items():
            if run.target == experiment.target:
                return f"run {run_id} ({run.experiment.name}) is already experimenting on {experiment.target}"
        limit = self.daemon.config.settings.daemon.max_concurrent_experiments
        if len(self.active) >= limit:
            names = ", ".join(f"{r.experiment.name} (run {i})" for i, r in self.active.items())
            return (
                f"{len(self.active)} experiment(s) running, the limit is {limit} "
                f"(daemon.max_concurrent_experiments): {names}"
            )
        return None

    async def _execute(self, run: ExperimentRun) -> None:
        try:
            await run.execute()
        finally:
            self.active.pop(run.run_id, None)
            self.tasks.pop(run.run_id, None)

    async def _command(self, cmd: dict[str, Any]) -> tuple[str, str]:
        try:
            run_id = await self.start_run(cmd["target"], trigger="manual", dry_run=bool(cmd["args"].get("dry_run")))
        except NotFoundError as exc:
            return "rejected", str(exc)
        return "applied", started_sentence(run_id)

    # --- schedules -----------------------------------------------------------------------------------

    def _schedule(self) -> None:
        """One cron job per experiment with a `schedule`; unchanged ones keep their job."""
        from apscheduler.triggers.cron import CronTrigger

        scheduler = self.daemon.scheduler.jobs
        wanted = {n: e.schedule for n, e in self.daemon.config.experiments.items() if e.schedule}
        for name in list(self._cron):
            if wanted.get(name) != self._cron[name]:
                with contextlib.suppress(Exception):
                    scheduler.remove_job(JOB_PREFIX + name)
                del self._cron[name]
        for name, cron in wanted.items():
            if name in self._cron:
                continue
            scheduler.add_job(
                self._scheduled,
                trigger=CronTrigger.from_crontab(cron, timezone="UTC"),
                args=(name,),
                id=JOB_PREFIX + name,
                name=JOB_PREFIX + name,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=SCHEDULE_GRACE_S,
            )
            self._cron[name] = cron

    def next_run_time(self, name: str):
        job = self.daemon.scheduler.jobs.get_job(JOB_PREFIX + name)
        return None if job is None else job.next_run_time

    async def _scheduled(self, name: str) -> None:
        try:
            run_id = await self.start_run(name, trigger="schedule")
            log.info("scheduled chaos run started", experiment=name, run=run_id)
        except Exception:
            log.exception("scheduled chaos run could not start", experiment=name)

    # --- runs a dead daemon left behind --------------------------------------------------------------

    async def _recover(self, runs: list[dict[str, Any]]) -> None:
        for run in runs:
            try:
                await self._recover_one(run)
            except Exception:
                log.exception("interrupted chaos run not undone", run=run["id"])

    async def _recover_one(self, run: dict[str, Any]) -> None:
        daemon = self.daemon
        run_id = run["id"]
        events = await asyncio.to_thread(daemon.store.read, chaos_sql.run_events, run_id)
        experiment = _experiment_of(events, daemon.config, run.get("experiment_id"), self.ids)
        wall = daemon.clock.wall
        writes: list[asyncio.Future] = []

        def event(step: str, status: str, message: str, data: dict | None = None, ts: float | None = None) -> None:
            at = wall() if ts is None else ts
            writes.append(
                daemon.store.submit(
                    lambda conn: chaos_sql.add_event(
                        conn, run_id, ts=at, step=step, status=status, message=message, data=data
                    )
                )
            )
            log.info("chaos step", run=run_id, step=step, status=status, message=message)

        injected = any(e["step"] == "inject" for e in events)
        done = {(e["step"], e["status"]) for e in events}
        interrupted = "the daemon restarted during the run" + (
            "" if injected else " (before the fault was injected: nothing to undo)"
        )
        facts = RunFacts(
            started_at=run["started_at"],
            fault_kind=experiment.fault.kind if experiment else "?",
            interrupted=interrupted,
        )
        event("interrupted", "info", interrupted)
        reverted_at = run.get("reverted_at")
        if experiment is not None and injected:
            component = daemon.config.components.get(experiment.target)
            cwd = daemon.config.directory
            if ("revert", "succeeded") not in done:
                act = await chaos_faults.revert(
                    experiment, component, monitor=None, cwd=cwd, wall=wall, in_process=False
                )
                if act is not None:
                    event("revert", "succeeded" if act.ok else "failed", act.message, act.data(), ts=act.end)
                    reverted_at = act.end
            if ("rollback", "succeeded") not in done:
                act = await chaos_faults.rollback(experiment, component, cwd=cwd, wall=wall)
                if act is None:
                    event("rollback", "skipped", "no rollback configured")
                else:
                    event("rollback", "succeeded" if act.ok else "failed", act.message, act.data(), ts=act.end)
                    facts.rolled_back, facts.rollback_error = act.ok, (None if act.ok else act.message)
        elif injected:
            event("rollback", "skipped", "the experiment's definition was not found; nothing could be undone")
        judgement = judge(experiment, facts) if experiment is not None else None
        reason = judgement.reason if judgement else interrupted
        now = wall()
        event("verdict", "interrupted", reason, {"recommendations": []}, ts=now)
        writes.append(
            daemon.store.submit(
                lambda conn: chaos_sql.update_run(
                    conn, run_id, verdict="interrupted", reason=reason, finished_at=now, reverted_at=reverted_at
                )
            )
        )
        await asyncio.gather(*writes, return_exceptions=True)
        log.warning("chaos run interrupted by a restart", run=run_id, reason=reason)


def _experiment_of(events, config, experiment_id, ids) -> Experiment | None:
    """The experiment as it was when the run started (its start event), else as configured now."""
    for e in events:
        if e["step"] == "start" and isinstance(e["data"].get("experiment"), dict):
            with contextlib.suppress(Exception):
                return Experiment.model_validate(e["data"]["experiment"])
    for name, eid in ids.items():
        if eid == experiment_id:
            return config.experiments.get(name)
    return None
