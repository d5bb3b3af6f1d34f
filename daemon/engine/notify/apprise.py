"""The `apprise` channel: one escalation to any of Apprise's 90+ services (Slack, Teams, Telegram,
PagerDuty, ntfy, Matrix, …) by URL, instead of one hand-written client per service.

Apprise reports failures through its logger, not exceptions, so the attempt captures that log to
turn a `False` into an error message for the `escalations` row. Apprise's own per-request timeouts
(`cto` connect, `rto` read) are set from the channel's `timeout` unless the URL sets them; the
attempt is also bounded from outside (engine/notify/__init__.py), like every other channel.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from daemon.config.models import AppriseChannel
from daemon.engine.notification import Notification
from daemon.engine.notify.base import DeliveryError


def with_timeouts(url: str, timeout: float) -> str:
    """`url` with Apprise's `cto`/`rto` set to `timeout` where the operator did not set them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key in ("cto", "rto"):
        query.setdefault(key, f"{timeout:g}")
    return urlunsplit(parts._replace(query=urlencode(query)))


def title(message) -> str:
    what = {"resolved": "resolved", "reminder": "still failing", "initial": "needs attention"}.get(
        message.kind, message.kind
    )
    return f"healerd: {message.component} {what}"


def _notify(channel: AppriseChannel, message, timeout: float) -> str | None:
    """Runs on a worker thread (Apprise's plugins are blocking); returns an error or None."""
    import logging

    import apprise

    sender = apprise.Apprise()
    for url in channel.urls:
        if not sender.add(with_timeouts(url, timeout)):
            return f"not an Apprise URL Apprise can use: {url.split('://', 1)[0]}://…"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(body=message.text(), title=title(message))
        if ok:
            return None
        lines = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or "Apprise reported a failed delivery"


async def send(
    channel: AppriseChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    error = await asyncio.to_thread(_notify, channel, message, timeout)
    if error is not None:
        raise DeliveryError(error)
    return None
