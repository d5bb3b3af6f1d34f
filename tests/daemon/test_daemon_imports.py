"""A daemon that only checks tcp ports loads none of the optional libraries (issue 11: memory).

Each of these is imported where it is used — the HTTP API and page (aiohttp), metrics
(prometheus_client), fleet mode and migrations (SQLAlchemy, Alembic), webhooks and http actions
(httpx) — so a host that uses none of them does not carry their ~30 MB. The real daemon runs in a
subprocess that prints `sys.modules` when it exits; the test fails whenever an import anywhere on
the daemon's path pulls one of them in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from conftest import NotifyListener
from helpers import wait_until

OPTIONAL = ("aiohttp", "prometheus_client", "sqlalchemy", "alembic", "httpx", "httpcore")

_PROBE = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('MODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.argv = ['healerd'] + sys.argv[1:]\n"
    "runpy.run_module('daemon', run_name='__main__', alter_sys=True)\n"
)


def test_a_tcp_only_daemon_with_an_escalation_imports_no_optional_library(config_dir, listener, tmp_path):
    port = listener().port
    config_dir.settings('[daemon]\nwatch_config = false\n[notify.ops]\nkind = "log"\n')
    config_dir.policy(
        "app.toml",
        f"""
        [[component]]
        name = "app"
        [component.check]
        kind = "tcp"
        host = "127.0.0.1"
        port = {port}
        every = "200ms"
        [[component.recovery]]
        strategy = "escalate"
        notify = ["ops"]
        """,
    )
    db = tmp_path / "healerd.db"
    db.parent.mkdir(exist_ok=True)
    from daemon.store import migrate

    migrate.upgrade(db)  # as `healerd migrate` would have: the daemon itself migrates in a child
    notify = NotifyListener(tmp_path / "notify.sock")
    env = {**os.environ, "NOTIFY_SOCKET": notify.path, "RUNTIME_DIRECTORY": str(tmp_path / "run")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROBE, "run", "--config", str(config_dir.root), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until(lambda: notify.has("READY=1") or proc.poll() is not None, 30)
        import sqlite3

        def checked() -> bool:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute("SELECT count(*) FROM check_results").fetchone()[0] >= 3
            finally:
                conn.close()

        wait_until(lambda: proc.poll() is not None or checked(), 30)
        assert proc.poll() is None, f"the daemon exited early: {proc.communicate()[1][-3000:]}"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        notify.close()
    lines = [line for line in stderr.splitlines() if line.startswith("MODULES ")]
    assert lines, stderr[-2000:]
    modules = set(lines[-1].split()[1:])
    assert "daemon.service.monitor" in modules and "daemon.engine.notify" in modules  # it did run them
    assert sorted(m for m in modules if m.split(".")[0] in OPTIONAL) == []
