"""A flapping service on the real daemon (issue 10): one flapping incident through every flap, at most
its budget of actions, exactly one escalation and one "flapping ended" message."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from helpers import wait_until
from daemon.cli.main import cli
from test_healer_e2e import component, env, escalate, explain, http_check, incidents, retry, webhook  # noqa: F401

pytestmark = pytest.mark.slow

FLAPPING = '[component.flapping]\nopens = 2\nwithin = "1m"\nquiet = "3s"\nactions = 1\n'


def test_a_flapping_service_is_one_incident_with_one_escalation_and_one_ended_message(env, webhook):
    app = env.service("app")
    app.start()
    steps = retry(app.argv("restart"), verify="3s") + escalate("hook", repeat="1h") + FLAPPING
    env.write(component("app", check=http_check(app), steps=steps),
              f'[notify.hook]\nkind = "webhook"\nurl = "{webhook.url}"\nretries = 0\ngroup_wait = "0s"\n')
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE status = 'healthy'")[0][0] >= 2, timeout=20)

    seen = []
    for i in range(4):  # the scenario's pace: 500 for 1.5 s, ok for 2.5 s, four times
        app.set_mode("fail")
        time.sleep(1.5)
        app.set_mode("healthy")
        time.sleep(2.5)
        if i == 2:  # well inside the flapping: the view and `healerd status` show it
            seen = d.query("SELECT component, escalated FROM flapping_components")
            status = CliRunner().invoke(cli, ["status", "--db", str(d.db)]).output
    assert seen == [("app", 1)] and "flapping app since" in status, (seen, status)

    wait_until(lambda: webhook.of_kind("resolved"), timeout=30, message=lambda: explain(d, "app"))
    rows = incidents(d, "app")
    flapping = [i for i in rows if i["id"] in {r[0] for r in d.query("SELECT id FROM incidents WHERE trigger = 'flapping'")}]
    assert len(flapping) == 1 and flapping[0]["status"] == "resolved", rows
    assert len(rows) == 2  # the first flap is an ordinary incident; the second is recognised as flapping
    inc = flapping[0]
    opens = d.query("SELECT count(*) FROM breaker_transitions WHERE to_state = 'open' AND ts >= ? AND ts <= ?",
                    (inc["opened_at"], inc["closed_at"]))[0][0]
    assert opens >= 2, opens  # it flapped on inside the one incident
    actions = d.query("SELECT count(*) FROM recovery_events WHERE incident_id = ?", (inc["id"],))[0][0]
    assert actions <= 1
    assert [r[0] for r in d.query("SELECT kind FROM escalations ORDER BY id")] == ["initial", "resolved"]
    (initial,) = webhook.of_kind("initial")
    (ended,) = webhook.of_kind("resolved")
    assert "flapping since" in initial["reason"] and ended["reason"].startswith("flapping ended")
    closing = [r[0] for r in d.query("SELECT reason FROM decisions WHERE kind = 'close_incident' AND incident_id = ?", (inc["id"],))]
    assert closing and closing[0].startswith("flapping ended: healthy for")
