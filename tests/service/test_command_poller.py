"""The operator-command poller: it polls on a thread of its own and wakes the event loop only for work."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from helpers import async_wait_until

from daemon.clock import SYSTEM_CLOCK
from daemon.service import commands as commands_mod
from daemon.service.commands import CommandProcessor
from daemon.service.wiring import Store
from daemon.store import state as store_state
from daemon.store.readers import ThreadReaders
from daemon.store.sqlite import connect
from daemon.store.writer import Writer


def _enqueue(db_path, command: str) -> int:
    conn = connect(db_path)
    try:
        return store_state.enqueue_command(conn, command, None, {}, 0.0)
    finally:
        conn.close()


async def test_polls_run_on_the_poller_thread_and_only_a_pending_command_reaches_the_loop(db_path, monkeypatch):
    monkeypatch.setattr(commands_mod, "POLL_EVERY", 0.01)
    readers = ThreadReaders(db_path)
    writer = Writer(db_path)
    await writer.start()
    polled_on: list[str] = []

    def read(fn, *args):
        polled_on.append(threading.current_thread().name)
        return readers.read(fn, *args)

    applied_on: list[str] = []

    async def noop(cmd):
        applied_on.append(threading.current_thread().name)
        return "applied", "done"

    proc = CommandProcessor(
        clock=SYSTEM_CLOCK,
        store=Store(submit=writer.submit, read=read, db_path=str(db_path)),
        breakers=SimpleNamespace(breakers={}, changed_in_place=lambda name, transitions: None),
    )
    proc.handlers["noop"] = noop
    task = asyncio.create_task(proc.loop())
    try:
        await async_wait_until(lambda: len(polled_on) >= 5, timeout=10)
        # every empty poll stayed on the poller's own thread: no hop to the loop's default executor
        assert set(polled_on) == {polled_on[0]} and polled_on[0].startswith("healerd-commands")
        command_id = _enqueue(db_path, "noop")
        await async_wait_until(lambda: bool(applied_on), timeout=10)
        assert applied_on == [threading.current_thread().name]  # the handler runs on the event loop
        await writer.flush()
        row = readers.read(store_state.command_row, command_id)
        assert row is not None and (row["status"], row["outcome"]) == ("applied", "done")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # stopping waited for the poller: no read is left running when the readers close
    assert not any(t.name.startswith("healerd-commands") and t.is_alive() for t in threading.enumerate())
    readers.close()
    await writer.stop()
