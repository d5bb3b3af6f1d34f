"""What one check kind returns to `run_check`, and the few helpers every kind shares.

A kind only says *what it saw* (status, message, error class); `run_check` owns everything common —
the timeout, the latency, `degraded_over`, turning exceptions into `unknown`, the timestamp — so no
kind can forget one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from daemon.clock import Clock
from daemon.config.models import Component
from daemon.types import ERROR_CLASSES, Status

MESSAGE_LIMIT = 200
#: Perfdata is figures for a grapher, longer than a message (check_disk prints one set per mount).
PERFDATA_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    """`error_class` is None for healthy and degraded outcomes, one of ERROR_CLASSES otherwise."""

    status: Status
    message: str
    error_class: str | None = None
    #: a Nagios plugin's performance data; None for every other kind.
    perfdata: str | None = None

    def __post_init__(self) -> None:
        if self.error_class is not None and self.error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {self.error_class!r}")


@dataclass(frozen=True, slots=True)
class CheckContext:
    clock: Clock
    #: shared HTTP client (connection reuse across checks): an http_wire.HttpPool (or a caller's own
    #: httpx.AsyncClient); None ⇒ the http check makes its own.
    client: Any = None
    #: where argv from the config runs: the config directory, so relative paths mean the same
    #: thing in a terminal and under systemd.
    cwd: str | None = None


CheckFn = Callable[[Component, CheckContext], Coroutine[Any, Any, Outcome]]


def healthy(message: str) -> Outcome:
    return Outcome(Status.HEALTHY, message)


def degraded(message: str) -> Outcome:
    return Outcome(Status.DEGRADED, message)


def unhealthy(error_class: str, message: str) -> Outcome:
    return Outcome(Status.UNHEALTHY, message, error_class)


def short(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One line, at most `limit` characters: messages land in a table and in notifications.

    A message that is already one line of single spaces is returned as it is, the same object: no
    whitespace but the space is printable, so `isprintable()` and no double, leading or trailing space
    is exactly "split/join would change nothing". Every check result goes through here, and 10,000
    components kept 10,000 copies of the same few messages."""
    if (
        text.__class__ is str
        and len(text) <= limit
        and text.isprintable()
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
    ):
        return text
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
