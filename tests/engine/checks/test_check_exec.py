"""exec checks: real plugin scripts for every Nagios code; a hanging one is killed as a group."""

from __future__ import annotations

import stat

import pytest

from daemon.engine.checks import run_check
from daemon.engine.checks.base import PERFDATA_LIMIT
from daemon.engine.checks.exec import split_perfdata
from daemon.types import Status


def plugin(tmp_path, body: str) -> str:
    path = tmp_path / "check_thing"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        (0, Status.HEALTHY, None),
        (1, Status.DEGRADED, None),
        (2, Status.UNHEALTHY, "exit_code"),
        (3, Status.UNKNOWN, "unknown"),
    ],
)
async def test_nagios_exit_codes_map_to_statuses(tmp_path, component, code, status, error_class):
    argv = plugin(tmp_path, f'echo "THING {code} - disk at 91% | used=91"\necho "detail line"\nexit {code}\n')
    result = await run_check(component("exec", run=[argv]))
    assert (result.status, result.error_class) == (status, error_class)
    # the first line's text, whatever the status; its perfdata kept apart
    assert (result.message, result.perfdata) == (f"THING {code} - disk at 91%", "used=91")


@pytest.mark.parametrize(
    ("output", "text", "perfdata"),
    [
        ("LOAD OK - load 0.1\n", "LOAD OK - load 0.1", None),
        ("DISK WARNING - / 77%;| /=250B;0;270;0;270\n", "DISK WARNING - / 77%;", "/=250B;0;270;0;270"),
        # plugin API: long text lines, then from the first later `|` on, everything is more perfdata
        ("TEXT | a=1\nlong text\nmore | b=2\nc=3\n", "TEXT", "a=1 b=2 c=3"),
        ("\n\nTEXT|a=1  b=2\n", "TEXT", "a=1 b=2"),
        ("", "", None),
    ],
)
def test_plugin_output_splits_into_text_and_perfdata(output, text, perfdata):
    assert split_perfdata(output) == (text, perfdata)


def test_long_perfdata_is_cut_between_items_never_inside_one():
    items = [f"/mnt/disk{i}=123456789B;0;999999999;0;999999999" for i in range(60)]
    _, perfdata = split_perfdata("DISK OK | " + " ".join(items))
    assert perfdata is not None and len(perfdata) <= PERFDATA_LIMIT
    assert perfdata.split(" ") == items[: len(perfdata.split(" "))]


async def test_other_exit_codes_are_unhealthy_exit_code(tmp_path, component):
    result = await run_check(component("exec", run=[plugin(tmp_path, "echo broken\nexit 42\n")]))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "exit_code")
    assert result.message == "exit 42: broken"


async def test_silent_plugin_gets_its_exit_code_as_message(tmp_path, component):
    result = await run_check(component("exec", run=[plugin(tmp_path, "exit 2\n")]))
    assert result.message == "exit 2"


async def test_stderr_is_the_message_when_stdout_is_empty(tmp_path, component):
    result = await run_check(component("exec", run=[plugin(tmp_path, "echo 'no such device' >&2\nexit 2\n")]))
    assert result.message == "no such device"


async def test_arguments_and_env_reach_the_plugin(tmp_path, component):
    argv = plugin(tmp_path, 'echo "$1 $2 $LEVEL"\n[ "$LEVEL" = high ] && exit 1\nexit 0\n')
    result = await run_check(component("exec", run=[argv, "-w", "a b"], env={"LEVEL": "high"}))
    assert (result.status, result.message) == (Status.DEGRADED, "-w a b high")


async def test_hanging_plugin_times_out_and_its_group_is_killed(tmp_path, component, gone):
    pids = tmp_path / "pids"
    argv = plugin(tmp_path, f"sleep 300 &\necho $$ $! > {pids}\nwait\n")
    result = await run_check(component("exec", run=[argv], timeout="1500ms"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "timeout")
    leader, child = (int(p) for p in pids.read_text().split())
    assert gone(leader) and gone(child)


async def test_plugin_that_cannot_be_run_is_unknown(tmp_path, component):
    result = await run_check(component("exec", run=[str(tmp_path / "missing_plugin")]))
    assert (result.status, result.error_class) == (Status.UNKNOWN, "error")
    assert "cannot run" in result.message and "No such file" in result.message


async def test_long_first_line_is_truncated(tmp_path, component):
    result = await run_check(component("exec", run=[plugin(tmp_path, f"echo {'x' * 500}\nexit 0\n")]))
    assert len(result.message) <= 200 and result.message.endswith("…")
