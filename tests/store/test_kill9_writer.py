"""kill -9 of a process writing through the Writer: at most the uncommitted batch is lost, never
anything it confirmed, and the file is never corrupted.

A real child process writes results and must-not-lose calls under load and prints each confirmation
only after the writer said it was durable; it is SIGKILLed at a random point, restarted, and killed
again. After every kill: `PRAGMA integrity_check` is ok, every confirmed row is there, row counts
only grow, and the hourly rollups count exactly the results up to their mark (the fold moves it in
its own transaction); a writer started afterwards folds the rest, once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import wait_until
from writer_kit import add_components, rows, scalar

from daemon.store.writer import Writer

CHILD = Path(__file__).with_name("kill9_writer_child.py")
KILLS = 5


class Child:
    """The child process plus a thread collecting its complete stdout lines."""

    def __init__(self, db_path: Path, tag: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(db_path), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            if raw.endswith(b"\n"):  # a line cut short by the kill confirms nothing
                self.lines.append(raw.decode().rstrip("\n"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        self.proc.stderr.close()  # type: ignore[union-attr]
        self.proc.stdout.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_kill9_loses_nothing_confirmed_and_never_corrupts(db_path):
    add_components(db_path, ["api"])
    rng = random.Random(os.environ.get("HEALERD_KILL_SEED", "3"))
    confirmed_calls: dict[int, str] = {}
    confirmed_results: dict[str, int] = {}
    counts = (0, 0)
    for run in range(KILLS):
        tag = f"run{run}"
        child = Child(db_path, tag)
        try:
            target = rng.randint(3, 40)  # confirmations to wait for: the kill lands mid-stream
            wait_until(
                lambda: sum(line.startswith("R ") for line in child.lines) >= target or child.proc.poll() is not None,
                timeout=60,
                message=f"child confirming {target} rounds",
            )
            assert child.proc.poll() is None, child.proc.stderr.read().decode()  # type: ignore[union-attr]
        finally:
            child.kill()
        for line in child.lines:
            kind, *rest = line.split()
            if kind == "C":
                confirmed_calls[int(rest[0])] = rest[1]
            elif kind == "R":
                confirmed_results[rest[0]] = int(rest[1])

        assert scalar(db_path, "PRAGMA integrity_check") == "ok"
        stored_calls = dict(rows(db_path, "SELECT id, reason FROM breaker_transitions"))
        assert {i: stored_calls.get(i) for i in confirmed_calls} == confirmed_calls
        messages = {m for (m,) in rows(db_path, "SELECT message FROM check_results")}
        for result_tag, n in confirmed_results.items():
            missing = [i for i in range(n) if f"{result_tag}-{i}" not in messages]
            assert not missing, f"{len(missing)} confirmed results of {result_tag} are gone"
        now = (scalar(db_path, "SELECT count(*) FROM check_results"), len(stored_calls))
        assert now[0] >= counts[0] and now[1] >= counts[1]
        assert now[0] > counts[0], "the child wrote nothing in this run"
        counts = now
        # A fold and its mark share one transaction, so a kill can never count a result twice or drop it.
        mark = scalar(db_path, "SELECT result_id FROM result_rollups_mark")
        assert scalar(db_path, "SELECT coalesce(sum(total), 0) FROM result_rollups_hourly") == scalar(
            db_path, "SELECT count(*) FROM check_results WHERE id <= ?", (mark,)
        )
    writer = Writer(db_path)  # the next start folds what the last kill left above the mark
    asyncio.run(_start_and_stop(writer))
    assert scalar(db_path, "SELECT sum(total) FROM result_rollups_hourly") == counts[0]


async def _start_and_stop(writer: Writer) -> None:
    await writer.start()
    await writer.stop()
