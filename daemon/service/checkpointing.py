"""Take every `[[checkpoint]]` on its schedule, but only while its owning component is healthy.

A checkpoint of a broken component would preserve the breakage: the restore step would then put the
bad files back. So a version is taken only when the owner's latest check passed, its breaker is closed
and it has no open incident. The schedule is "due once `every` has passed since the newest verified
version", read from the table at start, so a restart does not take a burst of copies and a daemon that
was down for a day takes one as soon as the owner is healthy. A component-less checkpoint (nobody owns
it) is taken on its schedule unconditionally.

One small loop instead of an APScheduler job per checkpoint: the gate (owner healthy) and the base time
(last verified version) are state the healer already has; a failed take is retried after RETRY_S.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog

from daemon.clock import Clock
from daemon.engine.breaker import CircuitBreaker
from daemon.engine.checkpoints import (
    checkpoints_root,
    cleanup_interrupted,
    take_checkpoint,
)
from daemon.engine.ladder import LadderState
from daemon.service.tasks import cancel_and_wait
from daemon.service.wiring import ConfigGetter, Store
from daemon.store import checkpoints_sql
from daemon.types import BreakerState, CheckResult, Status


class HealthView(Protocol):
    """The monitor as far as the checkpoint gate reads it."""

    @property
    def last(self) -> Mapping[str, CheckResult]: ...

    @property
    def breakers(self) -> Mapping[str, CircuitBreaker]: ...


log = structlog.get_logger(__name__)

TICK_S = 0.5
#: how often a daemon with no [[checkpoint]] looks again (a reload that adds one pokes it at once)
IDLE_TICK_S = 30.0
RETRY_S = 60.0


class CheckpointTaker:
    def __init__(
        self,
        *,
        config: ConfigGetter,
        clock: Clock,
        store: Store,
        monitor: HealthView,
        ladder: Callable[[str], LadderState],
        taken: Callable[[], None],
    ) -> None:
        """`ladder(name)`: the healer's ladder of a component; `taken()`: a new version exists (the
        healer's cached checkpoint views are stale)."""
        self._config = config
        self.clock = clock
        self.store = store
        self.monitor = monitor
        self.ladder = ladder
        self.taken = taken
        #: checkpoint name → wall time of the newest verified version (or of the last failed try).
        self.last: dict[str, float] = {}
        self._running: dict[str, asyncio.Task] = {}
        self._task: asyncio.Task | None = None
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """The configuration changed: look at the checkpoints now rather than at the next idle tick."""
        self._poked.set()

    async def start(self) -> None:
        db = self.store.submit
        failed = await cleanup_interrupted(db=db)
        if failed:
            log.warning("checkpoint versions left half-taken were marked failed", ids=list(failed))
        latest = await asyncio.to_thread(self.store.read, checkpoints_sql.latest_verified)
        self.last = {name: row["taken_at"] for name, row in latest.items()}
        self._task = asyncio.create_task(self._loop(), name="checkpoints")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running.values()) if t is not None]
        await cancel_and_wait(tasks, timeout=10.0, what="checkpoints")

    def owner_healthy(self, owner: str) -> bool:
        last = self.monitor.last.get(owner)
        breaker = self.monitor.breakers.get(owner)
        ladder = self.ladder(owner)
        return (
            last is not None
            and last.status is Status.HEALTHY
            and breaker is not None
            and breaker.state in (BreakerState.CLOSED, BreakerState.DISABLED)
            and ladder.incident is None
            and ladder.in_progress is None
        )

    async def _loop(self) -> None:
        while True:
            self._poked.clear()
            try:
                self.tick()
            except Exception:
                log.exception("checkpoint schedule failed; trying again")
            # Most daemons declare no checkpoint: waking twice a second to find none was a tenth of an
            # idle daemon's wake-ups. With none declared (and none being taken) it sleeps until a reload.
            idle = not self._config().checkpoints and not self._running
            try:
                await asyncio.wait_for(self._poked.wait(), IDLE_TICK_S if idle else TICK_S)
            except TimeoutError:
                pass

    def tick(self) -> None:
        config = self._config()
        now = self.clock.wall()
        for name, checkpoint in config.checkpoints.items():
            if name in self._running:
                continue
            last = self.last.get(name)
            if last is not None and now < last + checkpoint.every.total_seconds():
                continue
            owner = config.checkpoint_owner(name)
            if owner is not None and not self.owner_healthy(owner):
                continue
            self._running[name] = asyncio.create_task(self._take(checkpoint, owner), name=f"checkpoint:{name}")

    async def _take(self, checkpoint, owner: str | None) -> None:
        try:
            result = await take_checkpoint(
                checkpoint,
                db=self.store.submit,
                root=checkpoints_root(self.store.db_path),
                component=owner,
                now=self.clock.wall(),
            )
            if result.ok:
                self.last[checkpoint.name] = self.clock.wall()
                self.taken()
            else:
                log.warning("checkpoint not taken", checkpoint=checkpoint.name, message=result.message)
                self._retry_later(checkpoint)
        except Exception:
            log.exception("taking a checkpoint failed", checkpoint=checkpoint.name)
            self._retry_later(checkpoint)
        finally:
            self._running.pop(checkpoint.name, None)

    def _retry_later(self, checkpoint) -> None:
        every = checkpoint.every.total_seconds()
        self.last[checkpoint.name] = self.clock.wall() - every + min(every, RETRY_S)
