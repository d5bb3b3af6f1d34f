"""What runs between READY and STOPPING: the writer, the monitor, the scheduler and the periodic jobs.

Kept apart from the lifecycle (service/daemon.py) so tests can start a runtime in-process, and so each
concern that joins later (healer, degradation, chaos) plugs in here through listeners on the monitor
instead of growing one loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from daemon.config.loader import LoadedConfig, load_config
from daemon.config.models import Component, HealerdConfig
from daemon.scheduling.scheduler import CheckScheduler
from daemon.service.commands import CommandProcessor
from daemon.service.degradation.service import DegradationService
from daemon.service.monitor import Monitor
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import Store

if TYPE_CHECKING:  # built in start(), imported there: each pulls in its own dependencies
    from daemon.service.chaos.service import ChaosService
    from daemon.service.checkpointing import CheckpointTaker
    from daemon.service.fleet import FleetShipper
    from daemon.service.healer.loop import Healer
    from daemon.service.maintenance import Maintenance
    from daemon.service.shadow import ShadowService
    from daemon.service.web.service import WebService
from daemon.store import state as store_state
from daemon.store.readers import ThreadReaders
from daemon.store.writer import Writer
from daemon.types import BreakerState

log = structlog.get_logger(__name__)
T = TypeVar("T")


def component_row(component: Component, source: str | None) -> dict[str, Any]:
    return {
        "name": component.name,
        "description": component.description,
        "check_kind": component.check.kind,
        "weight": component.weight,
        "every_s": component.check.every.total_seconds(),
        "depends_on": json.dumps(component.depends_on),
        "spec": component.model_dump_json(),
        "source_file": source,
    }


class Runtime:
    def __init__(self, options, loaded: LoadedConfig, notifier) -> None:
        self.options = options
        self.loaded = loaded
        self.notifier = notifier
        self.clock = options.clock
        settings = self.config.settings.daemon
        self.writer = Writer(options.db_path, max_queue=settings.max_queue)
        self.readers = ThreadReaders(options.db_path)
        #: the database as the services receive it (service/wiring.py), instead of this runtime
        self.store = Store(submit=self.writer.submit, read=self.read, db_path=str(options.db_path))
        self.monitor: Monitor | None = None
        # missed runs are counted and logged by the scheduler and shown in status_line()
        self.scheduler = CheckScheduler(self._run_check, fast_every=settings.fast_every)
        self.commands: CommandProcessor | None = None
        self.degradation: DegradationService | None = None
        self.chaos: ChaosService | None = None
        #: targets of dry-run chaos experiments: the healer records what it would do, runs nothing
        self.dry_run_components: set[str] = set()
        self.healer: Healer | None = None
        self.maintenance: Maintenance | None = None  # issue 10
        self.checkpoints: CheckpointTaker | None = None
        self.web: WebService | None = None  # [http] and the metrics textfile
        self.fleet: FleetShipper | None = None  # when [fleet] is configured
        self.shadow: ShadowService | None = None  # issue 15, with `healerd run --shadow DIR`
        self._tasks: list[asyncio.Task] = []
        self.reloads = 0
        self._status_pending = False

    @property
    def config(self) -> HealerdConfig:
        return self.loaded.config

    # --- start / stop --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.writer.start()
        from daemon.service.healer.intents import replay

        await replay(self.store)  # a kill -9 during a database outage left intents in <db>.intents
        ids = await self._sync_components()
        stored = await asyncio.to_thread(self.read, store_state.load_breakers)
        monitor = self.monitor = Monitor(self.config, self.writer, self.clock, ids)
        monitor.restore(stored)
        monitor.transition_listeners.append(self._on_transition)
        monitor.on_process_event = self.scheduler.run_soon
        monitor.start()
        commands = self.commands = CommandProcessor(clock=self.clock, store=self.store, breakers=monitor)
        self.degradation = DegradationService(
            config=lambda: self.config,
            clock=self.clock,
            store=self.store,
            monitor=monitor,
            commands=commands.handlers,
            env=self.options.env,
            is_flapping=self._is_flapping,
        )
        await self.degradation.start()  # restored (level, override) before the first check runs
        from daemon.service.checkpointing import CheckpointTaker
        from daemon.service.healer.loop import Healer, HealerLinks
        from daemon.service.maintenance import Maintenance

        maintenance = self.maintenance = Maintenance(
            config=lambda: self.config,
            clock=self.clock,
            store=self.store,
            component_ids=lambda: monitor.component_ids,
            commands=commands.handlers,
            wake_healer=self._wake_healer,
        )
        await maintenance.start()  # windows and silences known before the first decision
        monitor.in_maintenance = self._in_maintenance
        healer = self.healer = Healer(
            config=lambda: self.config,
            clock=self.clock,
            store=self.store,
            monitor=monitor,
            cadence=self.scheduler,
            commands=commands.handlers,
            links=HealerLinks(
                covering=maintenance.covering,
                fleet_hold=self._fleet_hold,
                dry_run=self.dry_run_components,
                incident_base=self._incident_base,
            ),
        )
        degradation = self.degradation
        healer.book.flapping_listeners.append(lambda name: degradation.poke())
        await healer.start()  # interrupted steps finished, ladders restored, before any decision
        degradation.poke()  # a flapping incident restored with the ladders counts from now
        shadow = getattr(self.options, "extra", {}).get("shadow")
        if shadow is not None or any(c.shadow_config for c in self.config.components.values()):
            # issue 15: a second policy set decides alongside; nothing it decides runs
            from daemon.service.shadow import ShadowService

            self.shadow = ShadowService(
                config=lambda: self.config, clock=self.clock, store=self.store, monitor=monitor, directory=shadow
            )
            await self.shadow.start()
        self.checkpoints = CheckpointTaker(
            config=lambda: self.config,
            clock=self.clock,
            store=self.store,
            monitor=monitor,
            ladder=healer.book.get,
            taken=healer.facts.invalidate_checkpoints,
        )
        await self.checkpoints.start()
        await self._start_fleet()
        self._tasks.append(asyncio.create_task(commands.loop(), name="operator-commands"))
        self._tasks.append(asyncio.create_task(self._retention_loop(), name="retention"))
        from daemon.service.chaos.service import ChaosService

        chaos = self.chaos = ChaosService(self)
        await chaos.start()  # marks and undoes runs a dead daemon left behind
        from daemon.service.web.service import WebService

        web = self.web = WebService(self)
        await web.start()
        await self._record_problems([])
        # Checks start last: under a heavy load of checks the rest of start-up (and READY) would
        # otherwise compete with them for the loop.
        self.scheduler.start()
        self.scheduler.sync(self.config.components)
        for name, breaker in monitor.breakers.items():
            if breaker.state is BreakerState.HALF_OPEN:
                self.scheduler.set_fast(name, True)

    def run_statistics(self) -> dict[str, Any]:
        """Counters since start, logged at shutdown (and read by bench/): what ran, what was missed."""
        from dataclasses import asdict

        late = self.scheduler.lateness
        p50, p99 = late.percentile(50), late.percentile(99)
        return {
            "checks_run": self.monitor.checks_run if self.monitor else 0,
            "runs_submitted": late.submitted,
            "missed_runs": sum(self.scheduler.missed.values()),
            "on_time_runs": late.on_time,
            "interval_stretch": self.scheduler.load.stretch,
            "scheduler_batches": self.scheduler.batches,
            "unschedulable": dict(self.scheduler.unschedulable),
            "lateness_p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "lateness_p99_ms": None if p99 is None else round(p99 * 1000, 2),
            "writer": asdict(self.writer.stats()),
        }

    async def stop(self, grace: float) -> None:
        self.scheduler.pause()
        if self.web is not None:
            await self.web.stop()
        if self.fleet is not None:
            await self.fleet.stop()
        if self.chaos is not None:
            await self.chaos.stop()  # running experiments revert and roll back while the writer still works
        if self.checkpoints is not None:
            await self.checkpoints.stop()
        if self.shadow is not None:
            await self.shadow.stop()
        if self.healer is not None:
            await self.healer.stop()  # running steps are recorded as interrupted while the writer still works
        if self.maintenance is not None:
            await self.maintenance.stop()
        await cancel_and_wait(self._tasks, what="runtime loops")
        if self.degradation is not None:
            await self.degradation.stop()
        if self.monitor is not None:
            await self.monitor.stop(grace)
        self.scheduler.shutdown()
        self.readers.close()  # before the writer's close, which checkpoints and removes the WAL
        from daemon.store.retention import optimize_before_close

        await optimize_before_close(self.writer)  # SQLite: PRAGMA optimize just before closing
        await self.writer.stop(timeout=max(grace, 5.0))
        log.info("run statistics", **self.run_statistics())

    # --- reload --------------------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Apply what changed. A bad file keeps its last good version; a bad whole keeps everything."""
        loaded, problems = load_config(self.options.config_dir, previous=self.loaded)
        await self._record_problems(problems)
        for problem in problems:
            log.error("config problem", problem=str(problem))
        if loaded is None:
            log.error("reload rejected; the previous configuration stays in force", problems=len(problems))
            return False
        previous = self.loaded
        try:
            report = await self._apply(loaded)
        except Exception:
            # All or nothing: a failure half-way (the database, the scheduler) must not leave the monitor
            # on the new config and the scheduler on the old one. Everything goes back to `previous`.
            log.exception("reload failed while being applied; rolling back to the previous configuration")
            try:
                await self._apply(previous)
            except Exception:
                log.exception("rolling back the reload failed too")
            return False
        self.reloads += 1
        log.info(
            "config reloaded",
            added=report.added,
            changed=report.changed,
            removed=report.removed,
            unchanged=len(report.unchanged),
            problems=len(problems),
        )
        return True

    async def _apply(self, loaded: LoadedConfig):
        rows = self._component_rows(loaded.config)  # before anything changes: a bad value fails here
        self.loaded = loaded
        ids = await self.writer.submit(lambda conn: store_state.sync_components(conn, rows, self.clock.wall()))
        self._started_monitor().apply_config(self.config, ids)
        report = self.scheduler.sync(self.config.components)
        if self.checkpoints is not None:
            self.checkpoints.poke()
        if self.chaos is not None:
            await self.chaos.apply_config()
        if self.web is not None:
            await self.web.apply_config(self.config)
        if (self.fleet.settings if self.fleet else None) != self.config.settings.fleet:
            if self.fleet is not None:
                await self.fleet.stop()
                self.fleet = None
            await self._start_fleet()
        return report

    @staticmethod
    def _component_rows(config: HealerdConfig) -> list[dict[str, Any]]:
        return [component_row(c, config.sources.get(n)) for n, c in config.components.items()]

    async def _sync_components(self) -> dict[str, int]:
        rows = [component_row(c, self.config.sources.get(n)) for n, c in self.config.components.items()]
        now = self.clock.wall()
        return await self.writer.submit(lambda conn: store_state.sync_components(conn, rows, now))

    async def _record_problems(self, problems) -> None:
        now = self.clock.wall()
        problems = list(problems)
        try:
            await asyncio.wait_for(
                self.writer.submit(lambda conn: store_state.record_config_problems(conn, problems, now)), 10
            )
        except TimeoutError:
            log.warning("config problems not recorded yet (database busy)")
        except Exception:  # recording is bookkeeping: it must never fail a reload (issue 16)
            log.exception("config problems could not be recorded")

    # --- glue ----------------------------------------------------------------------------------------

    async def _run_check(self, name: str) -> None:
        await self._started_monitor().run(name)

    def _started_monitor(self) -> Monitor:
        if self.monitor is None:
            raise RuntimeError("the runtime has not started")
        return self.monitor

    def _on_transition(self, name: str, transition) -> None:
        verifying = self.healer is not None and self.healer.wants_fast(name)
        self.scheduler.set_fast(name, transition.to_state is BreakerState.HALF_OPEN or verifying)
        if transition.to_state is BreakerState.CLOSED:
            self._wake_dependents(name)
        self.status_soon()

    def _is_flapping(self, name: str) -> bool:
        incident = self.healer.book.get(name).incident if self.healer is not None else None
        return incident is not None and incident.flapping

    def _wake_healer(self) -> None:
        if self.healer is not None:
            self.healer.wake()

    def _fleet_hold(self, name: str, now: float) -> tuple[float, str] | None:
        return self.fleet.hold_reason(name, now) if self.fleet is not None else None

    def _incident_base(self) -> str | None:
        return self.web.incident_base() if self.web is not None else None

    def _in_maintenance(self, name: str) -> str | None:
        period = self.maintenance.covering(name) if self.maintenance is not None else None
        return None if period is None else period.describe(self.clock.wall())

    def _wake_dependents(self, name: str) -> None:
        """A dependency recovered: its sick dependents are checked at once (not at their next interval),
        so the healer decides on a result newer than the recovery (the "late recovery" problem)."""
        for other in self.config.dependents(name):
            breaker = self.monitor.breakers.get(other) if self.monitor else None
            if breaker is not None and breaker.state is not BreakerState.CLOSED:
                self.scheduler.run_soon(other)
                if self.healer is not None:
                    self.healer.wake()

    def status_soon(self) -> None:
        """STATUS= at most once a second: a shared dependency failing flips thousands of breakers."""
        if self._status_pending:
            return
        self._status_pending = True

        def send() -> None:
            self._status_pending = False
            self.notifier.status(self.status_line())

        asyncio.get_running_loop().call_later(1.0, send)

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` on this thread's kept read-only connection (blocking: callers use
        asyncio.to_thread)."""
        return self.readers.read(fn, *args)

    async def _start_fleet(self) -> None:
        settings = self.config.settings.fleet
        if settings is not None:
            from daemon.service.fleet import FleetShipper

            self.fleet = FleetShipper(
                settings,
                config=lambda: self.config,
                clock=self.clock,
                store=self.store,
                submit_threadsafe=self.writer.submit_threadsafe,
                status_soon=self.status_soon,
            )
            await self.fleet.start()

    async def _retention_loop(self) -> None:
        from daemon.service.fleet_retention import keep_unshipped
        from daemon.store.retention import prune_and_optimize

        every = self.config.settings.retention.prune_every.total_seconds()
        while True:
            await asyncio.sleep(every)
            try:
                protect = await keep_unshipped(self.config, self.store, now=self.clock.wall())
                await prune_and_optimize(
                    self.writer, self.config.settings.retention, now=self.clock.wall(), protect=protect
                )
            except Exception:
                log.exception("retention pruning failed; will try again")

    def status_line(self) -> str:
        if self.monitor is None:
            return "starting"
        breakers = self.monitor.breakers.values()
        open_ = sum(1 for b in breakers if b.state in (BreakerState.OPEN, BreakerState.FORCED_OPEN))
        half = sum(1 for b in breakers if b.state is BreakerState.HALF_OPEN)
        missed = sum(self.scheduler.missed.values())
        stretch = self.scheduler.load.stretch
        return (
            f"{len(self.config.components)} components, {open_} open breakers, {half} half-open, "
            f"{self.monitor.checks_run} checks run, {missed} missed"
            + (f", intervals ×{stretch} (host overloaded)" if stretch > 1 else "")
            + (f", {len(self.scheduler.unschedulable)} unschedulable" if self.scheduler.unschedulable else "")
            + (self.fleet.status_suffix() if self.fleet is not None else "")
        )
