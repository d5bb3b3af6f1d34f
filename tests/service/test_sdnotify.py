"""sd_notify datagrams as systemd would receive them, on a real unix datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from daemon.service.sdnotify import Notifier, watchdog_loop


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def _recv(sock) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_and_status_arrive_as_one_datagram(notify_socket):
    sock, path = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    assert n.ready("3 components, 0 open breakers")
    assert _recv(sock) == ["READY=1", "STATUS=3 components, 0 open breakers"]


def test_reloading_carries_a_monotonic_timestamp_in_microseconds(notify_socket):
    sock, path = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    lines = _recv(sock)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert lines[0] == "RELOADING=1"
    key, value = lines[1].split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_abstract_socket_address_with_leading_at(notify_socket):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"healerd-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert _recv(sock) == ["STOPPING=1"]
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_no_op():
    n = Notifier({})
    assert not n.enabled
    assert n.ready() is False and n.watchdog() is False


def test_watchdog_interval_is_half_of_watchdog_usec_and_respects_watchdog_pid():
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"}).watchdog_interval == 2.0
    other = Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval is None


def test_send_to_a_vanished_socket_does_not_raise(tmp_path):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.ready() is False


async def test_watchdog_pings_come_from_the_event_loop_and_stop_when_it_stops(notify_socket):
    sock, path = notify_socket
    sock.setblocking(False)
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"})  # ping every 10 ms
    task = asyncio.create_task(watchdog_loop(n))
    loop = asyncio.get_running_loop()
    got = []
    deadline = loop.time() + 5
    while len(got) < 3 and loop.time() < deadline:
        try:
            got.append(sock.recv(64).decode())
        except BlockingIOError:
            await asyncio.sleep(0.005)
    assert got[:3] == ["WATCHDOG=1"] * 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # a blocked loop sends nothing: block it (synchronously) and check no datagram was queued meanwhile
    while True:
        try:
            sock.recv(64)
        except BlockingIOError:
            break
    task = asyncio.create_task(watchdog_loop(n))
    await asyncio.sleep(0)  # let it send its first ping
    time.sleep(0.1)  # the loop is hung on purpose: 10 intervals pass without the loop running
    pings = 0
    while True:
        try:
            sock.recv(64)
            pings += 1
        except BlockingIOError:
            break
    task.cancel()
    assert pings == 1


def test_a_full_notify_socket_drops_messages_instead_of_blocking(notify_socket):
    _sock, path = notify_socket  # nobody reads it: its buffer fills up
    n = Notifier({"NOTIFY_SOCKET": path})
    # with a blocking socket this loop never returns (pytest-timeout fails the test)
    results = [n.status("x" * 1000) for _ in range(5000)]
    assert results[0] is True and results[-1] is False
    assert n.dropped > 0


async def test_watchdog_pings_stop_while_the_scheduler_is_not_alive_and_resume_after(notify_socket):
    sock, path = notify_socket
    sock.setblocking(False)
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"})  # ping every 10 ms
    state = {"alive": True, "probes": 0}

    def alive() -> bool:
        state["probes"] += 1
        return state["alive"]

    def drain() -> int:
        count = 0
        while True:
            try:
                sock.recv(64)
                count += 1
            except BlockingIOError:
                return count

    async def probes_pass(k: int) -> None:
        target = state["probes"] + k
        deadline = asyncio.get_running_loop().time() + 10
        while state["probes"] < target:
            assert asyncio.get_running_loop().time() < deadline, "the watchdog loop stopped probing"
            await asyncio.sleep(0.005)

    task = asyncio.create_task(watchdog_loop(n, alive=alive))
    try:
        await probes_pass(3)
        assert drain() >= 2
        state["alive"] = False
        await probes_pass(1)  # the probe that saw it dead may follow a ping sent just before
        drain()
        await probes_pass(5)
        assert drain() == 0  # five intervals, no ping: systemd's WatchdogSec would fire
        state["alive"] = True
        await probes_pass(3)
        assert drain() >= 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
