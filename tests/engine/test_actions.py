"""run_action on real parts: subprocesses that record their argv, a hanging action killed as a group,
signals to a child found by its pidfile, http actions against a server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from acting_kit import Children, RecordingServer, children, closed_port, http_server, wait_file, wait_gone  # noqa: F401

from daemon.config.models import Action, Component
from daemon.engine.actions import OUTPUT_TAIL, ActionContext, run_action
from daemon.engine.pidwatch import pid_alive

RECORD_ARGV = """
import json, os, sys
out = sys.argv[1]
with open(out, "w") as f:
    json.dump({"argv": sys.argv[2:], "cwd": os.getcwd(),
               "env": {k: v for k, v in os.environ.items() if k.startswith(("HEALERD_", "EXTRA"))}}, f)
"""


def action(**data) -> Action:
    return Action.model_validate(data)


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    """A script in a config-like directory, referred to by a *relative* path in argv."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "record.py").write_text(RECORD_ARGV)
    return tmp_path


async def test_placeholders_fill_argv_elements_and_relative_paths_resolve_against_cwd(recorder, tmp_path):
    out = tmp_path / "argv.json"
    act = action(
        run=[
            sys.executable,
            "services/record.py",
            str(out),
            "--name={component}",
            "{candidate}",
            "incident-{incident}",
            "{unknown}",
            "{component}{component}",
        ]
    )
    ctx = ActionContext(component="app", candidate="app-standby", incident=42, cwd=recorder)

    outcome = await run_action(act, context=ctx)

    assert outcome.ok, outcome
    assert outcome.exit_code == 0 and outcome.message == "exit 0"
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["--name=app", "app-standby", "incident-42", "{unknown}", "appapp"]
    assert seen["cwd"] == str(recorder)
    assert outcome.argv[2:] == (str(out), "--name=app", "app-standby", "incident-42", "{unknown}", "appapp")


async def test_a_value_is_never_scanned_for_placeholders_again(recorder, tmp_path):
    out = tmp_path / "argv.json"
    act = action(run=[sys.executable, "services/record.py", str(out), "{component}"])
    outcome = await run_action(act, context=ActionContext(component="{incident}", incident=7, cwd=recorder))
    assert outcome.ok
    assert json.loads(out.read_text())["argv"] == ["{incident}"]


async def test_environment_carries_names_and_the_actions_env_wins(recorder, tmp_path):
    out = tmp_path / "argv.json"
    act = action(
        run=[sys.executable, "services/record.py", str(out)],
        env={"EXTRA_A": "from-config", "HEALERD_INCIDENT": "override"},
    )
    ctx = ActionContext(component="app", incident=3, cwd=recorder, env={"EXTRA_A": "from-caller", "EXTRA_B": "b"})
    assert (await run_action(act, context=ctx)).ok
    env = json.loads(out.read_text())["env"]
    # what the action inherited unchanged from this process (CI exports HEALERD_TEST_PG_URL) is not its doing
    env = {k: v for k, v in env.items() if os.environ.get(k) != v}
    assert env == {"HEALERD_COMPONENT": "app", "HEALERD_INCIDENT": "override", "EXTRA_A": "from-config", "EXTRA_B": "b"}


@pytest.mark.parametrize(
    ("element", "ctx_kwargs", "expected"),
    [
        ("{pid}", {}, "{pid} has no value: component app has no pidfile"),
        ("{candidate}", {}, "{candidate} has no value"),
        ("{incident}", {}, "{incident} has no value"),
    ],
)
async def test_a_placeholder_without_a_value_fails_the_action_and_runs_nothing(
    recorder, tmp_path, element, ctx_kwargs, expected
):
    out = tmp_path / "argv.json"
    act = action(run=[sys.executable, "services/record.py", str(out), element])
    outcome = await run_action(act, context=ActionContext(component="app", cwd=recorder, **ctx_kwargs))
    assert not outcome.ok
    assert outcome.message.startswith("not run: " + expected), outcome.message
    assert not out.exists()


async def test_pid_placeholder_with_a_missing_pidfile_says_why(recorder, tmp_path):
    out = tmp_path / "argv.json"
    act = action(run=[sys.executable, "services/record.py", str(out), "{pid}"])
    ctx = ActionContext(component="app", cwd=recorder, pidfile=str(tmp_path / "app.pid"))
    outcome = await run_action(act, context=ctx)
    assert not outcome.ok and "does not exist" in outcome.message and not out.exists()


async def test_failing_command_reports_exit_code_and_stderr_tail(tmp_path):
    code = "import sys; print('started'); print('cannot bind port', file=sys.stderr); sys.exit(3)"
    outcome = await run_action(action(run=[sys.executable, "-c", code]), context=ActionContext(component="app"))
    assert not outcome.ok and outcome.exit_code == 3 and outcome.message == "exit 3"
    assert outcome.output == "started\n[stderr]\ncannot bind port"


async def test_output_is_bounded_and_keeps_the_end(tmp_path):
    code = "import sys; sys.stdout.write('x' * 300000 + '\\nLAST LINE\\n')"
    outcome = await run_action(action(run=[sys.executable, "-c", code]), context=ActionContext(component="app"))
    assert outcome.ok
    assert len(outcome.output) <= OUTPUT_TAIL and outcome.output.endswith("LAST LINE")


async def test_missing_program_is_an_outcome_not_an_exception(tmp_path):
    outcome = await run_action(
        action(run=["services/no-such-script"]), context=ActionContext(component="app", cwd=tmp_path)
    )
    assert (
        not outcome.ok
        and outcome.message.startswith("cannot run services/no-such-script")
        and str(tmp_path) in outcome.message
    )


HANGS_WITH_A_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
with open(sys.argv[1], "w") as f:
    f.write(f"{__import__('os').getpid()} {child.pid}")
time.sleep(600)
"""


async def test_hanging_action_is_killed_as_a_group_at_its_timeout(tmp_path, children: Children):
    pids_file = tmp_path / "pids"
    act = action(run=[sys.executable, "-c", HANGS_WITH_A_CHILD, str(pids_file)], timeout="2s")
    outcome = await run_action(act, context=ActionContext(component="app"))
    pids = [int(p) for p in pids_file.read_text().split()]
    children.extra_pids += [(p, "sleep(600)") for p in pids]  # killed at teardown if the test fails
    assert not outcome.ok and outcome.timed_out
    assert outcome.message == "timed out after 2s; process group killed"
    for pid in pids:
        wait_gone(pid)


async def test_cancelling_an_action_kills_its_group_and_propagates(tmp_path, children: Children):
    pids_file = tmp_path / "pids"
    act = action(run=[sys.executable, "-c", HANGS_WITH_A_CHILD, str(pids_file)], timeout="60s")
    task = asyncio.create_task(run_action(act, context=ActionContext(component="app")))
    text = await asyncio.to_thread(wait_file, pids_file)
    pids = [int(p) for p in text.split()]
    children.extra_pids += [(p, "sleep(600)") for p in pids]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for pid in pids:
        wait_gone(pid)


async def test_dry_run_runs_nothing(recorder, tmp_path):
    out = tmp_path / "argv.json"
    act = action(run=[sys.executable, "services/record.py", str(out), "{component}"])
    outcome = await run_action(act, context=ActionContext(component="app", cwd=recorder, dry_run=True))
    assert outcome.ok and outcome.message.startswith("dry run: would run") and not out.exists()


# --- signal -------------------------------------------------------------------------------------------

HUP_RECORDER = """
import os, signal, sys, time
def on_hup(signum, frame):
    with open(sys.argv[2], "w") as f:
        f.write("hup")
signal.signal(signal.SIGHUP, on_hup)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


def component_with_pidfile(pidfile: Path) -> Component:
    return Component.model_validate({"name": "app", "pidfile": str(pidfile), "check": {"kind": "process"}})


async def test_signal_reaches_the_process_named_by_the_pidfile(tmp_path, children: Children):
    pidfile, marker = tmp_path / "app.pid", tmp_path / "got-hup"
    proc = children.python(HUP_RECORDER, str(pidfile), str(marker))
    await asyncio.to_thread(wait_file, pidfile)
    ctx = ActionContext.for_component(component_with_pidfile(pidfile), cwd=tmp_path)

    outcome = await run_action(action(signal="HUP"), context=ctx)

    assert outcome.ok, outcome.message
    assert outcome.pids == (proc.pid,) and outcome.message == f"SIGHUP delivered to pid {proc.pid}"
    assert await asyncio.to_thread(wait_file, marker) == "hup"
    assert pid_alive(proc.pid)


async def test_pid_placeholder_comes_from_the_pidfile(recorder, tmp_path, children: Children):
    pidfile, out = tmp_path / "app.pid", tmp_path / "argv.json"
    proc = children.python(HUP_RECORDER, str(pidfile), str(tmp_path / "unused"))
    await asyncio.to_thread(wait_file, pidfile)
    ctx = ActionContext.for_component(component_with_pidfile(pidfile), cwd=recorder)
    outcome = await run_action(
        action(run=[sys.executable, "services/record.py", str(out), "kill -HUP {pid}"]), context=ctx
    )
    assert outcome.ok
    assert json.loads(out.read_text())["argv"] == [f"kill -HUP {proc.pid}"]


async def test_signal_to_a_dead_process_is_not_delivered(tmp_path, children: Children):
    pidfile = tmp_path / "app.pid"
    proc = children.python("pass")
    proc.wait(timeout=10)
    pidfile.write_text(str(proc.pid))
    outcome = await run_action(
        action(signal="TERM"), context=ActionContext.for_component(component_with_pidfile(pidfile), cwd=tmp_path)
    )
    assert not outcome.ok and outcome.message == f"SIGTERM not sent: pid {proc.pid} from {pidfile} is not running"


async def test_signal_by_match_finds_the_process(tmp_path, children: Children):
    marker = tmp_path / "got-hup"
    tag = f"healerd-test-{os.getpid()}-{tmp_path.name}"
    proc = children.python(HUP_RECORDER, str(tmp_path / "pid"), str(marker), tag)
    await asyncio.to_thread(wait_file, tmp_path / "pid")
    comp = Component.model_validate({"name": "app", "check": {"kind": "process", "match": tag}})
    outcome = await run_action(action(signal="HUP"), context=ActionContext.for_component(comp, cwd=tmp_path))
    assert outcome.ok and outcome.pids == (proc.pid,)
    assert await asyncio.to_thread(wait_file, marker) == "hup"


# --- http ---------------------------------------------------------------------------------------------


async def test_http_action_sends_the_request_and_2xx_is_ok(http_server: RecordingServer):
    http_server.statuses = [204]
    act = action(
        http={
            "url": http_server.url + "/admin/restart",
            "method": "POST",
            "body": '{"hard": true}',
            "headers": {"X-Token": "t"},
        }
    )
    outcome = await run_action(act, context=ActionContext(component="app"))
    assert outcome.ok and outcome.exit_code == 204 and outcome.message == "HTTP 204"
    (req,) = http_server.requests
    assert (req.method, req.path, req.body, req.headers["X-Token"]) == (
        "POST",
        "/admin/restart",
        b'{"hard": true}',
        "t",
    )


async def test_http_action_non_2xx_fails_with_the_status_and_body(http_server: RecordingServer):
    http_server.statuses, http_server.body = [503], b"draining"
    outcome = await run_action(action(http={"url": http_server.url + "/x"}), context=ActionContext(component="app"))
    assert not outcome.ok and outcome.exit_code == 503 and outcome.output == "HTTP 503\ndraining"


async def test_http_action_refused_is_an_outcome():
    outcome = await run_action(
        action(http={"url": f"http://127.0.0.1:{closed_port()}/x"}), context=ActionContext(component="app")
    )
    assert not outcome.ok and "ConnectError" in outcome.message


async def test_http_action_that_hangs_fails_at_its_timeout(http_server: RecordingServer):
    http_server.hang = True
    outcome = await run_action(
        action(http={"url": http_server.url + "/x"}, timeout="300ms"), context=ActionContext(component="app")
    )
    assert not outcome.ok and outcome.timed_out and "no answer within 0.3s" in outcome.message
