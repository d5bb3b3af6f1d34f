"""file checks on real files with real mtimes; age judged against an injected clock."""

from __future__ import annotations

import os

from daemon.clock import FakeClock
from daemon.engine.checks import run_check
from daemon.types import Status


async def test_missing_file_is_missing(tmp_path, component):
    result = await run_check(component("file", path=str(tmp_path / "nope")))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "missing")


async def test_path_under_a_regular_file_is_missing(tmp_path, component):
    (tmp_path / "f").write_text("x")
    result = await run_check(component("file", path=str(tmp_path / "f" / "child")))
    assert result.error_class == "missing"


async def test_existing_file_is_healthy(tmp_path, component):
    (tmp_path / "f").write_text("hello")
    result = await run_check(component("file", path=str(tmp_path / "f")))
    assert (result.status, result.message) == (Status.HEALTHY, f"{tmp_path / 'f'}: 5 bytes")


async def test_file_older_than_max_age_is_stale(tmp_path, component):
    path = tmp_path / "heartbeat"
    path.write_text("beat")
    clock = FakeClock(wall=1_800_000_000.0)
    os.utime(path, (clock.wall() - 600, clock.wall() - 600))
    stale = await run_check(component("file", path=str(path), max_age="5m"), clock=clock)
    fresh = await run_check(component("file", path=str(path), max_age="15m"), clock=clock)
    assert (stale.status, stale.error_class) == (Status.UNHEALTHY, "stale")
    assert "600s ago" in stale.message or "10m ago" in stale.message
    assert fresh.status is Status.HEALTHY


async def test_file_becomes_stale_as_the_clock_moves(tmp_path, component):
    path = tmp_path / "heartbeat"
    path.write_text("beat")
    clock = FakeClock(wall=1_800_000_000.0)
    os.utime(path, (clock.wall(), clock.wall()))
    comp = component("file", path=str(path), max_age="1m")
    assert (await run_check(comp, clock=clock)).status is Status.HEALTHY
    clock.advance(61)
    assert (await run_check(comp, clock=clock)).error_class == "stale"


async def test_file_below_min_size_is_too_small(tmp_path, component):
    path = tmp_path / "dump.sql"
    path.write_bytes(b"x" * 999)
    small = await run_check(component("file", path=str(path), min_size="1KB"))
    ok = await run_check(component("file", path=str(path), min_size="999B"))
    assert (small.status, small.error_class) == (Status.UNHEALTHY, "too_small")
    assert "999 bytes" in small.message and "1000" in small.message
    assert ok.status is Status.HEALTHY
