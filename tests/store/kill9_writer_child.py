"""Child process for test_kill9_writer.py: write under load through the Writer until SIGKILLed.

It prints a line only for what is durable, after the writer confirmed it:
  `C <id> <reason>`  a must-not-lose call whose future resolved (the row id it inserted),
  `R <tag> <n>`      results `<tag>-0` … `<tag>-<n-1>` are all committed (a flush resolved after them).
stdout is line-buffered and each line is flushed, so what the parent reads is what was confirmed.
Usage: python kill9_writer_child.py DB_PATH RUN_TAG
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from daemon.store.writer import Writer
from daemon.types import CheckResult, Status


def insert_transition(reason: str):
    def fn(conn: sqlite3.Connection) -> int:
        return conn.execute(
            "INSERT INTO breaker_transitions (component_id, ts, from_state, to_state, reason) "
            "VALUES ((SELECT id FROM components WHERE name = 'api'), 0, 'closed', 'open', ?)",
            (reason,),
        ).lastrowid

    return fn


async def main(db_path: str, tag: str) -> None:
    writer = Writer(db_path, max_queue=1_000_000)  # nothing may be shed: every result is checked
    await writer.start()
    print("ready", flush=True)
    sent = 0
    round_no = 0
    while True:
        for _ in range(400):
            status = Status.HEALTHY if sent % 5 else Status.UNHEALTHY
            writer.submit_result(
                CheckResult("api", status, 1.0 + sent % 7, f"{tag}-{sent}", None, 1_800_000_000.0 + sent)
            )
            sent += 1
        calls = [
            (f"{tag}-c{round_no}-{i}", writer.submit(insert_transition(f"{tag}-c{round_no}-{i}"))) for i in range(5)
        ]
        for reason, future in calls:
            row_id = await future
            print(f"C {row_id} {reason}", flush=True)
        await writer.flush()
        print(f"R {tag} {sent}", flush=True)
        round_no += 1


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
