"""Operator commands: rows in `operator_commands`, applied by the daemon within a second.

Commands go through the database rather than a socket so they work whether or not the daemon is running
(the CLI applies them itself when it is not, see cli/breaker.py) and every command is recorded with its
outcome. Applying a breaker command is the same function in both places: `apply_breaker_command`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

import structlog

from daemon.clock import Clock
from daemon.config.durations import parse_duration
from daemon.engine.breaker import CircuitBreaker, Transition
from daemon.service.wiring import CommandHandler, Store
from daemon.store import state as store_state

log = structlog.get_logger(__name__)

#: "Within a second" with room for the command's own work. Each poll is a read on a worker thread
#: (a thread hop both ways): at 4 a second that was an idle daemon's largest single cost.
POLL_EVERY = 0.5
#: at stop, how long to wait for a poll in progress: within the first round of the runtime's
#: cancel_and_wait (5 s); a read stuck on a lock (busy_timeout, 5 s) is then left behind
STOP_WAIT_S = 4.5

BREAKER_COMMANDS = ("breaker_reset", "breaker_open", "breaker_disable")


def apply_breaker_command(
    breaker: CircuitBreaker, command: str, args: dict[str, Any], who: str = "operator"
) -> tuple[list[Transition], str]:
    """Returns the transitions and a sentence for the command's outcome. Raises ValueError if invalid."""
    given = args.get("reason")
    why = f": {given}" if given else ""  # the operator's --reason, kept in breaker_transitions and shown back
    if command == "breaker_reset":
        transitions = list(breaker.reset(reason=f"reset by {who}{why}"))
        outcome = (
            f"breaker reset to closed (was {transitions[0].from_state.value})"
            if transitions
            else "breaker already closed"
        )
        return transitions, outcome + why
    if command == "breaker_open":
        duration = args.get("for")
        for_: timedelta | None = parse_duration(duration) if duration else None
        transitions = list(
            breaker.force_open(for_=for_, reason=f"opened by {who}" + (f" for {duration}" if duration else "") + why)
        )
        return transitions, (f"breaker open for {duration}" if duration else "breaker forced open until reset") + why
    if command == "breaker_disable":
        transitions = list(breaker.disable(reason=f"disabled by {who}{why}"))
        return transitions, "breaker disabled (always closed, whatever the checks say) until reset" + why
    raise ValueError(f"unknown breaker command {command!r}")


class Breakers(Protocol):
    """The monitor as the breaker commands use it."""

    @property
    def breakers(self) -> Mapping[str, CircuitBreaker]: ...

    def changed_in_place(self, name: str, transitions: list[Transition]) -> None: ...


class CommandProcessor:
    """Polls `operator_commands` and hands each to the handler registered for it; other services add
    theirs to `handlers` (the healer's ack/heal, maintenance's silences, degradation's overrides)."""

    def __init__(self, *, clock: Clock, store: Store, breakers: Breakers) -> None:
        self.clock = clock
        self.store = store
        self.monitor = breakers
        self.handlers: dict[str, CommandHandler] = dict.fromkeys(BREAKER_COMMANDS, self._breaker)

    async def loop(self) -> None:
        """Apply commands as they come, for as long as the daemon runs.

        The polling happens on a thread of its own (`_wait_for_pending`) that wakes the event loop only
        when it found something. Polling from the loop meant a hop to a worker thread and back twice a
        second with nothing found: the largest single cost of an idle daemon (issue 11).
        """
        stop = threading.Event()
        poller = ThreadPoolExecutor(1, thread_name_prefix="healerd-commands")
        running: concurrent.futures.Future[list[dict[str, Any]]] | None = None
        try:
            while True:
                try:
                    running = poller.submit(self._wait_for_pending, stop)
                    for cmd in await asyncio.wrap_future(running):
                        await self._apply(cmd)
                except Exception:
                    log.exception("operator command poll failed; retrying")
                    await asyncio.sleep(POLL_EVERY)
        finally:
            # The poller sees `stop` within one read. Waiting for it (without blocking the loop) means no
            # read is still running when the daemon closes its readers.
            stop.set()
            poller.shutdown(wait=False)
            if running is not None and not running.done():
                await asyncio.wait([asyncio.wrap_future(running)], timeout=STOP_WAIT_S)

    def _wait_for_pending(self, stop: threading.Event) -> list[dict[str, Any]]:
        """On the poller thread: read every POLL_EVERY until a command is pending (or `stop`)."""
        while not stop.is_set():
            pending = self.store.read(store_state.pending_commands)
            if pending:
                return pending
            stop.wait(POLL_EVERY)
        return []

    async def poll_once(self) -> int:
        pending = await asyncio.to_thread(self.store.read, store_state.pending_commands)
        for cmd in pending:
            await self._apply(cmd)
        return len(pending)

    async def _apply(self, cmd: dict[str, Any]) -> None:
        handler = self.handlers.get(cmd["command"])
        now = self.clock.wall()
        if handler is None:
            status, outcome = "rejected", f"unknown command {cmd['command']!r}"
        else:
            try:
                status, outcome = await handler(cmd)
            except Exception as exc:  # a bad command must not stop the poller
                log.exception("operator command failed", command=cmd["command"], target=cmd["target"])
                status, outcome = "failed", str(exc)
        log.info("operator command", command=cmd["command"], target=cmd["target"], status=status, outcome=outcome)
        await self.store.submit(lambda conn: store_state.finish_command(conn, cmd["id"], status, outcome, now))

    async def _breaker(self, cmd: dict[str, Any]) -> tuple[str, str]:
        breaker = self.monitor.breakers.get(cmd["target"])
        if breaker is None:
            return "rejected", f"no component named {cmd['target']!r}"
        try:
            transitions, outcome = apply_breaker_command(breaker, cmd["command"], cmd["args"])
        except ValueError as exc:
            return "rejected", str(exc)
        self.monitor.changed_in_place(cmd["target"], transitions)
        return "applied", outcome
