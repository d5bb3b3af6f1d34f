"""Why an action failed is shown where an operator looks: `explain`, the log line and the escalation.

They used to say `exit 1`; the stderr was only in recovery_events.output. A config file the running
daemon rejected (it keeps the last good version) shows in `healerd status`.
"""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import wait_until

FAIL = "import sys; print('restarting app'); sys.stderr.write('OSError: [Errno 28] No space left on device: /var/app\\n'); sys.exit(1)"
DUMP = "import json, os, sys; json.dump({k: v for k, v in os.environ.items() if k.startswith('HEALERD_')}, open(sys.argv[1], 'w'))"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], capture_output=True, text=True, timeout=60)


def test_the_end_of_a_failed_actions_output_reaches_explain_the_log_and_the_escalation(
    config_dir, start_daemon, tmp_path
):
    sent = tmp_path / "escalation.json"
    config_dir.settings(f"""
    [notify.pager]
    kind = "run"
    run = ["{sys.executable}", "-c", "{DUMP}", "{sent}"]
    timeout = "10s"
    """)
    config_dir.policy(
        "app.toml",
        f"""
    [[component]]
    name = "app"
    [component.check]
    kind = "file"
    path = "{tmp_path / "never.flag"}"
    every = "200ms"
    timeout = "150ms"
    [component.breaker]
    consecutive_failures = 2
    open_for = "60s"
    [[component.recovery]]
    strategy = "retry"
    action = {{ run = ["{sys.executable}", "-c", "{FAIL}"], timeout = "10s" }}
    attempts = 1
    within = "10m"
    verify_within = "1s"
    [[component.recovery]]
    strategy = "escalate"
    notify = ["pager"]
    """,
    )
    d = start_daemon(config_dir)
    wait_until(sent.exists, 60, message=lambda: d.log.read_text()[-3000:])
    env = json.loads(sent.read_text())
    assert "No space left on device: /var/app" in env["HEALERD_LAST_ACTION"]
    assert "exit 1" in env["HEALERD_LAST_ACTION"] and "No space left on device" in env["HEALERD_TEXT"]
    assert env["HEALERD_HOST"]

    explained = _cli("explain", "app", "--db", str(d.db))
    assert explained.returncode == 0, explained.stderr
    assert "exit 1" in explained.stdout and "OSError: [Errno 28] No space left on device: /var/app" in explained.stdout

    finished = [
        json.loads(ln)
        for ln in d.log.read_text().splitlines()
        if ln.startswith("{") and '"recovery step finished"' in ln
    ]
    assert finished and "No space left on device" in finished[0]["output"] and finished[0]["exit_code"] == 1

    # a file the running daemon rejects is listed by status until it is fixed
    config_dir.policy(
        "zz-bad.toml", '[[component]]\nname = "b"\n[component.check]\nkind = "tcp"\nport = 1\ntimout = "1s"\n'
    )

    def rejected() -> str:
        return _cli("status", "--db", str(d.db)).stdout

    wait_until(lambda: "REJECTED" in rejected(), 30, message=lambda: d.log.read_text()[-2000:])
    line = next(ln for ln in rejected().splitlines() if "REJECTED" in ln)
    assert "zz-bad.toml" in line and "timout" in line
