"""The `log` channel: the escalation as one structured log line at the channel's level (journald picks it up)."""

from __future__ import annotations

import os
from dataclasses import asdict

import structlog

from daemon.config.models import LogChannel
from daemon.engine.notification import Notification

# the name the line has always carried, so filters on it keep working
log = structlog.get_logger("daemon.engine.notify")


async def send(
    channel: LogChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    fields = {k: v for k, v in asdict(message).items() if k != "ts"}  # the log line has its own time
    getattr(log, channel.level)("escalation", text=message.text(), **fields)
    return None
