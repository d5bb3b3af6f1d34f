"""PidWatcher: a killed process is reported as an event — through a pidfd, or by the poll fallback."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import time

import pytest

from daemon.clock import FakeClock
from daemon.engine import pidwatch
from daemon.engine.pidwatch import PidWatcher, pid_alive, start_ticks


class Deaths:
    """Collects callbacks; `wait(pid)` waits with a deadline for that pid's report."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []
        self._changed = asyncio.Event()

    def __call__(self, pid: int, detected_at: float) -> None:
        self.seen.append((pid, detected_at))
        self._changed.set()

    async def wait(self, pid: int, timeout: float = 10.0) -> float:
        async with asyncio.timeout(timeout):
            while True:
                for seen_pid, at in self.seen:
                    if seen_pid == pid:
                        return at
                self._changed.clear()
                await self._changed.wait()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(params=["pidfd", "poll"])
def watcher(request):
    w = PidWatcher(use_pidfd=request.param == "pidfd")
    assert w.mode == request.param
    yield w
    w.close()


async def test_killed_process_is_reported_once_with_its_detection_time(watcher, spawn):
    child = spawn()
    deaths = Deaths()
    watcher.watch(child.pid, deaths)
    killed_at = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)  # not reaped: the poll path must see through the zombie
    detected_at = await deaths.wait(child.pid)
    print(f"{watcher.mode}: detected after {(detected_at - killed_at) * 1000:.2f} ms (information only)")
    assert detected_at >= killed_at
    assert watcher.watched == frozenset()
    await asyncio.sleep(0)  # a second report would be scheduled by now
    assert [pid for pid, _ in deaths.seen] == [child.pid]


async def test_process_exiting_by_itself_is_reported(watcher, spawn):
    child = spawn("import time; time.sleep(0.2)")
    deaths = Deaths()
    watcher.watch(child.pid, deaths)
    await deaths.wait(child.pid)
    assert child.wait(10) == 0


async def test_already_dead_pid_is_reported_soon_but_not_inside_watch(watcher, spawn):
    child = spawn()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)  # reaped: the pid no longer exists at all
    deaths = Deaths()
    watcher.watch(child.pid, deaths)
    assert deaths.seen == []
    await deaths.wait(child.pid)


async def test_zombie_at_watch_time_is_reported(watcher, spawn, gone):
    child = spawn()
    os.kill(child.pid, signal.SIGKILL)
    assert await asyncio.to_thread(gone, child.pid)
    assert pidwatch._proc_stat(child.pid)[0] == "Z"  # dead, not reaped: still has its pid
    deaths = Deaths()
    watcher.watch(child.pid, deaths)
    await deaths.wait(child.pid)


async def test_unwatched_pid_is_not_reported_and_its_fd_is_closed(watcher, spawn):
    child, other = spawn(), spawn()
    fds = open_fds()
    deaths = Deaths()
    watcher.watch(child.pid, deaths)
    watcher.watch(other.pid, deaths)
    watcher.unwatch(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    os.kill(other.pid, signal.SIGKILL)
    await deaths.wait(other.pid)  # the other death proves the loop ran past the unwatched one
    assert [pid for pid, _ in deaths.seen] == [other.pid]
    assert open_fds() == fds


async def test_several_callbacks_on_one_pid_and_unwatching_just_one(watcher, spawn):
    child = spawn()
    first, second = Deaths(), Deaths()
    watcher.watch(child.pid, first)
    watcher.watch(child.pid, second)
    watcher.unwatch(child.pid, first)
    assert watcher.watched == {child.pid}
    os.kill(child.pid, signal.SIGKILL)
    await second.wait(child.pid)
    assert first.seen == []


async def test_a_failing_callback_does_not_stop_the_others(watcher, spawn):
    child = spawn()
    deaths = Deaths()

    def broken(pid: int, at: float) -> None:
        raise RuntimeError("callback bug")

    watcher.watch(child.pid, broken)
    watcher.watch(child.pid, deaths)
    os.kill(child.pid, signal.SIGKILL)
    await deaths.wait(child.pid)


async def test_close_releases_every_fd_and_refuses_new_watches(spawn):
    children = [spawn() for _ in range(3)]
    fds = open_fds()
    w = PidWatcher()
    deaths = Deaths()
    for child in children:
        w.watch(child.pid, deaths)
    assert open_fds() == fds + 3
    w.close()
    assert open_fds() == fds
    with pytest.raises(RuntimeError):
        w.watch(children[0].pid, deaths)


async def test_detection_time_comes_from_the_injected_clock(spawn):
    clock = FakeClock(monotonic=123.0)
    w = PidWatcher(clock=clock)
    try:
        child = spawn()
        deaths = Deaths()
        w.watch(child.pid, deaths)
        os.kill(child.pid, signal.SIGKILL)
        assert await deaths.wait(child.pid) == 123.0
    finally:
        w.close()


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
async def test_pidfd_refused_by_the_kernel_falls_back_to_polling(monkeypatch, spawn, err):
    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(pidwatch.os, "pidfd_open", refused)
    w = PidWatcher()
    try:
        child = spawn()
        deaths = Deaths()
        w.watch(child.pid, deaths)
        assert w.mode == ("poll" if err == errno.ENOSYS else "pidfd")  # EPERM may be per process
        os.kill(child.pid, signal.SIGKILL)
        await deaths.wait(child.pid)
    finally:
        w.close()


def test_pid_alive_sees_through_zombies_and_recycled_pids(spawn, gone):
    child = spawn()
    ticks = start_ticks(child.pid)
    assert ticks is not None
    assert pid_alive(child.pid) and pid_alive(child.pid, ticks)
    assert not pid_alive(child.pid, str(int(ticks) + 1))  # same pid, another process's start time
    os.kill(child.pid, signal.SIGKILL)
    assert gone(child.pid)
    assert pidwatch._proc_stat(child.pid)[0] == "Z"  # kill(pid, 0) still succeeds on this zombie
    os.kill(child.pid, 0)
    assert not pid_alive(0) and not pid_alive(-1)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        PidWatcher(poll_interval=0)
