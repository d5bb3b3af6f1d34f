"""Maintenance windows and silences on the real daemon (issue 10): checks keep running and are recorded,
no action and no escalation happens, breaker transitions say why, availability leaves the time out; a
silence cleared by the operator ends at once (recorded in operator_commands) and healing resumes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from helpers import wait_until
from test_healer_e2e import closed_incident, component, env, escalate, events, explain, http_check, retry, webhook  # noqa: F401

from daemon.cli.main import cli

pytestmark = pytest.mark.slow


def hook_settings(url: str) -> str:
    return f'[notify.ops]\nkind = "webhook"\nurl = "{url}"\nretries = 0\n'


def test_a_maintenance_window_means_no_actions_and_no_escalations_while_checks_are_recorded(env, webhook):
    app = env.service("app")
    app.start()
    steps = retry(app.argv("start")) + escalate("ops")
    env.write(
        component("app", check=http_check(app), steps=steps),
        hook_settings(webhook.url)
        # fires every minute and lasts 10: always in force while the test runs
        + '\n[[maintenance]]\nname = "patching"\ncron = "* * * * *"\nduration = "10m"\n'
        'components = ["app"]\nreason = "kernel update"\n',
    )
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM maintenance_periods")[0][0] == 1, timeout=20)

    app.crash()

    def opened_and_checked() -> bool:
        reasons = [r[0] for r in d.query("SELECT reason FROM breaker_transitions WHERE to_state = 'open'")]
        failed = d.query("SELECT count(*) FROM check_results WHERE status != 'healthy' AND maintenance = 1")[0][0]
        return bool(reasons) and failed >= 5

    wait_until(opened_and_checked, timeout=30, message=lambda: explain(d, "app"))
    waits = [r[0] for r in d.query("SELECT reason FROM decisions WHERE kind = 'wait'")]
    assert any(
        "maintenance window patching (app): kernel update" in w and "no action, no escalation" in w for w in waits
    )
    assert events(d, "app") == []
    assert d.query("SELECT count(*) FROM escalations")[0][0] == 0 and webhook.messages == []
    assert d.query("SELECT count(*) FROM incidents")[0][0] == 0
    (reason,) = d.query("SELECT reason FROM breaker_transitions WHERE to_state = 'open'")[0]
    assert "(during maintenance: maintenance window patching (app): kernel update" in reason
    # the cron fires every minute, so a run that crosses a minute boundary records a second,
    # overlapping occurrence: each one is its own row, all of them in force
    rows = d.query("SELECT component, kind, name, reason, active FROM maintenance_windows")
    assert rows and set(rows) == {("app", "window", "patching", "kernel update", 1)}

    # every result since the window started is left out of availability (the rollups the view reads
    # count results every 10 s, so the view catches up with the raw results within that)
    def left_out() -> bool:
        total, maint = d.query("SELECT checks, maintenance_checks FROM component_availability_24h")[0]
        outside = d.query("SELECT count(*) FROM check_results WHERE maintenance = 0")[0][0]
        return maint >= 5 and total - maint == outside

    wait_until(left_out, timeout=30)
    assert "no action, no escalation" in explain(d, "app")


def test_a_silence_holds_healing_until_the_operator_clears_it(env):
    app = env.service("app")
    app.start()
    env.write(component("app", check=http_check(app), steps=retry(app.argv("start"))))
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE status = 'healthy'")[0][0] >= 2, timeout=20)
    runner = CliRunner()
    out = runner.invoke(cli, ["silence", "app", "--for", "2h", "--reason", "disk swap", "--db", str(d.db)])
    assert out.exit_code == 0 and "applied: silence 1: app silenced for 2h (disk swap)" in out.output, out.output

    app.crash()

    wait_until(
        lambda: d.query("SELECT count(*) FROM decisions WHERE reason LIKE 'silenced (app): disk swap%'")[0][0] >= 1,
        timeout=30,
        message=lambda: explain(d, "app"),
    )
    assert events(d, "app") == []

    out = runner.invoke(cli, ["silence", "clear", "app", "--db", str(d.db)])
    assert out.exit_code == 0 and "1 silence(s) on app cleared" in out.output, out.output

    wait_until(closed_incident(d, "app"), timeout=30, message=lambda: explain(d, "app"))
    assert [e["status"] for e in events(d, "app")] == ["succeeded"]
    commands = d.query("SELECT command, target, status FROM operator_commands ORDER BY id")
    assert commands == [("silence", "app", "applied"), ("silence_clear", "app", "applied")]
    (cleared_early,) = d.query("SELECT cleared_early FROM maintenance_windows")[0]
    assert cleared_early == 1
