"""The `email` channel: one plain-text message over SMTP, sent with smtplib on a worker thread.

smtplib rather than a new async dependency: a message per incident is rare, a thread is cheap, and
every socket operation has the channel's timeout, so the thread cannot hang (the caller also bounds the
whole attempt). STARTTLS verifies the server's certificate with the system's trust store: a relay that
cannot be verified is a failed delivery, not a silent downgrade. The password comes from
`password_file` (never from the config itself), read at send time so a rotated secret needs no reload.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from daemon.config.models import EmailChannel
from daemon.engine.notification import Notification
from daemon.engine.notify.base import DeliveryError


class EmailError(Exception):
    """A delivery failure with a sentence for `escalations.error`."""


def build_message(channel: EmailChannel, fields: dict[str, Any], text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = f"{channel.subject_prefix} {text}".strip()[:200]
    msg["Date"] = formatdate(fields["ts"], usegmt=True)
    msg["Message-ID"] = make_msgid(domain="healerd")
    lines = [text, ""]
    for key in (
        "host",
        "component",
        "incident",
        "kind",
        "status",
        "reason",
        "error",
        "last_action",
        "link",
        "timestamp",
    ):
        if fields.get(key) not in (None, ""):
            lines.append(f"{key}: {fields[key]}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def read_password(channel: EmailChannel) -> str | None:
    if channel.password_file is None:
        return None
    try:
        with open(channel.password_file, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    except OSError as exc:
        raise EmailError(f"cannot read password_file {channel.password_file}: {exc.strerror or exc}") from None


def send_email(channel: EmailChannel, fields: dict[str, Any], text: str, timeout: float) -> str | None:
    """Blocking: connect, optionally STARTTLS and log in, send. Raises EmailError.

    Returns a note when some (not all) recipients were refused: the message was delivered to the
    others, and sending it again would only duplicate it for them.
    """
    msg = build_message(channel, fields, text)
    where = f"SMTP {channel.host}:{channel.port}"
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if channel.username is not None:
                password = read_password(channel)
                if password is None:
                    raise EmailError("username is set but no password_file")
                smtp.login(channel.username, password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPException as exc:
        raise EmailError(f"{where}: {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # refused, unreachable, timed out, TLS failures (ssl.SSLError is an OSError)
        raise EmailError(f"{where}: {exc.strerror or exc or type(exc).__name__}") from None
    if refused:
        return f"recipients refused: {', '.join(sorted(refused))}"
    return None


async def send(
    channel: EmailChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None
) -> str | None:
    try:
        return await asyncio.to_thread(send_email, channel, message.fields(), message.text(), timeout)
    except EmailError as exc:
        raise DeliveryError(str(exc)) from None
