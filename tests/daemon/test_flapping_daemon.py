"""A flapping service on the real daemon (issue 10): once flapping is recognised (here after one incident
that ended by itself), one flapping incident lasts through every further flap, takes at most its budget
of actions, and sends exactly one escalation and one "flapping ended" message."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from helpers import wait_until
from test_healer_e2e import component, env, escalate, explain, http_check, incidents, retry, webhook  # noqa: F401

from daemon.cli.main import cli

pytestmark = pytest.mark.slow

FLAPPING = '[component.flapping]\nflaps = 1\nwithin = "1m"\nquiet = "3s"\nactions = 1\n'


def _healthy_yet_scored_down(d) -> float | None:
    import json

    doc = json.loads(CliRunner().invoke(cli, ["status", "--json", "--db", str(d.db)]).output)
    (app,) = [c for c in doc["components"] if c["component"] == "app"]
    score = (doc.get("degradation") or {}).get("score")
    return score if app["status"] == "healthy" and score is not None and score < 100 else None


def test_a_flapping_service_is_one_incident_with_one_escalation_and_one_ended_message(env, webhook):
    app = env.service("app")
    app.start()
    steps = retry(app.argv("restart"), verify="3s") + escalate("hook", repeat="1h") + FLAPPING
    env.write(
        component("app", check=http_check(app), steps=steps),
        f'[notify.hook]\nkind = "webhook"\nurl = "{webhook.url}"\nretries = 0\ngroup_wait = "0s"\n',
    )
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE status = 'healthy'")[0][0] >= 2, timeout=20)

    seen, status = [], ""
    for i in range(5):  # the scenario's pace: 500 for 1.5 s, ok for 2.5 s, five times
        app.set_mode("fail")
        time.sleep(1.5)
        app.set_mode("healthy")
        time.sleep(2.5)
        if i == 3:  # well inside the flapping: the view, `status`, `explain` and the score show it
            seen = d.query("SELECT component, escalated FROM flapping_components")
            status = CliRunner().invoke(cli, ["status", "--db", str(d.db)]).output
            explained = explain(d, "app")
            # in a good phase the last check is healthy, yet a flapping component counts as degraded
            scored = wait_until(
                lambda: _healthy_yet_scored_down(d),
                timeout=2,
                message=lambda: CliRunner().invoke(cli, ["status", "--db", str(d.db)]).output,
            )
    assert seen == [("app", 1)] and "flapping app since" in status, (seen, status, explain(d, "app"))
    assert explained.splitlines()[0].startswith("app: incident ") and " by flapping, " in explained.splitlines()[0]
    assert scored < 100, scored

    def flapping_ended() -> int:
        return d.query(
            "SELECT count(*) FROM escalations e JOIN incidents i ON i.id = e.incident_id "
            "WHERE i.trigger = 'flapping' AND e.kind = 'resolved' AND e.status = 'delivered'"
        )[0][0]

    wait_until(flapping_ended, timeout=30, message=lambda: explain(d, "app"))
    rows = incidents(d, "app")
    (inc,) = [
        i for i in rows if i["id"] in {r[0] for r in d.query("SELECT id FROM incidents WHERE trigger = 'flapping'")}
    ]
    assert inc["status"] == "resolved" and rows[-1]["id"] == inc["id"], rows  # every later flap stayed inside it
    # before it: one incident healed by the retry (not a flap) and one that ended by itself (the flap)
    assert len(rows) == 3, rows
    opens = d.query(
        "SELECT count(*) FROM breaker_transitions WHERE to_state = 'open' AND ts >= ? AND ts <= ?",
        (inc["opened_at"], inc["closed_at"]),
    )[0][0]
    assert opens >= 1, opens  # it flapped on inside the one incident
    actions = d.query("SELECT count(*) FROM recovery_events WHERE incident_id = ?", (inc["id"],))[0][0]
    assert actions <= 1
    kinds = [r[0] for r in d.query("SELECT kind FROM escalations WHERE incident_id = ? ORDER BY id", (inc["id"],))]
    assert kinds == ["initial", "resolved"]
    (initial,) = [m for m in webhook.of_kind("initial") if m["incident"] == inc["id"]]
    (ended,) = [m for m in webhook.of_kind("resolved") if m["incident"] == inc["id"]]
    assert "flapping since" in initial["reason"] and ended["reason"].startswith("flapping ended")
    closing = [
        r[0]
        for r in d.query("SELECT reason FROM decisions WHERE kind = 'close_incident' AND incident_id = ?", (inc["id"],))
    ]
    assert closing and closing[0].startswith("flapping ended: healthy for")
