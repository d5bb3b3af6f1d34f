"""run_argv: the shared subprocess runner. Real processes; group kill verified pid by pid."""

from __future__ import annotations

import asyncio
import os
import stat
import sys

import pytest

from daemon.engine import proc as proc_mod
from daemon.engine.proc import run_argv


def script(tmp_path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def read_pids(path) -> list[int]:
    return [int(x) for x in path.read_text().split()]


async def test_exit_code_and_both_streams_are_captured(tmp_path):
    argv = script(tmp_path, "p", 'echo "first line"\necho second\necho oops >&2\nexit 7\n')
    result = await run_argv([argv], timeout=10)
    assert result.exit_code == 7 and not result.timed_out
    assert result.stdout_tail == "first line\nsecond\n"
    assert result.stderr_tail == "oops\n"
    assert result.first_line == "first line"
    assert result.duration_ms > 0


async def test_arguments_are_not_interpreted_by_a_shell(tmp_path):
    result = await run_argv(
        [sys.executable, "-c", "import sys; print(sys.argv[1:])", "$(id); rm -rf /", "*"], timeout=10
    )
    assert result.stdout_tail.strip() == "['$(id); rm -rf /', '*']"


async def test_env_replaces_the_environment_and_cwd_is_applied(tmp_path):
    code = "import os; print(os.environ.get('ONLY'), os.environ.get('HOME'), os.getcwd())"
    result = await run_argv([sys.executable, "-c", code], timeout=10, env={"ONLY": "x"}, cwd=tmp_path)
    assert result.stdout_tail.split() == ["x", "None", str(tmp_path)]


async def test_output_keeps_only_a_bounded_tail_and_the_head(tmp_path):
    code = "import sys; sys.stdout.write('HEAD\\n' + 'x' * 200000 + '\\nTAIL\\n')"
    result = await run_argv([sys.executable, "-c", code], timeout=10, output_limit=1000)
    assert len(result.stdout_tail) == 1000 and result.stdout_tail.endswith("TAIL\n")
    assert result.first_line == "HEAD"


async def test_child_runs_in_its_own_session(tmp_path):
    code = "import os; print(os.getsid(0), os.getpgid(0), os.getpid())"
    result = await run_argv([sys.executable, "-c", code], timeout=10)
    sid, pgid, pid = map(int, result.stdout_tail.split())
    assert sid == pgid == pid != os.getsid(0)


async def test_timeout_kills_the_whole_group_including_grandchildren(tmp_path, gone):
    pids = tmp_path / "pids"
    # The leader starts a grandchild, writes both pids, and both ignore SIGTERM: SIGKILL must follow.
    argv = script(tmp_path, "hang", f"trap '' TERM\nsleep 300 &\necho $$ $! > {pids}\nwait\n")
    result = await run_argv([argv], timeout=1.5)
    assert result.timed_out and result.exit_code == -9
    leader, grandchild = read_pids(pids)
    assert gone(leader) and gone(grandchild)


async def test_sigterm_is_tried_before_sigkill(tmp_path):
    marker = tmp_path / "termed"
    argv = script(tmp_path, "polite", f"trap 'echo bye > {marker}; exit 0' TERM\nwhile :; do sleep 0.05; done\n")
    result = await run_argv([argv], timeout=1.0)
    assert result.timed_out
    assert marker.read_text() == "bye\n"


async def test_cancelling_the_caller_kills_the_group(tmp_path, gone):
    pids = tmp_path / "pids"
    argv = script(tmp_path, "hang", f"sleep 300 &\necho $$ $! > {pids}\nwait\n")
    task = asyncio.create_task(run_argv([argv], timeout=300))
    async with asyncio.timeout(10):  # wait for the script to have started both processes
        while not (pids.exists() and len(pids.read_text().split()) == 2):  # noqa: ASYNC110 - another process writes it
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    leader, grandchild = read_pids(pids)
    assert gone(leader) and gone(grandchild)


async def test_background_child_holding_stdout_does_not_stall_the_result(tmp_path, gone, monkeypatch):
    monkeypatch.setattr(proc_mod, "DRAIN_GRACE_S", 0.05)
    pids = tmp_path / "pids"
    argv = script(tmp_path, "daemonize", f"sleep 300 &\necho $! > {pids}\necho started\n")
    result = await run_argv([argv], timeout=30)
    leftover = read_pids(pids)[0]
    try:
        assert result.exit_code == 0 and not result.timed_out
        assert result.first_line == "started"
        assert result.duration_ms < 30_000
    finally:
        os.kill(leftover, 9)  # left running on purpose (an action may start a daemon); ours to clean
    assert gone(leftover)


async def test_missing_program_raises_oserror_and_leaks_no_fd(tmp_path):
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError):
        await run_argv([str(tmp_path / "nope")], timeout=5)
    assert len(os.listdir("/proc/self/fd")) == before


async def test_fds_are_closed_after_a_run(tmp_path):
    await run_argv(["true"], timeout=5)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        await run_argv(["true"], timeout=5)
    assert len(os.listdir("/proc/self/fd")) == before


async def test_killed_by_signal_reports_a_negative_exit_code(tmp_path):
    result = await run_argv(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], timeout=10
    )
    assert result.exit_code == -9 and not result.timed_out
