"""Issue 10 on the real daemon: what happens *between* incidents.

A service killed again and again is healed each time, the first action of each repeated incident
waiting along the step's backoff curve (first repeat at once), never past the cap; a verified recovery
moves the breaker to half-open at once, so a 30 s `open_for` does not keep a healed service reported
open. Timings are short and every wait is a condition with a deadline.
"""

from __future__ import annotations

import time

import pytest
from helpers import wait_until
from test_healer_e2e import closed_incident, component, env, events, explain, http_check, incidents  # noqa: F401

pytestmark = pytest.mark.slow

SLOW_BREAKER = 'open_for = "30s"\nmax_open_for = "5m"\nhalf_open_successes = 1\n'


def retry_curve(argv: list[str]) -> str:
    import json

    return (
        '[[component.recovery]]\nstrategy = "retry"\nattempts = 20\nwithin = "10m"\nverify_within = "5s"\n'
        f'action = {{ run = {json.dumps(argv)}, timeout = "20s" }}\n'
        'backoff = { initial = "500ms", max = "2s", multiplier = 2.0, jitter = "none" }\n'
    )


def test_a_service_killed_five_times_is_healed_each_time_with_growing_first_action_delays(env):
    app = env.service("app")
    app.start()
    policy = component("app", check=http_check(app), steps=retry_curve(app.argv("start")), failures=1)
    # open_for 30 s: without the half-open-at-once rule every incident would last ≥ 30 s
    policy = policy.replace('open_for = "1s"\nmax_open_for = "1s"\nhalf_open_successes = 1\n', SLOW_BREAKER)
    env.write(policy)
    env.config.settings('[daemon]\ncooldown = "0s"\nfast_every = "100ms"\nshutdown_grace = "2s"\n')
    d = env.start()
    wait_until(lambda: d.query("SELECT count(*) FROM check_results WHERE status = 'healthy'")[0][0] >= 2, timeout=20)

    last_kill = 0.0
    for n in range(1, 6):
        time.sleep(max(0.0, last_kill + 2.0 - time.monotonic()))  # the scenario's pace: kills ≥ 2 s apart
        last_kill = time.monotonic()
        app.crash()
        wait_until(
            lambda: sum(i["status"] == "resolved" for i in incidents(d, "app")) >= n,
            timeout=30,
            message=lambda: explain(d, "app"),
        )

    rows = incidents(d, "app")
    assert [i["status"] for i in rows] == ["resolved"] * 5
    starts = {}
    for r in d.query("SELECT incident_id, min(started_at) FROM recovery_events GROUP BY incident_id"):
        starts[r[0]] = r[1]
    delays = [starts[i["id"]] - i["opened_at"] for i in rows]
    expected = [0.0, 0.0, 0.5, 1.0, 2.0]  # first repeat at once, then 500ms · 2^k, capped by the step's 2s
    for got, want in zip(delays, expected):
        assert want <= got <= want + 1.5, (delays, expected)
    assert all(e["status"] == "succeeded" for e in events(d, "app")) and len(events(d, "app")) == 5
    # each incident closed long before the 30 s open period: half-open at once after the verified recovery
    assert all(i["closed_at"] - i["opened_at"] < 15 for i in rows), rows
    reasons = [r[0] for r in d.query("SELECT reason FROM breaker_transitions WHERE to_state = 'half_open'")]
    assert len(reasons) == 5 and all(r.startswith("verified recovery: retry (step 1)") for r in reasons), reasons
    opens = [r[0] for r in d.query("SELECT open_until - ts FROM breaker_transitions WHERE to_state = 'open'")]
    assert all(abs(p - 30) < 0.01 for p in opens), opens  # no doubling across incidents
    waits = [
        r[0] for r in d.query("SELECT reason FROM decisions WHERE kind = 'wait' AND reason LIKE '%restart backoff%'")
    ]
    assert any("incident 5 in a row" in w and "waits 2s" in w for w in waits), waits
    assert "restart backoff: incident 5 in a row" in explain(d, "app")  # explain shows why the action waited
