"""What every channel kind shares: the failure type, the JSON POST, and the sender's signature.

A sender performs one attempt and raises `DeliveryError` with the sentence `escalations.error` shows;
it may return a note for a delivery that went through with a remark (refused recipients). Timeouts and
retries are the caller's (`daemon.engine.notify.deliver`), the same for every kind.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from daemon.engine.notification import Notification

#: one attempt: (channel, message, timeout seconds, working directory) → note or None; DeliveryError on failure
Sender = Callable[[Any, Notification, float, "str | os.PathLike[str] | None"], Awaitable["str | None"]]


class DeliveryError(Exception):
    """One attempt failed; the message is what `escalations.error` shows."""


async def post_json(url: str, body: Any, headers: dict[str, str], timeout: float) -> None:
    """POST JSON; anything but a 2xx answer within `timeout` is a DeliveryError naming it."""
    import httpx  # here, not at the top: a daemon with no webhook channel never loads it (~10 MB, issue 11)

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
