"""The healer's bounded intent commit: wait a little for the database, else journal the intent and go on.

See store/intent_journal.py for the journal and why. This is the asyncio side: `commit(entry)` submits
the entry to the single writer and waits at most INTENT_WAIT_S for its COMMIT; if the database does not
answer in time (locked, full, failing), the entry is fsync'd to the journal and the caller acts. Once an
entry is journaled and still pending, later ones are journaled at once without waiting: the writer
commits in submission order, so they cannot commit before it, and each wait would only delay healing.
"""

from __future__ import annotations

import asyncio

import structlog

from daemon.service.wiring import Store
from daemon.store.intent_journal import (
    INTENT_WAIT_S,
    Entry,
    IdAllocator,
    IntentJournal,
    apply_entry,
    journal_path,
)

log = structlog.get_logger(__name__)


async def replay(store: Store) -> int:
    """Write what a killed daemon journaled but never saw committed into the database; returns how many.

    The runtime calls it right after the writer starts, before breakers and ladders are read, so the
    breaker transitions and the `started` steps of the outage are there when the state is restored (a
    replayed step is then finished `interrupted` like any other).
    """
    journal = IntentJournal(journal_path(store.db_path))
    try:
        leftover = await asyncio.to_thread(journal.load)
        applied = 0
        if leftover:
            applied = await store.submit(lambda conn: sum(_apply_alone(conn, e) for e in leftover))
            log.warning(
                "intent journal replayed into the database",
                entries=len(leftover),
                applied=applied,
                path=str(journal.path),
            )
        await asyncio.to_thread(journal.clear)
        return applied
    except Exception:  # never a reason not to start: the file stays for a human to look at
        log.exception("intent journal could not be replayed; it is left in place", path=str(journal.path))
        return 0


def _apply_alone(conn, e: Entry) -> bool:
    """One entry in its own savepoint: an entry the database refuses is logged, the others still apply."""
    conn.execute("SAVEPOINT intent")
    try:
        applied = apply_entry(conn, e)
    except Exception as exc:
        conn.execute("ROLLBACK TO intent")
        log.error("a journaled intent was refused by the database", error=repr(exc), intent=e)
        applied = False
    conn.execute("RELEASE intent")
    return applied


class Intents:
    def __init__(self, store: Store, wait_s: float = INTENT_WAIT_S) -> None:
        self.store = store
        self.wait_s = wait_s
        self.journal = IntentJournal(journal_path(store.db_path))
        self.ids: IdAllocator | None = None
        #: entries journaled since start (for the log and tests)
        self.journaled = 0
        #: intents that did not commit in time and have not committed yet
        self.outstanding = 0
        self._watching: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Seed the id allocator (after `replay`, which the runtime ran first thing)."""
        self.ids = IdAllocator(await asyncio.to_thread(self.store.read, IdAllocator.read_maxima))

    def take(self, table: str) -> int:
        if self.ids is None:
            raise RuntimeError("Intents.take before start()")
        return self.ids.take(table)

    async def commit(self, e: Entry) -> None:
        """Durable before return: committed in the database, or fsync'd to the journal (or, with the
        file system full, held by the writer and written to the log)."""
        future = self.store.submit(lambda conn: apply_entry(conn, e))
        if not self.outstanding:
            try:
                async with asyncio.timeout(self.wait_s):
                    await asyncio.shield(future)
                return
            except TimeoutError:
                pass
        seq = await asyncio.to_thread(self.journal.record, e)
        self.journaled += 1
        self.outstanding += 1
        log.warning(
            "database did not commit the intent in time; journaled it and acting now",
            waited_s=self.wait_s,
            journal=str(self.journal.path),
            in_journal=seq is not None,
        )
        future.add_done_callback(lambda f: self._committed(f, seq))

    def watch(self, future: asyncio.Future, e: Entry) -> None:
        """For writes nobody awaits (breaker transitions): journaled if not committed within wait_s."""
        task = asyncio.get_running_loop().create_task(self._watch(future, e))
        self._watching.add(task)
        task.add_done_callback(self._watching.discard)

    async def _watch(self, future: asyncio.Future, e: Entry) -> None:
        done, _ = await asyncio.wait({future}, timeout=self.wait_s)
        if done:
            return
        seq = await asyncio.to_thread(self.journal.record, e)
        self.journaled += 1
        self.outstanding += 1
        future.add_done_callback(lambda f: self._committed(f, seq))

    def _committed(self, future: asyncio.Future, seq: int | None) -> None:
        self.outstanding -= 1
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "a journaled intent could not be written to the database", error=repr(future.exception()), seq=seq
            )
        self.journal.done(seq)

    def close(self) -> None:
        for task in self._watching:
            task.cancel()
        self.journal.close()
