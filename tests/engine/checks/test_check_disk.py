"""disk checks on tmp_path's real filesystem, thresholds computed from statvfs to pass and to fail."""

from __future__ import annotations

import os

from daemon.engine.checks import run_check
from daemon.engine.checks.disk import free_space
from daemon.types import Status


def test_free_space_matches_statvfs(tmp_path):
    st = os.statvfs(tmp_path)
    free, total = free_space(str(tmp_path))
    assert total == st.f_blocks * st.f_frsize
    assert abs(free - st.f_bavail * st.f_frsize) <= 64 * 1024 * 1024  # others write meanwhile


async def test_percent_threshold_passes_below_and_fails_above_the_real_free_share(tmp_path, component):
    free, total = free_space(str(tmp_path))
    percent = 100.0 * free / total
    low = max(percent / 4, 0.001)
    high = min(percent + (100 - percent) / 2, 99.999)
    ok = await run_check(component("disk", path=str(tmp_path), min_free=f"{low:.3f}%"))
    full = await run_check(component("disk", path=str(tmp_path), min_free=f"{high:.3f}%"))
    assert (ok.status, ok.error_class) == (Status.HEALTHY, None)
    assert (full.status, full.error_class) == (Status.UNHEALTHY, "full")
    assert "free of" in full.message and "below" in full.message


async def test_byte_threshold_passes_below_and_fails_above_the_real_free_space(tmp_path, component):
    free, _total = free_space(str(tmp_path))
    ok = await run_check(component("disk", path=str(tmp_path), min_free=f"{max(free // 4, 1)}B"))
    full = await run_check(component("disk", path=str(tmp_path), min_free=f"{free * 2 + 10**9}B"))
    assert ok.status is Status.HEALTHY
    assert (full.status, full.error_class) == (Status.UNHEALTHY, "full")


async def test_missing_path_is_missing(tmp_path, component):
    result = await run_check(component("disk", path=str(tmp_path / "not-mounted")))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "missing")
