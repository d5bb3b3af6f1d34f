"""Take, verify, restore and prune checkpoints: the DB row and the files, in the order that survives a crash.

Where versions live: `checkpoints_root(db_path)` = `<directory of the database>/checkpoints/`, one
directory per checkpoint name and one per version, named by the version's row id:
`<db_dir>/checkpoints/<name>/<id>/` holding the copies and a `manifest.json`. Next to the database
because that is healerd's state directory (systemd's StateDirectory=), which is writable, private and
backed up with the database that indexes it.

Order of operations (intent before act, and the DB row is the authority):
- take: insert the row as `taking` → write the version (atomic, see checkpoint_files) → row `verified`
  with the sha256 of every file, or `failed` (and the partial directory removed) → prune.
- prune: rows beyond the newest `keep` verified versions are marked `pruned` *before* their directory is
  removed, so a crash in between leaves a stray directory, never a `verified` row without files.
- restore: the newest verified version (or the one asked for) is verified again first; a mismatch marks
  it `corrupt` and nothing is touched. Then the files are staged and renamed into place.

"Taken only while the owning component is healthy" and "run `then` after a restore" are the caller's
rules (healer/scheduler): this module does the I/O. Every function takes `db`, an awaitable runner of
`fn(conn)` in a write transaction — `Writer.submit` in the daemon, `oneshot.runner(path)` in the CLI —
so both write through SQLite's locking and neither needs the other. Blocking file work runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from daemon.config.models import Checkpoint
from daemon.engine import checkpoint_files as cf
from daemon.store import checkpoints_sql as sql
from daemon.store.oneshot import DbCall

log = structlog.get_logger(__name__)


def checkpoints_root(db_path: str | os.PathLike[str]) -> Path:
    """`<db_dir>/checkpoints`: see the module docstring for why next to the database."""
    return Path(db_path).absolute().parent / "checkpoints"


@dataclass(frozen=True)
class TakeResult:
    ok: bool
    name: str
    id: int | None
    status: str  # verified | failed
    message: str
    location: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    pruned: tuple[int, ...] = ()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    id: int | None
    message: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestoreResult:
    ok: bool
    name: str
    id: int | None
    message: str
    restored: tuple[str, ...] = ()


async def take_checkpoint(
    checkpoint: Checkpoint,
    *,
    db: DbCall,
    root: str | os.PathLike[str],
    component: str | None = None,
    now: float | None = None,
) -> TakeResult:
    """Copy `checkpoint.paths` into a new version, then prune to `checkpoint.keep`. Never raises on I/O.

    `component` is the owning component's name (recorded as `component_id` when it is in the database).
    """
    taken_at = time.time() if now is None else now
    name_dir = Path(root) / checkpoint.name
    checkpoint_id, location = await db(
        lambda conn: sql.insert_taking(conn, checkpoint.name, component, taken_at, lambda i: name_dir / str(i))
    )
    meta = {"name": checkpoint.name, "id": checkpoint_id, "taken_at": taken_at, "component": component}
    try:
        stored = await asyncio.to_thread(cf.write_version, list(checkpoint.paths), Path(location), meta)
    except (cf.CheckpointFileError, OSError) as exc:
        message = f"checkpoint {checkpoint.name} not taken: {exc}"
        await db(lambda conn: sql.finish_taking(conn, checkpoint_id, "failed", {}, 0))
        log.warning("checkpoint.take_failed", checkpoint=checkpoint.name, id=checkpoint_id, error=str(exc))
        return TakeResult(False, checkpoint.name, checkpoint_id, "failed", message)
    files = {f.path: f.sha256 for f in stored}
    size = sum(f.size for f in stored)
    finished = await db(lambda conn: sql.finish_taking(conn, checkpoint_id, "verified", files, size))
    if not finished:  # marked failed meanwhile (a daemon start's fail_interrupted): do not claim success
        await asyncio.to_thread(cf.remove_version, location)
        return TakeResult(
            False,
            checkpoint.name,
            checkpoint_id,
            "failed",
            f"checkpoint {checkpoint.name} #{checkpoint_id} was marked failed while it was being taken",
        )
    pruned = await prune(checkpoint.name, checkpoint.keep, db=db)
    log.info(
        "checkpoint.taken",
        checkpoint=checkpoint.name,
        id=checkpoint_id,
        files=len(files),
        size_bytes=size,
        pruned=list(pruned),
    )
    return TakeResult(
        True,
        checkpoint.name,
        checkpoint_id,
        "verified",
        f"checkpoint {checkpoint.name} #{checkpoint_id}: {len(files)} file(s), {size} bytes",
        location,
        files,
        size,
        pruned,
    )


def versions_to_prune(rows: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """Newest first in, the rows to prune out (pure): verified beyond the newest `keep`, and corrupt
    ones older than the oldest kept version (newer corrupt ones stay for inspection)."""
    kept = 0
    out = []
    for row in rows:
        if row["status"] == "verified":
            if kept < keep:
                kept += 1
            else:
                out.append(row)
        elif row["status"] == "corrupt" and kept >= keep:
            out.append(row)
    return out


async def prune(name: str, keep: int, *, db: DbCall) -> tuple[int, ...]:
    """Keep the newest `keep` verified versions of `name`; returns the ids pruned."""

    def mark(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        doomed = versions_to_prune(sql.list_versions(conn, name), keep)
        return [row for row in doomed if sql.set_status(conn, row["id"], "pruned")]

    marked = await db(mark)
    for row in marked:
        await asyncio.to_thread(cf.remove_version, row["location"])
    return tuple(row["id"] for row in marked)


async def _pick(name: str, checkpoint_id: int | None, db: DbCall) -> dict[str, Any] | None:
    def read(conn: sqlite3.Connection) -> dict[str, Any] | None:
        if checkpoint_id is None:
            return sql.latest_verified(conn, name).get(name)
        row = sql.get(conn, checkpoint_id)
        return row if row is not None and row["name"] == name else None

    return await db(read)


async def _verify_row(row: dict[str, Any], db: DbCall) -> VerifyResult:
    """Recompute every stored file's sha256; a mismatch marks the version `corrupt`."""
    if row["status"] != "verified":
        return VerifyResult(False, row["id"], f"checkpoint {row['name']} #{row['id']} is {row['status']}, not verified")
    problems = await asyncio.to_thread(cf.verify_files, row["location"], row["files"])
    if problems:
        await db(lambda conn: sql.set_status(conn, row["id"], "corrupt"))
        log.error("checkpoint.corrupt", checkpoint=row["name"], id=row["id"], problems=problems)
        return VerifyResult(
            False, row["id"], f"checkpoint {row['name']} #{row['id']} is corrupt: {problems[0]}", tuple(problems)
        )
    return VerifyResult(True, row["id"], f"checkpoint {row['name']} #{row['id']}: {len(row['files'])} file(s) intact")


async def restore_checkpoint(name: str, *, db: DbCall, checkpoint_id: int | None = None) -> RestoreResult:
    """Verify, then put the files of version `checkpoint_id` (default: newest verified) back in place."""
    row = await _pick(name, checkpoint_id, db)
    if row is None:
        which = (
            f"version #{checkpoint_id} of checkpoint {name}"
            if checkpoint_id is not None
            else f"verified checkpoint {name}"
        )
        return RestoreResult(False, name, checkpoint_id, f"no {which}")
    verified = await _verify_row(row, db)
    if not verified.ok:
        return RestoreResult(False, name, row["id"], f"restore refused: {verified.message}")
    try:
        restored = await asyncio.to_thread(cf.restore_files, row["location"], row["files"])
    except cf.CheckpointFileError as exc:
        log.error("checkpoint.restore_failed", checkpoint=name, id=row["id"], error=str(exc))
        return RestoreResult(False, name, row["id"], f"restore of {name} #{row['id']} failed: {exc}")
    log.info("checkpoint.restored", checkpoint=name, id=row["id"], files=restored)
    return RestoreResult(
        True, name, row["id"], f"restored {name} #{row['id']}: {len(restored)} file(s)", tuple(restored)
    )


async def cleanup_interrupted(*, db: DbCall) -> tuple[int, ...]:
    """At daemon start: versions left `taking` by a killed taker become `failed` and lose their temp dir."""
    rows = await db(sql.fail_interrupted)
    for row in rows:
        location = Path(row["location"])
        await asyncio.to_thread(cf.remove_version, str(location.parent / f".{location.name}.tmp"))
        await asyncio.to_thread(cf.remove_version, str(location))
    return tuple(row["id"] for row in rows)
