"""Process-level faults through engine/actions.py: real processes, outcomes instead of exceptions."""

from __future__ import annotations

import subprocess
import sys
import time

from chaos_kit import experiment

from daemon.config.models import Component, KillFault
from daemon.service.chaos import faults as chaos_faults


def component(pidfile: str | None) -> Component:
    return Component.model_validate(
        {"name": "app", "pidfile": pidfile, "check": {"kind": "tcp", "port": 1, "every": "1s", "timeout": "500ms"}}
    )


async def test_kill_signals_the_process_named_by_the_pidfile(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        pidfile = tmp_path / "app.pid"
        pidfile.write_text(f"{proc.pid}\n")
        act = await chaos_faults.inject(
            experiment(), component(str(pidfile)), run_id=1, monitor=None, cwd=None, wall=time.time
        )
        assert act.ok and act.extra["pids"] == [proc.pid] and proc.wait(10) == -9
        assert act.data()["activity"]["provider"] == {
            "type": "python",
            "module": "healerd",
            "func": "signal",
            "arguments": {"signal": "KILL"},
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_kill_without_a_way_to_find_the_process_is_a_failed_injection_not_an_exception():
    act = await chaos_faults.inject(experiment(), component(None), run_id=1, monitor=None, cwd=None, wall=time.time)
    assert not act.ok and "no pidfile and no process match" in act.message


async def test_an_unknown_signal_that_got_past_the_config_is_a_failed_injection_with_the_reason(tmp_path):
    # the config loader refuses it (tests/config/test_experiment_validation.py); this is the last line
    # of defence for a model built some other way
    bad = KillFault.model_construct(kind="kill", signal="BOGUS")
    act = await chaos_faults.inject(
        experiment().model_copy(update={"fault": bad}),
        component("x.pid"),
        run_id=1,
        monitor=None,
        cwd=None,
        wall=time.time,
    )
    assert not act.ok and act.message.startswith("invalid fault: Value error, unknown signal 'BOGUS'")


async def test_a_run_fault_runs_its_argv_and_its_revert_in_the_config_directory(tmp_path):
    run = [sys.executable, "-c", "open('fault', 'w').write('on')"]
    revert = [sys.executable, "-c", "import os; os.remove('fault')"]
    exp = experiment(fault={"kind": "run", "run": run, "revert": revert})
    act = await chaos_faults.inject(exp, component(None), run_id=1, monitor=None, cwd=str(tmp_path), wall=time.time)
    assert act.ok and (tmp_path / "fault").read_text() == "on" and act.extra["exit_code"] == 0
    back = await chaos_faults.revert(exp, component(None), monitor=None, cwd=str(tmp_path), wall=time.time)
    assert back.ok and not (tmp_path / "fault").exists()


async def test_a_failing_stop_command_is_a_failed_injection_with_its_exit_code(tmp_path):
    exp = experiment(fault={"kind": "stop", "run": [sys.executable, "-c", "import sys; sys.exit(3)"]})
    act = await chaos_faults.inject(exp, component(None), run_id=1, monitor=None, cwd=str(tmp_path), wall=time.time)
    assert (act.ok, act.message, act.extra["exit_code"]) == (False, "exit 3", 3)
    assert await chaos_faults.revert(exp, component(None), monitor=None, cwd=None, wall=time.time) is None
