"""Checkpoints on real files and real SQLite databases: take, verify, restore, refuse corrupt, prune."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from helpers import open_db, wait_until

from daemon.config.models import Checkpoint
from daemon.engine import checkpoint_files as cf
from daemon.engine.checkpoints import (
    checkpoints_root,
    cleanup_interrupted,
    restore_checkpoint,
    take_checkpoint,
    versions_to_prune,
)
from daemon.store import checkpoints_sql as sql
from daemon.store import oneshot
from daemon.store.writer import Writer


@pytest.fixture
def db(db_path):
    return oneshot.runner(db_path)


@pytest.fixture
def root(db_path) -> Path:
    return checkpoints_root(db_path)


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    conf = tmp_path / "svc" / "app.conf"
    conf.parent.mkdir()
    conf.write_text("port = 8080\n")
    conf.chmod(0o640)
    extra = tmp_path / "svc" / "routes.txt"
    extra.write_text("/ -> app\n")
    return conf, extra


def checkpoint(*paths: Path, name: str = "app-config", keep: int = 10) -> Checkpoint:
    return Checkpoint(name=name, paths=[str(p) for p in paths], keep=keep)


def row(db_path, checkpoint_id: int) -> dict:
    with open_db(db_path) as conn:
        return sql.get(conn, checkpoint_id)


def test_the_checkpoint_root_is_next_to_the_database(tmp_path):
    assert checkpoints_root(tmp_path / "state" / "healerd.db") == tmp_path / "state" / "checkpoints"


async def test_take_records_a_verified_version_with_a_sha256_per_file(db, db_path, root, files):
    conf, extra = files
    result = await take_checkpoint(checkpoint(conf, extra), db=db, root=root)

    assert result.ok and result.status == "verified", result.message
    stored = row(db_path, result.id)
    assert stored["status"] == "verified"
    assert stored["location"] == str(root / "app-config" / str(result.id)) == result.location
    assert stored["files"] == {str(conf): cf.sha256_file(conf), str(extra): cf.sha256_file(extra)}
    assert stored["size_bytes"] == conf.stat().st_size + extra.stat().st_size
    version = Path(stored["location"])
    assert (version / cf.stored_name(str(conf))).read_text() == "port = 8080\n"
    manifest = json.loads((version / cf.MANIFEST).read_text())
    assert {e["path"]: e["mode"] for e in manifest["files"]} == {
        str(conf): 0o640,
        str(extra): extra.stat().st_mode & 0o777,
    }
    assert sorted(p.name for p in version.parent.iterdir()) == [str(result.id)]  # no temp dir left


async def test_take_through_the_daemons_writer(db_path, root, files):
    writer = Writer(db_path)
    await writer.start()
    try:
        result = await take_checkpoint(checkpoint(files[0]), db=writer.submit, root=root)
        restored = await restore_checkpoint("app-config", db=writer.submit)
    finally:
        await writer.stop()
    assert result.ok and restored.ok and row(db_path, result.id)["status"] == "verified"


async def test_restore_puts_back_the_content_and_keeps_the_targets_mode(db, root, files):
    conf, extra = files
    taken = await take_checkpoint(checkpoint(conf, extra), db=db, root=root)
    conf.write_text("port = garbage\n")
    conf.chmod(0o600)
    extra.unlink()

    result = await restore_checkpoint("app-config", db=db)

    assert result.ok, result.message
    assert result.id == taken.id and sorted(result.restored) == sorted([str(conf), str(extra)])
    assert conf.read_text() == "port = 8080\n" and extra.read_text() == "/ -> app\n"
    assert conf.stat().st_mode & 0o777 == 0o600  # the target's current mode wins
    assert not [p for p in conf.parent.iterdir() if "healerd-restore" in p.name]


async def test_restore_through_a_symlink_keeps_the_link(db, root, files, tmp_path):
    conf, _ = files
    link = tmp_path / "current.conf"
    link.symlink_to(conf)
    await take_checkpoint(checkpoint(link, link), db=db, root=root)  # listed twice: copied once
    conf.write_text("port = garbage\n")
    result = await restore_checkpoint("app-config", db=db)
    assert result.ok and result.restored == (str(conf),)
    assert link.is_symlink() and conf.read_text() == "port = 8080\n"


async def test_restore_recreates_a_deleted_file_with_its_recorded_mode(db, root, files):
    conf, _ = files
    await take_checkpoint(checkpoint(conf), db=db, root=root)
    conf.unlink()
    assert (await restore_checkpoint("app-config", db=db)).ok
    assert conf.stat().st_mode & 0o777 == 0o640


async def test_restore_of_an_older_version_by_id(db, root, files):
    conf, _ = files
    first = await take_checkpoint(checkpoint(conf), db=db, root=root, now=1000.0)
    conf.write_text("port = 9090\n")
    await take_checkpoint(checkpoint(conf), db=db, root=root, now=2000.0)
    assert (await restore_checkpoint("app-config", db=db, checkpoint_id=first.id)).ok
    assert conf.read_text() == "port = 8080\n"
    assert not (await restore_checkpoint("other-name", db=db, checkpoint_id=first.id)).ok


async def test_a_corrupted_copy_is_refused_marked_corrupt_and_nothing_is_touched(db, db_path, root, files):
    conf, extra = files
    taken = await take_checkpoint(checkpoint(conf, extra), db=db, root=root)
    (Path(taken.location) / cf.stored_name(str(extra))).write_text("tampered\n")
    conf.write_text("current\n")

    result = await restore_checkpoint("app-config", db=db, checkpoint_id=taken.id)
    assert not result.ok and result.message.startswith("restore refused")
    assert "is corrupt" in result.message and str(extra) in result.message
    assert row(db_path, taken.id)["status"] == "corrupt"
    assert conf.read_text() == "current\n" and extra.read_text() == "/ -> app\n"
    # and without an id there is no verified version left to restore
    assert (await restore_checkpoint("app-config", db=db)).message == "no verified checkpoint app-config"


async def test_a_missing_stored_file_is_corrupt_too(db, root, files):
    taken = await take_checkpoint(checkpoint(files[0]), db=db, root=root)
    (Path(taken.location) / cf.stored_name(str(files[0]))).unlink()
    result = await restore_checkpoint("app-config", db=db)
    assert not result.ok and "is missing" in result.message


async def test_an_intact_version_passes_verification_and_an_unknown_id_is_refused(db, root, files):
    taken = await take_checkpoint(checkpoint(*files), db=db, root=root)
    restored = await restore_checkpoint("app-config", db=db, checkpoint_id=taken.id)
    assert restored.ok and restored.id == taken.id
    unknown = await restore_checkpoint("app-config", db=db, checkpoint_id=taken.id + 100)
    assert not unknown.ok and unknown.message == f"no version #{taken.id + 100} of checkpoint app-config"


@pytest.mark.parametrize("make", ["missing", "directory"])
async def test_a_path_that_cannot_be_copied_fails_the_version_and_leaves_no_files(
    db, db_path, root, files, tmp_path, make
):
    bad = tmp_path / "nope"
    if make == "directory":
        bad.mkdir()
    result = await take_checkpoint(checkpoint(files[0], bad), db=db, root=root)
    assert not result.ok and result.status == "failed"
    assert (
        str(bad) in result.message
        and ("does not exist" if make == "missing" else "not a regular file") in result.message
    )
    assert row(db_path, result.id)["status"] == "failed"
    assert list((root / "app-config").iterdir()) == []


async def test_keep_prunes_the_oldest_versions_marking_rows_and_removing_directories(db, db_path, root, files):
    conf, _ = files
    ids = []
    for i in range(4):
        conf.write_text(f"version {i}\n")
        ids.append((await take_checkpoint(checkpoint(conf, keep=2), db=db, root=root, now=1000.0 + i)).id)
    statuses = {i: row(db_path, i)["status"] for i in ids}
    assert statuses == {ids[0]: "pruned", ids[1]: "pruned", ids[2]: "verified", ids[3]: "verified"}
    assert sorted(p.name for p in (root / "app-config").iterdir()) == sorted([str(ids[2]), str(ids[3])])
    assert (await restore_checkpoint("app-config", db=db)).ok and conf.read_text() == "version 3\n"


def test_prune_rule_keeps_newer_corrupt_versions_for_inspection():
    rows = [
        {"id": 5, "status": "corrupt"},
        {"id": 4, "status": "verified"},
        {"id": 3, "status": "failed"},
        {"id": 2, "status": "corrupt"},
        {"id": 1, "status": "verified"},
    ]
    assert [r["id"] for r in versions_to_prune(rows, keep=1)] == [2, 1]
    assert [r["id"] for r in versions_to_prune(rows, keep=2)] == []


async def test_an_interrupted_take_is_failed_and_cleaned_at_start(db, db_path, root):
    checkpoint_id, location = await db(
        lambda c: sql.insert_taking(c, "app-config", None, 1.0, lambda i: root / "app-config" / str(i))
    )
    partial = Path(location).parent / f".{Path(location).name}.tmp"
    partial.mkdir(parents=True)
    (partial / "half").write_text("x")
    assert await cleanup_interrupted(db=db) == (checkpoint_id,)
    assert row(db_path, checkpoint_id)["status"] == "failed" and not partial.exists()


# --- SQLite files ---------------------------------------------------------------------------------------


def make_sqlite(path: Path, journal: str) -> None:
    with open_db(path) as conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, pad TEXT NOT NULL)")


class BatchWriter(threading.Thread):
    """Commits batches of 100 rows as fast as it can until stopped: a snapshot must hold whole batches."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop, self.batches, self.error = path, threading.Event(), 0, None

    def run(self) -> None:
        try:
            with open_db(self.path) as conn:
                conn.execute("PRAGMA busy_timeout=10000")
                while not self.stop.is_set():
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany("INSERT INTO t (batch, pad) VALUES (?, ?)", [(self.batches, "x" * 200)] * 100)
                    conn.execute("COMMIT")
                    self.batches += 1
        except Exception as exc:  # reported by the test
            self.error = exc


@pytest.mark.parametrize("journal", ["wal", "delete"])
async def test_sqlite_file_is_copied_by_the_backup_api_consistently_while_it_is_written(
    db, db_path, root, tmp_path, journal
):
    data = tmp_path / "app.db"
    make_sqlite(data, journal)
    writer = BatchWriter(data)
    writer.start()
    try:
        wait_until(lambda: writer.batches >= 20, message="writer made no progress")
        result = await take_checkpoint(checkpoint(data, name="app-db"), db=db, root=root)
        wait_until(lambda: writer.batches >= 40, message="writer stalled after the checkpoint")
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None and result.ok, result.message

    copy = tmp_path / "copy.db"
    shutil.copyfile(Path(result.location) / cf.stored_name(str(data)), copy)
    assert [n for n in os.listdir(result.location) if n.endswith(cf.SIDECARS)] == []
    with open_db(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, batches, top = conn.execute("SELECT count(*), count(DISTINCT batch), max(id) FROM t").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert count > 0 and count == batches * 100 == top  # whole transactions only, none torn
    assert mode == journal  # the copy keeps the source's journal mode


async def test_sqlite_restore_drops_the_stale_wal_of_the_database_it_replaces(db, root, tmp_path):
    data = tmp_path / "app.db"
    make_sqlite(data, "wal")
    with open_db(data) as conn:
        conn.execute("INSERT INTO t (batch, pad) VALUES (1, 'checkpointed')")
    taken = await take_checkpoint(checkpoint(data, name="app-db"), db=db, root=root)
    # Later writes sit in the -wal, and the app dies before they are checkpointed into the main file.
    conn = sqlite3.connect(data, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO t (batch, pad) VALUES (2, 'later')")
        shutil.copyfile(str(data) + "-wal", tmp_path / "hot-wal")
    finally:
        conn.close()
    shutil.copyfile(tmp_path / "hot-wal", str(data) + "-wal")

    assert (await restore_checkpoint("app-db", db=db)).ok
    with open_db(data) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT pad FROM t").fetchall() == [("checkpointed",)]
    assert taken.ok


async def test_a_corrupted_database_is_restored_to_a_healthy_one(db, root, tmp_path):
    data = tmp_path / "app.db"
    make_sqlite(data, "delete")
    with open_db(data) as conn:
        conn.executemany("INSERT INTO t (batch, pad) VALUES (?, ?)", [(i, "y" * 500) for i in range(200)])
    assert (await take_checkpoint(checkpoint(data, name="app-db"), db=db, root=root)).ok
    with open(data, "r+b") as f:  # garbage over the second page onwards
        f.seek(4096)
        f.write(os.urandom(8192))
    assert (await restore_checkpoint("app-db", db=db)).ok
    with open_db(data) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 200
