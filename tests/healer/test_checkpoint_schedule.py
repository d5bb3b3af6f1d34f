"""Checkpoints are taken on their schedule only while the owning component is healthy (real writer, real files)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import open_db

from daemon.clock import FakeClock
from daemon.config.models import HealerdConfig
from daemon.engine.ladder import IncidentState, LadderState
from daemon.service import checkpointing
from daemon.service.checkpointing import CheckpointTaker
from daemon.service.wiring import Store
from daemon.store.sqlite import connect
from daemon.store.writer import Writer
from daemon.types import BreakerState, CheckResult, Status

T0 = 1_800_000_000.0


@dataclass
class Stubs:
    """What the taker is handed (the monitor, the healer's ladders and checkpoint cache); the writer and database are real."""

    writer: Writer
    db_path: Path
    config: HealerdConfig
    clock: FakeClock = field(default_factory=lambda: FakeClock(wall=T0))
    ladders: dict = field(default_factory=dict)
    invalidated: int = 0

    def __post_init__(self) -> None:
        self.options = SimpleNamespace(db_path=self.db_path)
        self.monitor = SimpleNamespace(last={}, breakers={"app": SimpleNamespace(state=BreakerState.CLOSED)})
        self.book = SimpleNamespace(get=lambda name: self.ladders.get(name, LadderState()))
        self.facts = SimpleNamespace(invalidate_checkpoints=self._invalidate)

    def _invalidate(self) -> None:
        self.invalidated += 1

    def read(self, fn, *args):
        conn = connect(self.db_path, readonly=True)
        try:
            return fn(conn, *args)
        finally:
            conn.close()

    def status(self, status: Status) -> None:
        self.monitor.last["app"] = CheckResult("app", status, 1.0, "", None, self.clock.wall())


def config(tmp_path: Path) -> HealerdConfig:
    conf = tmp_path / "app.conf"
    conf.write_text("workers = 4\n")
    return HealerdConfig.model_validate(
        {
            "components": {"app": {"name": "app", "check": {"kind": "tcp", "port": 9}}},
            "checkpoints": {
                "app-config": {"name": "app-config", "component": "app", "paths": [str(conf)], "every": "1h"}
            },
        }
    )


@pytest.fixture
async def stubs(db_path, tmp_path):
    writer = Writer(db_path)
    await writer.start()
    yield Stubs(writer, db_path, config(tmp_path))
    await writer.stop()


def taker_of(stubs: Stubs) -> CheckpointTaker:
    store = Store(submit=stubs.writer.submit, read=stubs.read, db_path=str(stubs.db_path))
    return CheckpointTaker(
        config=lambda: stubs.config,
        clock=stubs.clock,
        store=store,
        monitor=stubs.monitor,
        ladder=stubs.book.get,
        taken=stubs.facts.invalidate_checkpoints,
    )


def versions(db_path) -> list[tuple]:
    with open_db(db_path) as conn:
        return conn.execute("SELECT name, status, component_id IS NOT NULL FROM checkpoints ORDER BY id").fetchall()


async def settle(taker: CheckpointTaker) -> None:
    while taker._running:
        await asyncio.gather(*taker._running.values())


async def test_a_sick_or_unchecked_owner_gets_no_checkpoint_and_a_healthy_one_does(stubs, db_path):
    taker = taker_of(stubs)
    await taker.start()
    try:
        taker.tick()  # no check result yet: nobody knows it is healthy
        stubs.status(Status.UNHEALTHY)
        taker.tick()
        stubs.status(Status.HEALTHY)
        stubs.monitor.breakers["app"].state = BreakerState.HALF_OPEN
        taker.tick()
        stubs.monitor.breakers["app"].state = BreakerState.CLOSED
        stubs.ladders["app"] = LadderState(incident=IncidentState(id=1, opened_at=T0, trigger="breaker"))
        taker.tick()  # healthy check, but an incident is still open: not yet
        assert not taker._running and versions(db_path) == []

        stubs.ladders.clear()
        taker.tick()
        await settle(taker)
        assert versions(db_path) == [("app-config", "verified", 0)]  # component rows are the daemon's to write
        assert stubs.invalidated == 1

        stubs.clock.advance(1800)
        taker.tick()  # not due before `every`
        assert not taker._running
        stubs.clock.advance(1801)
        taker.tick()
        await settle(taker)
        assert [v[1] for v in versions(db_path)] == ["verified", "verified"]
    finally:
        await taker.stop()


async def test_after_a_restart_the_schedule_continues_from_the_newest_verified_version(stubs, db_path):
    first = taker_of(stubs)
    await first.start()
    stubs.status(Status.HEALTHY)
    first.tick()
    await settle(first)
    await first.stop()

    stubs.clock.advance(60)
    again = taker_of(stubs)
    await again.start()
    try:
        assert again.last["app-config"] == pytest.approx(T0)
        again.tick()  # a restart is not a reason for another copy
        assert not again._running and len(versions(db_path)) == 1
    finally:
        await again.stop()


async def test_with_no_checkpoint_declared_the_loop_sleeps_until_a_reload_pokes_it(stubs, db_path, monkeypatch):
    """Idle daemons do not wake twice a second to find no checkpoint; a reload that adds one is
    acted on at once, not after the idle tick."""
    monkeypatch.setattr(checkpointing, "IDLE_TICK_S", 3600.0)  # only the poke can wake it in time
    declared = stubs.config
    stubs.config = declared.model_copy(update={"checkpoints": {}})
    stubs.status(Status.HEALTHY)
    taker = taker_of(stubs)
    await taker.start()
    try:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # let the loop run its first pass and go to sleep
            await asyncio.sleep(0)
        assert versions(db_path) == []
        started = loop.time()
        stubs.config = declared  # what Runtime._apply does on a reload, then it pokes
        taker.poke()
        deadline = started + 10
        while not versions(db_path) or taker._running:
            assert loop.time() < deadline, "the poke did not wake the checkpoint loop"
            await asyncio.sleep(0.01)
        assert versions(db_path) == [("app-config", "verified", 0)]
    finally:
        await taker.stop()
