"""Grouped notifications on the real daemon (issue 10): escalations raised together go out as one
message per channel naming every component; a root cause's escalation names the dependents waiting on
it; resolved messages are still sent."""

from __future__ import annotations

import pytest
from helpers import wait_until
from services_kit import PY, WebhookReceiver
from test_healer_e2e import component, env, escalate, explain, http_check, q, webhook  # noqa: F401

pytestmark = pytest.mark.slow


def channels(*urls: str, group_wait: str = "5s") -> str:
    return "".join(
        f'[notify.hook{i}]\nkind = "webhook"\nurl = "{u}"\nretries = 0\ngroup_wait = "{group_wait}"\n'
        for i, u in enumerate(urls)
    )


def test_five_components_failing_together_make_one_message_per_channel_naming_all_five(env, webhook):
    second = WebhookReceiver()
    try:
        names = [f"svc{i}" for i in range(5)]
        services = [env.service(n) for n in names]
        for s in services:
            s.start()
        env.write(
            "".join(
                component(n, check=http_check(s), steps=escalate("hook0", "hook1")) for n, s in zip(names, services)
            ),
            channels(webhook.url, second.url),
        )
        d = env.start()
        wait_until(
            lambda: (
                d.query("SELECT count(DISTINCT component_id) FROM check_results WHERE status = 'healthy'")[0][0] == 5
            ),
            timeout=20,
        )

        for s in services:
            s.crash()

        wait_until(
            lambda: d.query("SELECT count(*) FROM escalations WHERE status = 'delivered'")[0][0] == 10,
            timeout=30,
            message=lambda: str(d.query("SELECT * FROM escalations")),
        )
        for receiver in (webhook, second):
            (message,) = receiver.of_kind("initial")
            assert sorted(message["component"].split(", ")) == names
            assert message["status"] == "5 escalations for 5 component(s)"
            assert all(f"{n} (incident" in message["text"] for n in names)
        assert d.query("SELECT count(*) FROM escalations WHERE kind = 'initial'")[0][0] == 10  # one row each, kept

        for s in services:
            s.start()
        wait_until(lambda: len(webhook.of_kind("resolved")) >= 1 and len(second.of_kind("resolved")) >= 1, timeout=30)
        wait_until(
            lambda: (
                d.query("SELECT count(*) FROM escalations WHERE kind = 'resolved' AND status = 'delivered'")[0][0] == 10
            ),
            timeout=30,
        )
        resolved = [n for m in webhook.of_kind("resolved") for n in m["component"].split(", ")]
        assert sorted(resolved) == names  # every resolved message reaches the channel, none suppressed
    finally:
        second.close()


def test_a_root_causes_escalation_names_the_dependents_waiting_on_it(env, webhook):
    db = env.service("db")
    db.start()
    failing = (
        f'[[component.recovery]]\nstrategy = "retry"\nattempts = 1\nwithin = "10m"\n'
        f'action = {{ run = {q([PY, "-c", "raise SystemExit(1)"])}, timeout = "10s" }}\n'
    )
    policies = component("db", check=http_check(db), steps=failing + escalate("hook0"))
    for name in ("app", "web"):  # their checks read db's endpoint: they fail with it
        policies += component(name, check=http_check(db), steps=escalate("hook0"), extra='depends_on = ["db"]')
    env.write(policies, channels(webhook.url, group_wait="0s"))
    d = env.start()
    wait_until(
        lambda: d.query("SELECT count(DISTINCT component_id) FROM check_results WHERE status = 'healthy'")[0][0] == 3,
        timeout=20,
    )

    db.crash()

    wait_until(lambda: webhook.of_kind("initial"), timeout=30, message=lambda: explain(d, "db"))
    (message,) = webhook.of_kind("initial")
    assert message["component"] == "db" and "waiting on it: app, web" in message["reason"]
