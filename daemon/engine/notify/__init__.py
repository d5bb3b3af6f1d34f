"""Deliver an escalation to one channel with retries, never raising; one module per channel kind.

`SENDERS` maps each channel kind the config accepts (the `Channel` union in config/models.py) to its
module's `send`: webhook, run, email, log, apprise, alertmanager. The table is checked against the union
when this package is imported, so a kind the config accepts without a sender (or a sender for a kind
it rejects) stops the daemon at start-up instead of falling through to some other channel.

Each attempt is bounded by the channel's `timeout`; between attempts the wait follows
`policies/backoff.py` (full jitter by default, so many escalations after a shared outage do not hit
the receiver in lockstep); `channel.retries` retries follow the first attempt. The `escalations` rows
(pending before the first attempt, then delivered or failed) are the healer's: service/healer/notify.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from daemon.config.models import Backoff, Channel
from daemon.engine.notification import Notification
from daemon.engine.notify import alertmanager, apprise, email, run, webhook
from daemon.engine.notify import log as log_channel
from daemon.engine.notify.base import DeliveryError, Sender
from daemon.policies.backoff import next_delay

__all__ = ["DEFAULT_BACKOFF", "SENDERS", "DeliveryError", "DeliveryOutcome", "Notification", "deliver"]

#: channel kind → one attempt of it.
SENDERS: dict[str, Sender] = {
    "webhook": webhook.send,
    "run": run.send,
    "email": email.send,
    "log": log_channel.send,
    "apprise": apprise.send,
    "alertmanager": alertmanager.send,
}


def channel_kinds() -> set[str]:
    """The `kind` of every channel model the config accepts."""
    union = typing.get_args(Channel)[0]  # Annotated[Union[...], discriminator]
    return {typing.get_args(model.model_fields["kind"].annotation)[0] for model in typing.get_args(union)}


if set(SENDERS) != channel_kinds():  # pragma: no cover - a development error, caught by any test run
    raise ImportError(
        f"notify senders {sorted(SENDERS)} do not match the config's channel kinds {sorted(channel_kinds())}"
    )

log = structlog.get_logger(__name__)

#: Waits between delivery attempts: 1 s, 2 s, 4 s … capped at 60 s, full jitter.
DEFAULT_BACKOFF = Backoff(initial=timedelta(seconds=1), max=timedelta(seconds=60), multiplier=2.0, jitter="full")
#: On top of the channel timeout for one attempt: a `run` channel's process group gets SIGTERM, a grace,
#: then SIGKILL after its timeout; the attempt's outer bound must leave room for that.
ATTEMPT_GRACE_S = 3.0
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    attempts: int
    #: the last attempt's error (None when delivered cleanly; a note such as refused recipients otherwise).
    error: str | None = None
    duration_ms: float = 0.0


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"


async def _attempt(channel: Channel, message: Notification, cwd: str | os.PathLike[str] | None) -> str | None:
    timeout = channel.timeout.total_seconds()
    try:
        async with asyncio.timeout(timeout + ATTEMPT_GRACE_S):
            return await SENDERS[channel.kind](channel, message, timeout, cwd)
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
        except Exception as exc:
            log.exception("notify.attempt_crashed", kind=channel.kind)
            error = _short(f"{type(exc).__name__}: {exc}")
        else:
            elapsed = (time.monotonic() - started) * 1000.0
            return DeliveryOutcome(True, attempts, _short(note) if note else None, elapsed)
        log.warning(
            "notify.attempt_failed",
            kind=channel.kind,
            component=message.component,
            incident=message.incident,
            attempt=attempts,
            error=error,
        )
        if attempts > channel.retries:
            return DeliveryOutcome(False, attempts, error, (time.monotonic() - started) * 1000.0)
        prev = next_delay(backoff, attempts - 1, prev, rng)
        await sleep(prev)
