"""Small test utilities shared across the suite."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Poll `predicate` until it returns something truthy, and return that; fail at the deadline.

    The synchronisation primitive for tests that wait on another process or thread: it waits exactly as
    long as needed, and a deadline (not a sleep) bounds it. The predicate is evaluated once more at the
    deadline so a slow machine never fails a condition that became true during the last interval.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            result = predicate()
            if result:
                return result
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting: {text}")
        time.sleep(interval)


@contextmanager
def open_db(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A plain autocommit connection, closed on exit (not left to the garbage collector).

    `with sqlite3.connect(p) as conn` only commits; the connection closes whenever it is collected, and
    the WAL checkpoint that comes with closing the last connection then rewrites the file at a moment
    no test chose.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


async def async_wait_until(
    predicate: Callable[[], T],
    timeout: float = 20.0,
    interval: float = 0.01,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """`wait_until` for async tests: polls with a deadline, yielding to the loop so the code under test
    (tasks, futures resolved by the writer thread) keeps running in between."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting: {text}")
        await asyncio.sleep(interval)
