"""Deliver an escalation to one channel — webhook, run, email or log — with retries, never raising.

One `Notification` carries the same fields to every kind of channel: the webhook's JSON body (plus a
Slack-compatible one-line `text`), the `run` channel's HEALERD_* environment, the email's body, the log
event's keys. Each attempt is bounded by the channel's `timeout`; between attempts the wait follows
`policies/backoff.py` (full jitter by default, so many escalations after a shared outage do not hit
the receiver in lockstep); `channel.retries` retries follow the first attempt.

`send_escalation` adds the record: the `escalations` row is written `pending` before the first attempt
(intent before act) and finished as `delivered` or `failed` with the attempt count and last error.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from daemon.config.models import (
    AlertmanagerChannel,
    AppriseChannel,
    Backoff,
    Channel,
    EmailChannel,
    LogChannel,
    RunChannel,
    WebhookChannel,
)
from daemon.engine import notify_alertmanager, notify_apprise
from daemon.engine.actions import combine_output
from daemon.engine.notify_email import EmailError, send_email
from daemon.engine.proc import run_argv
from daemon.policies.backoff import next_delay
from daemon.store import escalations_sql as sql
from daemon.store.oneshot import DbCall

log = structlog.get_logger(__name__)

#: Waits between delivery attempts: 1 s, 2 s, 4 s … capped at 60 s, full jitter.
DEFAULT_BACKOFF = Backoff(initial=timedelta(seconds=1), max=timedelta(seconds=60), multiplier=2.0, jitter="full")
#: On top of the channel timeout for one attempt: a `run` channel's process group gets SIGTERM, a grace,
#: then SIGKILL after its timeout; the attempt's outer bound must leave room for that.
ATTEMPT_GRACE_S = 3.0
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class Notification:
    component: str
    incident: int | str | None
    kind: str  # initial | reminder | resolved
    status: str
    reason: str
    error: str | None = None
    link: str | None = None
    ts: float = field(default_factory=time.time)
    #: which machine is sick: one receiver usually hears from many hosts' healerd.
    host: str = field(default_factory=socket.gethostname)
    #: the last failed recovery step and the end of its output (why "exit 1"), when there is one.
    last_action: str | None = None

    @property
    def timestamp(self) -> str:
        return datetime.fromtimestamp(self.ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def text(self) -> str:
        """One line for chat (Slack's `text`), email subjects and logs."""
        what = {"resolved": "resolved", "reminder": "still failing", "initial": "needs attention"}.get(self.kind, self.kind)
        incident = f" (incident {self.incident})" if self.incident is not None else ""
        line = f"healerd@{self.host}: {self.component} {what}{incident}: {self.status}"
        if self.reason:
            line += f" — {self.reason}"
        if self.error and self.kind != "resolved":
            line += f"; last error: {self.error}"
        if self.last_action and self.kind != "resolved":
            line += f"; last action: {self.last_action}"
        if self.link:
            line += f" {self.link}"
        return " ".join(line.split())

    def fields(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": self.timestamp, "text": self.text()}

    def environment(self) -> dict[str, str]:
        values = {
            "HEALERD_COMPONENT": self.component,
            "HEALERD_INCIDENT": "" if self.incident is None else str(self.incident),
            "HEALERD_KIND": self.kind,
            "HEALERD_HOST": self.host,
            "HEALERD_LAST_ACTION": self.last_action or "",
            "HEALERD_STATUS": self.status,
            "HEALERD_REASON": self.reason,
            "HEALERD_ERROR": self.error or "",
            "HEALERD_LINK": self.link or "",
            "HEALERD_TIMESTAMP": self.timestamp,
            "HEALERD_TEXT": self.text(),
        }
        return values


def incident_link(base: str | None, incident: int | str | None) -> str | None:
    """`daemon.incident_url` + the incident id: `{incident}` in the base is replaced, else appended."""
    if not base or incident is None:
        return None
    if "{incident}" in base:
        return base.replace("{incident}", str(incident))
    return base + str(incident) if base.endswith(("/", "=")) else f"{base}/{incident}"


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    attempts: int
    #: the last attempt's error (None when delivered cleanly; a note such as refused recipients otherwise).
    error: str | None = None
    duration_ms: float = 0.0


class DeliveryError(Exception):
    """One attempt failed; the message is what `escalations.error` shows."""


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


async def _post(url: str, body: Any, headers: dict[str, str], timeout: float) -> None:
    """POST JSON; anything but a 2xx answer within `timeout` is a DeliveryError naming it."""
    headers = {"User-Agent": "healerd", **headers}
    try:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=timeout) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"POST {url}: no answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"POST {url}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"POST {url}: HTTP {response.status_code} {response.text[:200]}".rstrip())


async def _webhook(channel: WebhookChannel, message: Notification, timeout: float) -> str | None:
    await _post(channel.url, message.fields(), channel.headers, timeout)
    return None


async def _run(channel: RunChannel, message: Notification, timeout: float, cwd: str | os.PathLike[str] | None) -> str | None:
    env = {**os.environ, **message.environment()}
    try:
        result = await run_argv(channel.run, timeout=timeout, env=env, cwd=cwd, output_limit=8192)
    except OSError as exc:
        raise DeliveryError(f"cannot run {channel.run[0]}: {exc.strerror or exc}") from None
    if result.timed_out:
        raise DeliveryError(f"{channel.run[0]}: timed out after {timeout:g}s; process group killed")
    if result.exit_code != 0:
        output = combine_output(result.stdout_tail, result.stderr_tail)
        raise DeliveryError(f"{channel.run[0]}: exit {result.exit_code}" + (f": {output}" if output else ""))
    return None


async def _email(channel: EmailChannel, message: Notification, timeout: float) -> str | None:
    try:
        return await asyncio.to_thread(send_email, channel, message.fields(), message.text(), timeout)
    except EmailError as exc:
        raise DeliveryError(str(exc)) from None


def _log(channel: LogChannel, message: Notification) -> None:
    fields = {k: v for k, v in asdict(message).items() if k != "ts"}  # the log line has its own time
    getattr(log, channel.level)("escalation", text=message.text(), **fields)


async def _attempt(channel: Channel, message: Notification, cwd: str | os.PathLike[str] | None) -> str | None:
    timeout = channel.timeout.total_seconds()
    try:
        async with asyncio.timeout(timeout + ATTEMPT_GRACE_S):
            if isinstance(channel, WebhookChannel):
                return await _webhook(channel, message, timeout)
            if isinstance(channel, RunChannel):
                return await _run(channel, message, timeout, cwd)
            if isinstance(channel, EmailChannel):
                return await _email(channel, message, timeout)
            if isinstance(channel, AlertmanagerChannel):
                alerts = [notify_alertmanager.alert(channel, message)]
                await _post(notify_alertmanager.alerts_url(channel), alerts, channel.headers, timeout)
                return None
            if isinstance(channel, AppriseChannel):
                await notify_apprise.send(channel, message, timeout, DeliveryError)
                return None
            _log(channel, message)
            return None
    except TimeoutError:
        raise DeliveryError(f"no delivery within {timeout:g}s") from None


async def deliver(
    channel: Channel,
    message: Notification,
    *,
    cwd: str | os.PathLike[str] | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> DeliveryOutcome:
    """Up to 1 + `channel.retries` attempts; never raises except CancelledError.

    `cwd` is where a `run` channel's program runs (the config directory, like actions).
    """
    rng = rng or random.Random()
    started = time.monotonic()
    attempts, prev, error = 0, None, None
    while True:
        attempts += 1
        try:
            note = await _attempt(channel, message, cwd)
        except DeliveryError as exc:
            error = _short(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the healer
            log.exception("notify.attempt_crashed", kind=channel.kind)
            error = _short(f"{type(exc).__name__}: {exc}")
        else:
            elapsed = (time.monotonic() - started) * 1000.0
            return DeliveryOutcome(True, attempts, _short(note) if note else None, elapsed)
        log.warning("notify.attempt_failed", kind=channel.kind, component=message.component, incident=message.incident, attempt=attempts, error=error)
        if attempts > channel.retries:
            return DeliveryOutcome(False, attempts, error, (time.monotonic() - started) * 1000.0)
        prev = next_delay(backoff, attempts - 1, prev, rng)
        await sleep(prev)


@dataclass(frozen=True)
class EscalationResult:
    escalation_id: int
    #: None when nothing was sent: this once-per-incident message had already been delivered.
    outcome: DeliveryOutcome | None

    @property
    def delivered(self) -> bool:
        return self.outcome is None or self.outcome.delivered


async def send_escalation(
    channel_name: str,
    channel: Channel,
    message: Notification,
    *,
    db: DbCall,
    now: Callable[[], float] = time.time,
    **deliver_options: Any,
) -> EscalationResult:
    """Record the escalation `pending`, deliver it, record the outcome. `message.incident` must be set.

    `db` runs `fn(conn)` in a write transaction (`Writer.submit`, or `store.oneshot.runner(path)`).
    """
    if message.incident is None:
        raise ValueError("an escalation belongs to an incident")
    incident_id = int(message.incident)
    row = await db(lambda conn: sql.open_escalation(conn, incident_id, channel_name, message.kind, now()))
    if row["status"] == "delivered":
        return EscalationResult(row["id"], None)
    outcome = await deliver(channel, message, **deliver_options)
    await db(
        lambda conn: sql.finish_escalation(
            conn, row["id"], delivered=outcome.delivered, attempts=outcome.attempts, error=outcome.error, now=now()
        )
    )
    return EscalationResult(row["id"], outcome)
