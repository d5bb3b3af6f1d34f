"""Issue 16 items 1–3 at the runtime: a reload is all or nothing, and recording problems never fails it.

An in-process Runtime (real migrated database, real writer and monitor, the real scheduler not started)
so a failure can be injected exactly where the issue saw it: inside the scheduler's sync, after the
config, the database and the monitor were already updated.
"""

from __future__ import annotations

import os
import time

import pytest
from config_helpers import ConfigDir, component

from daemon.clock import FakeClock
from daemon.config.loader import load_config
from daemon.service.daemon import DaemonOptions
from daemon.service.monitor import Monitor
from daemon.service.runtime import Runtime
from daemon.service.sdnotify import Notifier
from daemon.store.sqlite import connect


@pytest.fixture
async def runtime(tmp_path, db_path):
    cfg = ConfigDir(tmp_path / "etc")
    cfg.write("healerd.toml", "[daemon]\nwatch_config = false\n")
    cfg.write("policies.d/a.toml", component("a"))
    loaded, problems = load_config(cfg.root)
    assert not problems
    rt = Runtime(
        DaemonOptions(config_dir=cfg.root, db_path=db_path, clock=FakeClock(wall=time.time())),
        loaded,
        notifier=Notifier({}),
    )
    await rt.writer.start()
    rt.monitor = Monitor(rt.config, rt.writer, rt.clock, await rt._sync_components())
    rt.monitor.restore({})
    rt.scheduler.sync(rt.config.components)
    rt.cfg = cfg
    yield rt
    await rt.monitor.stop(0)
    rt.scheduler.shutdown()
    await rt.writer.stop()


def _rows(rt, sql):
    conn = connect(rt.options.db_path, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_a_reload_that_fails_half_way_rolls_everything_back(runtime, monkeypatch):
    rt = runtime
    before = rt.loaded
    rt.cfg.write("policies.d/b.toml", component("b"))
    real_sync = rt.scheduler.sync

    def sync(components):
        real_sync(components)  # half applied, like the OverflowError inside APScheduler's _trigger
        if "b" in components:
            raise OverflowError("Python int too large to convert to C int")
        return real_sync(components)

    monkeypatch.setattr(rt.scheduler, "sync", sync)
    assert await rt.reload() is False
    assert rt.loaded is before and list(rt.config.components) == ["a"]
    assert list(rt.monitor.config.components) == ["a"] and set(rt.monitor.breakers) == {"a"}
    assert sorted(rt.scheduler._specs) == ["a"]
    assert _rows(rt, "SELECT name FROM components WHERE removed_at IS NULL") == [("a",)]

    monkeypatch.setattr(rt.scheduler, "sync", real_sync)
    assert await rt.reload() is True
    assert sorted(rt.config.components) == sorted(rt.monitor.breakers) == ["a", "b"]


async def test_a_problem_that_cannot_be_stored_does_not_fail_this_or_any_later_reload(runtime):
    rt = runtime
    bad = os.path.join(os.fsencode(rt.cfg.root / "policies.d"), b"bad-\xff\xfe-name.toml")
    with open(bad, "wb") as f:
        f.write(component("x").encode())
    os.chmod(bad, 0o644)
    assert await rt.reload() is True
    rt.cfg.write("policies.d/c.toml", component("c"))
    assert await rt.reload() is True and sorted(rt.config.components) == ["a", "c"]
    await rt.writer.flush()
    assert _rows(rt, "SELECT path FROM config_errors WHERE resolved_at IS NULL") == [
        ("policies.d/bad-\\xff\\xfe-name.toml",)
    ]
