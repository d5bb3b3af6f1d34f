"""The sd_notify protocol, spoken directly (no libsystemd): one datagram per message to $NOTIFY_SOCKET.

Everything is a no-op when the socket is unset, so the same daemon runs in a terminal, in tests and
under systemd. WATCHDOG=1 is sent by a task on the event loop itself (see `watchdog_loop`): if the loop
hangs, the pings stop and systemd's WatchdogSec= restarts the daemon — a thread would keep pinging a
dead loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # abstract socket namespace
        self._address = address
        self._watchdog_usec = self._watchdog_for_us(env)
        self._sock: socket.socket | None = None
        self.dropped = 0

    @staticmethod
    def _watchdog_for_us(env: Mapping[str, str]) -> int | None:
        usec = env.get("WATCHDOG_USEC")
        if not usec or not usec.isdigit() or int(usec) == 0:
            return None
        pid = env.get("WATCHDOG_PID")
        if pid and pid.isdigit() and int(pid) != os.getpid():
            return None  # the watchdog is meant for another process (e.g. our parent)
        return int(usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Half of WATCHDOG_USEC, in seconds, as sd_watchdog_enabled(3) recommends."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 2_000_000

    def send(self, *lines: str) -> bool:
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            if self._sock is None:
                # Non-blocking: a full socket buffer (systemd busy, or a reader that stopped reading)
                # must cost a dropped STATUS line, never a frozen event loop.
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                )
            self._sock.sendto(payload, self._address)
            return True
        except BlockingIOError:
            self.dropped += 1
            return False
        except OSError as exc:
            # systemd gone or socket full: never let notification trouble stop the daemon.
            log.warning("sd_notify failed", error=str(exc))
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text.replace(chr(10), ' ')}")

    def reloading(self) -> bool:
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def watchdog_loop(notifier: Notifier, alive: Callable[[], bool] | None = None) -> None:
    """WATCHDOG=1 every interval while the loop runs and `alive()` holds.

    A running loop is not enough: if the check scheduler stopped firing (a job that broke its
    wake-up, say), the daemon would look healthy to systemd while checking nothing. So the pings
    stop when `alive()` (the scheduler's own liveness) is false, and systemd's WatchdogSec= restarts
    healerd; it says why in the log first.
    """
    interval = notifier.watchdog_interval
    if interval is None or not notifier.enabled:
        return
    withheld = False
    while True:
        ok = True
        if alive is not None:
            try:
                ok = bool(alive())
            except Exception:
                log.exception("watchdog liveness probe failed")
                ok = False
        if ok:
            notifier.watchdog()
            if withheld:
                log.warning("scheduler firing again; WATCHDOG=1 resumed")
            withheld = False
        elif not withheld:
            withheld = True
            log.error("the check scheduler has stopped firing; withholding WATCHDOG=1 so systemd restarts healerd")
        await asyncio.sleep(interval)
