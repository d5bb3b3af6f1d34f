"""Stock Nagios plugins as exec checks in a real daemon, configured the way a new operator writes them.

The plugin is the real `check_disk` from Debian's `monitoring-plugins` when it is installed, else a
small script that prints what it prints (a WARNING status line with perfdata after `|`, exit 1).
`check_disk -w 100%` warns whenever any space is used, so the real plugin's verdict is certain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import wait_until

NAGIOS_PLUGINS = Path("/usr/lib/nagios/plugins")


def disk_warning_plugin(tmp_path: Path) -> list[str]:
    real = NAGIOS_PLUGINS / "check_disk"
    if os.access(real, os.X_OK):
        return [str(real), "-w", "100%", "-c", "0%", "-p", "/"]
    script = tmp_path / "check_disk"
    script.write_text(
        "#!/bin/sh\n"
        "echo 'DISK WARNING - free space: / 80035MiB (77% inode=97%);| /=25020071936B;0;270552530944;0;270552530944'\n"
        "exit 1\n"
    )
    script.chmod(0o755)
    return [str(script)]


def plugin_policy(argv: list[str], extra: str = "") -> str:
    # Only `every`, no `timeout`: the default timeout must not break the "timeout ≤ every" rule.
    return f"""
    [[component]]
    name = "disk"
    [component.check]
    kind = "exec"
    run = {json.dumps(argv)}
    every = "1s"
    {extra}
    """


def healerd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60)


def test_a_check_with_only_every_1s_passes_check_and_runs_every_second(config_dir, start_daemon, tmp_path):
    config_dir.policy("disk.toml", plugin_policy(disk_warning_plugin(tmp_path)))
    checked = healerd("check", "--config", str(config_dir.root))
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    daemon = start_daemon(config_dir)
    # runs, and at its 1 s cadence: three results span about two seconds
    rows = wait_until(
        lambda: (
            daemon.query(
                "SELECT r.ts FROM check_results r JOIN components c ON c.id = r.component_id WHERE c.name = 'disk' ORDER BY r.ts"
            )[:3]
            if len(daemon.query("SELECT 1 FROM check_results")) >= 3
            else None
        ),
        30,
        message=lambda: daemon.log.read_text()[-2000:],
    )
    assert 0.5 < rows[2][0] - rows[1][0] < 5
    spec = daemon.query("SELECT spec FROM components WHERE name = 'disk'")[0][0]
    assert json.loads(spec)["check"]["timeout"] == "1s"  # min(5s, every)


def test_a_plugin_warning_shows_its_text_and_perfdata_in_status(config_dir, start_daemon, tmp_path):
    config_dir.policy("disk.toml", plugin_policy(disk_warning_plugin(tmp_path), 'timeout = "1s"'))
    daemon = start_daemon(config_dir)
    wait_until(
        lambda: daemon.query("SELECT 1 FROM check_results WHERE status = 'degraded'"),
        30,
        message=lambda: daemon.log.read_text()[-2000:],
    )
    assert daemon.stop() == 0  # so the JSON and the text below show the same last result (health may
    # turn "unknown" as it ages past 3 intervals; the detail is the last result's either way)
    status = healerd("status", "--db", str(daemon.db), "--json")
    assert status.returncode == 0, status.stderr
    (disk,) = json.loads(status.stdout)["components"]
    assert disk["last_status"] == "degraded" and disk["error_class"] is None
    assert disk["message"].startswith("DISK WARNING - free space: /")
    assert "|" not in disk["message"]  # the perfdata is kept apart ...
    assert disk["perfdata"].startswith("/=") and "B;" in disk["perfdata"]  # ... and kept whole
    text = healerd("status", "--db", str(daemon.db))
    assert text.returncode == 0, text.stderr
    disk_line = next(line for line in text.stdout.splitlines() if line.startswith("disk "))
    assert disk["message"] in disk_line  # the detail column, as a CRITICAL's would be
    perf_line = [line for line in text.stdout.splitlines() if disk["perfdata"] in line]
    assert perf_line and perf_line[0].startswith("disk")
