"""The apprise and alertmanager channels deliver to real local HTTP receivers with the documented fields."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from receivers import Receiver

from daemon.config.models import AlertmanagerChannel, AppriseChannel
from daemon.engine.notification import Notification
from daemon.engine.notify import deliver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _message(kind: str, **extra) -> Notification:
    return Notification(
        component="app",
        incident=42,
        kind=kind,
        status="unhealthy, breaker open",
        reason="breaker opened: 3 consecutive failures",
        error="refused: connection refused",
        link="http://127.0.0.1:9797/incidents/42",
        ts=time.time(),
        **extra,
    )


async def test_apprise_json_url_reaches_a_local_receiver_with_title_and_text(receiver):
    channel = AppriseChannel(kind="apprise", urls=[f"json://127.0.0.1:{receiver.port}/hook"], retries=0, timeout="5s")
    outcome = await deliver(channel, _message("initial"))
    assert outcome.delivered, outcome.error
    [post] = receiver.posts
    assert post["path"].startswith("/hook")
    body = post["body"]
    assert body["title"] == "healerd: app needs attention"
    for needle in ("app", "incident 42", "breaker opened", "refused: connection refused", "/incidents/42"):
        assert needle in body["message"]


async def test_apprise_failure_is_reported_with_apprises_own_reason():
    receiver = Receiver(status=500)
    try:
        channel = AppriseChannel(
            kind="apprise", urls=[f"json://127.0.0.1:{receiver.port}/hook"], retries=1, timeout="5s"
        )
        outcome = await deliver(channel, _message("initial"), sleep=lambda s: _noop())
    finally:
        receiver.close()
    assert not outcome.delivered and outcome.attempts == 2
    assert "500" in outcome.error
    assert len(receiver.posts) == 2


async def _noop():
    return None


def _alerts(receiver):
    assert all(p["path"] == "/api/v2/alerts" for p in receiver.posts)
    return [p["body"] for p in receiver.posts]


async def test_alertmanager_fires_then_resolves_the_same_alert_with_ends_at(receiver):
    channel = AlertmanagerChannel(
        kind="alertmanager", url=f"http://127.0.0.1:{receiver.port}/", retries=0, labels={"team": "ops"}
    )
    fired = await deliver(channel, _message("initial"))
    resolved_msg = _message("resolved")
    resolved = await deliver(channel, resolved_msg)
    assert fired.delivered and resolved.delivered
    [[firing], [closing]] = _alerts(receiver)
    for alert in (firing, closing):
        labels = alert["labels"]
        assert labels["alertname"] == "HealerdComponentFailing"
        assert labels["component"] == "app" and labels["severity"] == "critical" and labels["team"] == "ops"
        assert labels["host"]
        assert alert["annotations"]["incident"] == "42"
        assert alert["generatorURL"] == "http://127.0.0.1:9797/incidents/42"
        datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    assert firing["labels"] == closing["labels"]  # the same alert: Alertmanager resolves what fired
    ends = datetime.fromisoformat(firing["endsAt"].replace("Z", "+00:00")).timestamp()
    assert ends > time.time() + 3600  # held for the lease, not Alertmanager's 5-minute resolve_timeout
    ended = datetime.fromisoformat(closing["endsAt"].replace("Z", "+00:00")).timestamp()
    assert abs(ended - resolved_msg.ts) < 1
    assert "refused: connection refused" in firing["annotations"]["summary"]


async def test_alertmanager_rejection_is_a_failed_delivery_with_the_status():
    receiver = Receiver(status=400)
    try:
        channel = AlertmanagerChannel(kind="alertmanager", url=f"http://127.0.0.1:{receiver.port}", retries=0)
        outcome = await deliver(channel, _message("initial"))
    finally:
        receiver.close()
    assert not outcome.delivered and "HTTP 400" in outcome.error
