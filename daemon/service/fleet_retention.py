"""Retention in fleet mode: rows not shipped yet are kept, unless the disk would otherwise fill.

The centre is a mirror, so a row pruned before it was shipped is gone from the fleet's history for
good. Retention therefore leaves unshipped rows alone (they are pruned once shipped) — except when the
database's filesystem has less than `[fleet] min_free` left: a full disk would stop healerd recording
anything at all, which is worse. Then the unshipped rows past retention go too, and the log says how
many per table, and `fleet_marks.dropped_unshipped` counts them (shown by `healerd status`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import structlog

from daemon.config.models import Fleet, HealerdConfig, Retention
from daemon.service.wiring import Store
from daemon.store.retention import RULES, cutoff_for
from daemon.store.sqlite import connect

log = structlog.get_logger(__name__)


def free_bytes(db_path: str | os.PathLike[str]) -> int:
    st = os.statvfs(Path(db_path).parent)
    return st.f_bavail * st.f_frsize


def count_unshipped(db_path: str | os.PathLike[str], retention: Retention, now: float) -> dict[str, int]:
    """Rows retention would delete that the centre does not have yet, per table."""
    from daemon.store import fleet_sql

    conn = connect(db_path, readonly=True)
    try:
        counts = {}
        for rule in RULES:
            guard = fleet_sql.unshipped_guard(rule.table)
            if guard is None:
                continue
            only = f" AND ({rule.only})" if rule.only else ""
            n = conn.execute(
                f"SELECT count(*) FROM {rule.table} WHERE {rule.time_column} < ?{only} AND NOT ({guard})",
                (cutoff_for(rule, retention, now),),
            ).fetchone()[0]
            if n:
                counts[rule.table] = n
        return counts
    finally:
        conn.close()


async def keep_unshipped(config: HealerdConfig, store: Store, *, now: float) -> Callable[[str], str | None] | None:
    """The `protect` argument for retention.prune: None when fleet mode is off or the disk is nearly full."""
    fleet: Fleet | None = config.settings.fleet
    if fleet is None:
        return None
    # imported only in fleet mode: fleet_sql pulls in the SQLAlchemy models, ~16 MB a daemon without a
    # fleet would carry for nothing (the retention loop calls this from start-up on; issue 11)
    from daemon.store import fleet_sql

    db_path = store.db_path
    free = await asyncio.to_thread(free_bytes, db_path)
    if free >= fleet.min_free:
        return fleet_sql.unshipped_guard
    retention = config.settings.retention
    counts = await asyncio.to_thread(count_unshipped, db_path, retention, now)
    if counts:
        log.warning(
            "retention prunes rows not shipped to the fleet centre: the disk is nearly full",
            free_bytes=free,
            min_free=fleet.min_free,
            **counts,
        )

        def record(conn) -> None:
            for table, n in counts.items():
                fleet_sql.count_dropped(conn, table, n)

        await store.submit(record)
    return None
