"""The few typed things a service is handed instead of the whole runtime.

A service that takes the runtime can reach anything, so what it really depends on is written nowhere,
and testing it means building half of `Runtime.start()`. Each service here receives only what it uses:
the database as `Store` (the single writer's `submit`, read-only `read`), the configuration as a getter
(it changes on reload, so it is read each time, never kept), the clock, and small protocols for the
other services it talks to. The runtime builds them (service/runtime.py); a test can build them by hand.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from daemon.clock import Clock
from daemon.config.models import HealerdConfig

if TYPE_CHECKING:
    from daemon.scheduling.scheduler import CheckScheduler
    from daemon.service.commands import CommandProcessor
    from daemon.service.degradation.service import DegradationService
    from daemon.service.fleet import FleetShipper
    from daemon.service.monitor import Monitor
    from daemon.store.writer import Writer

T = TypeVar("T")

#: the configuration as it is now (a reload replaces it)
ConfigGetter = Callable[[], HealerdConfig]
#: an operator command handler: cmd row → (status, outcome)
CommandHandler = Callable[[dict[str, Any]], Any]


class Read(Protocol):
    """`fn(conn, *args)` on a fresh read-only connection; blocking: run it with asyncio.to_thread."""

    def __call__(self, fn: Callable[..., T], /, *args: Any) -> T: ...


class Submit(Protocol):
    """`fn(conn)` in the single writer's next transaction; the future resolves after COMMIT."""

    def __call__(self, fn: Callable[[sqlite3.Connection], Any], /) -> asyncio.Future[Any]: ...


class SubmitThreadsafe(Protocol):
    """`Submit` for code on another thread: a concurrent.futures.Future, `.result(timeout)` to wait."""

    def __call__(self, fn: Callable[[sqlite3.Connection], Any], /) -> concurrent.futures.Future[Any]: ...


@dataclass(frozen=True)
class Store:
    """The database as the services use it: one writer, read-only readers, and where the file is."""

    submit: Submit
    read: Read
    db_path: str


class Cadence(Protocol):
    """The scheduler as the healer sees it: check a component now, or on the fast cadence."""

    def run_soon(self, name: str) -> None: ...

    def set_fast(self, name: str, fast: bool) -> None: ...


class DaemonView(Protocol):
    """The running daemon as its observers read it (the HTTP service, /metrics): they report on every
    part, so they get this read-only view of them rather than the runtime's methods and setters."""

    @property
    def config(self) -> HealerdConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def monitor(self) -> Monitor | None: ...

    @property
    def degradation(self) -> DegradationService | None: ...

    @property
    def writer(self) -> Writer: ...

    @property
    def fleet(self) -> FleetShipper | None: ...

    def run_statistics(self) -> dict[str, Any]: ...


class ChaosHost(DaemonView, Protocol):
    """What a chaos experiment touches besides reading: the dry-run set the healer honours, the
    operator command handlers, and the scheduler (cron jobs for scheduled experiments)."""

    dry_run_components: set[str]

    @property
    def commands(self) -> CommandProcessor | None: ...

    @property
    def scheduler(self) -> CheckScheduler: ...
