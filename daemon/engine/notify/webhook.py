"""The `webhook` channel: the notification's fields as JSON (with a Slack-compatible `text`) POSTed to a URL."""

from __future__ import annotations

import os

from daemon.config.models import WebhookChannel
from daemon.engine.notification import Notification
from daemon.engine.notify.base import post_json


async def send(
    channel: WebhookChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    await post_json(channel.url, message.fields(), channel.headers, timeout)
    return None
