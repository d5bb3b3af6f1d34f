"""The `alertmanager` channel: an escalation becomes an alert POSTed to Alertmanager's /api/v2/alerts.

Alertmanager then does what it is good at — grouping, inhibition, silences, routing to receivers —
and healerd does not reinvent it. One alert per component: its labels (`alertname`, `component`,
`host`, `severity`, plus the channel's own `labels`) are its identity, so the `resolved` message,
which carries the same labels with `endsAt` = now, resolves exactly the alert the initial one fired.

A firing alert gets `endsAt` = now + `lease` (24 h by default). Alertmanager resolves an alert
without `endsAt` after its `resolve_timeout` (5 m by default), because Prometheus re-sends firing
alerts every evaluation; healerd sends once and then reminders, so it states how long the alert holds.
If the daemon dies mid-incident the alert still expires, after the lease, instead of firing forever.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from daemon.config.models import AlertmanagerChannel
from daemon.engine.notification import Notification
from daemon.engine.notify.base import post_json
from daemon.timefmt import iso

ALERTNAME = "HealerdComponentFailing"


def _rfc3339(ts: float) -> str:
    return iso(ts, digits=3)


def alert(channel: AlertmanagerChannel, message, host: str | None = None) -> dict[str, Any]:
    """The one alert (Alertmanager's postableAlert) for a Notification."""
    labels = {
        "alertname": ALERTNAME,
        "component": message.component,
        "host": getattr(message, "host", None) or host or socket.gethostname(),
        "severity": channel.severity,
        **channel.labels,
    }
    annotations = {
        "summary": message.text(),
        "reason": message.reason or "",
        "status": message.status,
        "incident": "" if message.incident is None else str(message.incident),
    }
    if message.error:
        annotations["error"] = message.error
    body: dict[str, Any] = {"labels": labels, "annotations": annotations, "startsAt": _rfc3339(message.ts)}
    if message.kind == "resolved":
        body["endsAt"] = _rfc3339(message.ts)
    else:
        body["endsAt"] = _rfc3339(message.ts + channel.lease.total_seconds())
    if message.link:
        body["generatorURL"] = message.link
    return body


def alerts_url(channel: AlertmanagerChannel) -> str:
    return channel.url.rstrip("/") + "/api/v2/alerts"


async def send(
    channel: AlertmanagerChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    await post_json(alerts_url(channel), [alert(channel, message)], channel.headers, timeout)
    return None
