"""The stock Debian `monitoring-plugins` as exec checks: OK/WARNING/CRITICAL map to healthy/degraded/
unhealthy, with the status line as the message and the perfdata apart. Skipped where the package is
not installed (tests/daemon/test_nagios_plugins.py covers that case with a script mimicking one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from httpservers import Route

from daemon.engine.checks import run_check
from daemon.types import Status

PLUGINS = Path("/usr/lib/nagios/plugins")


def plugin(name: str) -> str:
    path = PLUGINS / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed (Debian package monitoring-plugins)")
    return str(path)


async def check(component, *argv: str):
    return await run_check(component("exec", run=list(argv), every="10s", timeout="8s"))


async def test_check_tcp_ok_and_refused(component, http_server, closed_port):
    ok = await check(component, plugin("check_tcp"), "-H", "127.0.0.1", "-p", str(http_server.port))
    assert (ok.status, ok.error_class) == (Status.HEALTHY, None)
    assert ok.message.startswith("TCP OK") and ok.perfdata.startswith("time=")
    down = await check(component, plugin("check_tcp"), "-H", "127.0.0.1", "-p", str(closed_port))
    assert (down.status, down.error_class) == (Status.UNHEALTHY, "exit_code")
    assert "refused" in down.message.lower()


async def test_check_http_ok_and_critical(component, http_server):
    http_server.routes["/healthz"] = Route(200, b"ok")
    http_server.routes["/broken"] = Route(500, b"no")
    argv = [plugin("check_http"), "-H", "127.0.0.1", "-p", str(http_server.port)]
    ok = await check(component, *argv, "-u", "/healthz")
    assert (ok.status, ok.message[:7]) == (Status.HEALTHY, "HTTP OK")
    assert "time=" in ok.perfdata and "|" not in ok.message
    broken = await check(component, *argv, "-u", "/broken")
    assert (broken.status, broken.error_class) == (Status.UNHEALTHY, "exit_code")
    assert "500" in broken.message


async def test_check_disk_warning_and_critical_keep_their_text(component):
    # free space is always below 100%: -w 100% warns, -c 100% is critical
    warn = await check(component, plugin("check_disk"), "-w", "100%", "-c", "0%", "-p", "/")
    assert (warn.status, warn.error_class) == (Status.DEGRADED, None)
    assert warn.message.startswith("DISK WARNING") and warn.perfdata.startswith("/=")
    crit = await check(component, plugin("check_disk"), "-w", "100%", "-c", "100%", "-p", "/")
    assert (crit.status, crit.error_class) == (Status.UNHEALTHY, "exit_code")
    assert crit.message.startswith("DISK CRITICAL") and crit.perfdata.startswith("/=")


async def test_check_load_ok_with_its_perfdata(component):
    ok = await check(component, plugin("check_load"), "-w", "1000,1000,1000", "-c", "2000,2000,2000")
    assert (ok.status, ok.message[:7]) == (Status.HEALTHY, "LOAD OK")
    assert {"load1", "load5", "load15"} <= {item.split("=")[0] for item in ok.perfdata.split()}
