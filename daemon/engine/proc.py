"""Run one argv as a subprocess with a hard bound on time and memory; shared by exec checks and actions.

Why not `asyncio.create_subprocess_exec(..., stdout=PIPE)` and `communicate()`:
- a check or recovery command that hangs must not hang healerd, and killing only the direct child
  leaves its children running (a shell script's `sleep`, a plugin's helper). The child therefore gets
  its own session/process group (`start_new_session=True`) and on timeout the *group* gets SIGTERM,
  a short grace, then SIGKILL — bounded however the command behaves;
- `communicate()` buffers all output: a chatty command could eat the daemon's memory. We keep the
  first few KiB (a Nagios plugin's status line) and the last `output_limit` bytes of each stream;
- a command that exits but leaves a background child holding stdout open would make a pipe reader
  wait forever. We own the pipes, so once the leader has exited we drain briefly and then close them
  (we do *not* kill those leftovers: a recovery action may legitimately start a daemon).

The same cleanup runs when the caller's task is cancelled (e.g. the check-level `asyncio.timeout`),
so no path leaves a process group behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

#: Time between SIGTERM and SIGKILL to the process group on timeout: long enough for a well-behaved
#: command to clean up, short enough that a stuck one cannot stall a check cycle.
KILL_GRACE_S = 0.5
#: After the leader exits, how long its output may keep arriving (from children still holding the
#: pipes) before we stop listening.
DRAIN_GRACE_S = 0.2
#: How long we wait for the kernel to report a SIGKILLed leader before giving up on reaping it here
#: (the event loop's child watcher still reaps it later). Only an uninterruptible (D state) process
#: can reach this bound.
REAP_BOUND_S = 2.0
DEFAULT_OUTPUT_LIMIT = 64 * 1024
HEAD_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class ProcResult:
    """What a finished (or killed) command did.

    `exit_code` follows asyncio's convention: negative `-N` means killed by signal N; `None` only if
    the leader could not be reaped within REAP_BOUND_S after SIGKILL.
    """

    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    duration_ms: float
    timed_out: bool
    #: the first HEAD_LIMIT bytes of stdout, so a status line survives a long output.
    stdout_head: str = ""

    @property
    def first_line(self) -> str:
        """The first non-empty line of stdout, else of stderr (Nagios puts its status line first)."""
        for text in (self.stdout_head or self.stdout_tail, self.stderr_tail):
            for line in text.splitlines():
                if line.strip():
                    return line.strip()
        return ""


class _Capture(asyncio.Protocol):
    """Keeps the head and a bounded tail of one pipe; `done` resolves at EOF."""

    def __init__(self, limit: int, done: asyncio.Future[None]) -> None:
        self._limit = max(0, limit)
        self._done = done
        self.head = bytearray()
        self.tail = bytearray()

    def data_received(self, data: bytes) -> None:
        if len(self.head) < HEAD_LIMIT:
            self.head += data[: HEAD_LIMIT - len(self.head)]
        self.tail += data
        if len(self.tail) > self._limit:
            del self.tail[: len(self.tail) - self._limit]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        # Group already gone (PermissionError: only zombies of another owner remain; nothing to stop).
        pass


async def _wait_bounded(proc: asyncio.subprocess.Process, seconds: float) -> None:
    try:
        await asyncio.wait_for(proc.wait(), seconds)
    except TimeoutError:
        pass


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the group, wait up to KILL_GRACE_S for the leader, then SIGKILL whatever remains.

    The SIGKILL is sent even when the leader exited on SIGTERM: a grandchild that ignores SIGTERM is
    still in the group, and the group id cannot be reused while any member lives.
    """
    pgid = proc.pid  # leader of its own session, so pgid == pid
    try:
        _signal_group(pgid, signal.SIGTERM)
        await _wait_bounded(proc, KILL_GRACE_S)
    finally:
        # Runs even if we are cancelled a second time during the grace: never leave the group alive.
        _signal_group(pgid, signal.SIGKILL)
    await _wait_bounded(proc, REAP_BOUND_S)


async def run_argv(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> ProcResult:
    """Run `argv` (no shell) in its own process group, at most `timeout` seconds (+ kill grace).

    `env=None` inherits healerd's environment; otherwise it is the whole environment. Raises OSError
    when the program cannot be started (not found, not executable): that is the caller's to report,
    not a result of the command. Re-raises CancelledError after killing the group.
    """
    if not argv:
        raise ValueError("argv must name a program")
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=w_out,
            stderr=w_err,
            start_new_session=True,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    except BaseException:
        os.close(r_out)
        os.close(r_err)
        raise
    finally:
        # The child holds its own copies; ours must go or the readers would never see EOF.
        os.close(w_out)
        os.close(w_err)

    pending_fds = [r_out, r_err]
    captures: list[_Capture] = []
    transports: list[asyncio.BaseTransport] = []
    eofs: list[asyncio.Future[None]] = []
    timed_out = False
    try:
        while pending_fds:
            eof: asyncio.Future[None] = loop.create_future()
            pipe = os.fdopen(pending_fds.pop(0), "rb", buffering=0)
            try:
                transport, capture = await loop.connect_read_pipe(partial(_Capture, output_limit, eof), pipe)
            except BaseException:
                pipe.close()
                raise
            captures.append(capture)
            transports.append(transport)
            eofs.append(eof)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
            await _stop_group(proc)
        # Output written just before exit is still in the pipe: drain it, briefly.
        await asyncio.wait(eofs, timeout=DRAIN_GRACE_S)
    except asyncio.CancelledError:
        # The caller gave up (check-level timeout, shutdown): nothing of this command may outlive it.
        await _stop_group(proc)
        raise
    finally:
        for fd in pending_fds:
            os.close(fd)
        for opened in transports:
            opened.close()
        for eof in eofs:
            if not eof.done():
                eof.cancel()

    out, err = captures
    return ProcResult(
        exit_code=proc.returncode,
        stdout_tail=_decode(out.tail),
        stderr_tail=_decode(err.tail),
        duration_ms=(time.monotonic() - started) * 1000.0,
        timed_out=timed_out,
        stdout_head=_decode(out.head),
    )
