"""process checks on real child processes, found by pidfile or by command-line regex."""

from __future__ import annotations

import os
import re
import signal
import uuid

from daemon.engine.checks import find_pid, find_processes, run_check
from daemon.engine.checks.process import read_cmdline
from daemon.types import Status


def marker() -> str:
    return f"healerd-test-{uuid.uuid4().hex[:12]}"


async def test_live_pid_from_pidfile_is_healthy(tmp_path, component, spawn):
    child = spawn()
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text(f"{child.pid}\n")
    comp = component("process", pidfile=str(pidfile))
    result = await run_check(comp)
    assert (result.status, result.message) == (Status.HEALTHY, f"pid {child.pid} running")
    assert find_pid(comp) == child.pid


async def test_killed_process_is_not_running(tmp_path, component, spawn, gone):
    child = spawn()
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text(str(child.pid))
    os.kill(child.pid, signal.SIGKILL)
    assert gone(child.pid)  # a zombie (not yet reaped) must already count as dead
    result = await run_check(component("process", pidfile=str(pidfile)))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "not_running")
    assert f"pid {child.pid}" in result.message


async def test_missing_or_garbage_pidfile_is_not_running(tmp_path, component):
    missing = await run_check(component("process", pidfile=str(tmp_path / "nope.pid")))
    (tmp_path / "bad.pid").write_text("not-a-pid\n")
    garbage = await run_check(component("process", pidfile=str(tmp_path / "bad.pid")))
    (tmp_path / "zero.pid").write_text("0\n")
    zero = await run_check(component("process", pidfile=str(tmp_path / "zero.pid")))
    for result in (missing, garbage, zero):
        assert (result.status, result.error_class) == (Status.UNHEALTHY, "not_running")
    assert "does not exist" in missing.message and "holds no pid" in garbage.message


async def test_match_finds_a_process_by_its_command_line(component, spawn):
    tag = marker()
    child = spawn("import sys, time; time.sleep(120)", tag)
    comp = component("process", match=rf"{tag}\b")
    result = await run_check(comp)
    assert (result.status, result.message) == (Status.HEALTHY, f"pid {child.pid} running")
    assert find_pid(comp) == child.pid


async def test_match_counts_every_matching_process(component, spawn):
    tag = marker()
    children = sorted(spawn("import time; time.sleep(120)", tag).pid for _ in range(2))
    result = await run_check(component("process", match=tag))
    assert result.message == f"2 processes running (pids {children[0]}, {children[1]})"


async def test_match_with_no_process_is_not_running(component):
    result = await run_check(component("process", match=marker()))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "not_running")
    assert "no process matches" in result.message


def test_match_never_finds_the_checking_process_itself(component):
    own_cmdline = read_cmdline(os.getpid())
    assert own_cmdline
    comp = component("process", match=re.escape(own_cmdline))
    assert os.getpid() not in find_processes(comp.check, None).pids


async def test_pidfile_and_match_together_reject_a_reused_pid(tmp_path, component, spawn):
    child = spawn()
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text(str(child.pid))
    right = await run_check(component("process", pidfile=str(pidfile), match=r"time\.sleep"))
    wrong = await run_check(component("process", pidfile=str(pidfile), match=r"^/usr/sbin/nginx"))
    assert right.status is Status.HEALTHY, right.message
    assert (wrong.status, wrong.error_class) == (Status.UNHEALTHY, "not_running")
    assert "not /^/usr/sbin/nginx/" in wrong.message


async def test_a_long_foreign_command_line_is_shortened_but_the_reason_is_kept(tmp_path, component, spawn):
    """The reason ("not /REGEX/") must survive whatever the command line's length (a long checkout path
    or argv used to push it past the message limit, so the message lost the very thing it explains)."""
    child = spawn("import time; time.sleep(120)", "x" * 400)
    pidfile = tmp_path / "svc.pid"
    pidfile.write_text(str(child.pid))
    wrong = await run_check(component("process", pidfile=str(pidfile), match=r"^/usr/sbin/nginx"))
    assert (wrong.status, wrong.error_class) == (Status.UNHEALTHY, "not_running")
    assert wrong.message.endswith("not /^/usr/sbin/nginx/"), wrong.message
    assert f"pid {child.pid} from {pidfile} runs " in wrong.message
    assert "x" * 100 not in wrong.message  # the command line itself was shortened
