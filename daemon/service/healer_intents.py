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

from daemon.store.intent_journal import (
    INTENT_WAIT_S, Entry, IdAllocator, IntentJournal, apply_entry, journal_path,
)

log = structlog.get_logger(__name__)


class Intents:
    def __init__(self, runtime, wait_s: float = INTENT_WAIT_S) -> None:
        self.rt = runtime
        self.wait_s = wait_s
        self.journal = IntentJournal(journal_path(runtime.options.db_path))
        self.ids: IdAllocator | None = None
        #: entries journaled since start (for the log and tests)
        self.journaled = 0
        #: intents that did not commit in time and have not committed yet
        self.outstanding = 0

    async def start(self) -> None:
        """Replay what a killed daemon journaled but never saw committed, then seed the id allocator.

        Runs before the healer restores its ladders, so a replayed `started` step is finished as
        `interrupted` by the restore like any other.
        """
        leftover = await asyncio.to_thread(self.journal.load)
        if leftover:
            applied = await self.rt.writer.submit(lambda conn: sum(apply_entry(conn, e) for e in leftover))
            log.warning("intent journal replayed into the database", entries=len(leftover), applied=applied,
                        path=str(self.journal.path))
        await asyncio.to_thread(self.journal.clear)
        self.ids = IdAllocator(await asyncio.to_thread(self.rt._read, IdAllocator.read_maxima))

    def take(self, table: str) -> int:
        return self.ids.take(table)

    async def commit(self, e: Entry) -> None:
        """Durable before return: committed in the database, or fsync'd to the journal (or, with the
        file system full, held by the writer and written to the log)."""
        future = self.rt.writer.submit(lambda conn: apply_entry(conn, e))
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
        log.warning("database did not commit the intent in time; journaled it and acting now",
                    waited_s=self.wait_s, journal=str(self.journal.path), in_journal=seq is not None)
        future.add_done_callback(lambda f: self._committed(f, seq))

    def _committed(self, future: asyncio.Future, seq: int | None) -> None:
        self.outstanding -= 1
        if not future.cancelled() and future.exception() is not None:
            log.error("a journaled intent could not be written to the database",
                      error=repr(future.exception()), seq=seq)
        self.journal.done(seq)

    def close(self) -> None:
        self.journal.close()
