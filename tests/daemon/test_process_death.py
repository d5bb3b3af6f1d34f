"""Process death is an event: recorded when it happens, not at the next check interval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from helpers import wait_until


def test_a_killed_process_is_recorded_within_seconds_though_its_next_check_is_a_minute_away(
    config_dir, start_daemon, tmp_path
):
    pidfile = tmp_path / "svc.pid"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        pidfile.write_text(f"{child.pid}\n")
        config_dir.policy(
            "svc.toml",
            f"""
        [[component]]
        name = "svc"
        pidfile = "{pidfile}"
        [component.check]
        kind = "process"
        every = "60s"
        timeout = "2s"
        """,
        )
        d = start_daemon(config_dir)
        # the first check (staggered within the first 10 s) finds the process and starts watching it
        wait_until(lambda: d.query("SELECT status FROM check_results"), 30)
        assert d.query("SELECT status FROM check_results") == [("healthy",)]

        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        rows = wait_until(
            lambda: d.query("SELECT ts, status, error_class, message FROM check_results WHERE status != 'healthy'"), 10
        )
        ts, status, error_class, message = rows[0]
        assert (status, error_class) == ("unhealthy", "not_running")
        assert "pidfd event" in message
        print(f"kill → recorded result: {(ts - killed_at) * 1000:.1f} ms (information only, not asserted)")
        assert d.stop() == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
