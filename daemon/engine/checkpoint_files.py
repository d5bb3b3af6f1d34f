"""The file side of checkpoints: copy in, checksum, copy back — blocking, so callers use a thread.

Why these rules:
- A version becomes visible only whole: files are written into `.<id>.tmp/`, each fsynced, then the
  directory is fsynced, renamed to `<id>/` and its parent fsynced. A crash leaves either no version or
  a complete one, never a half-written file that a restore could trust.
- SQLite files (recognised by their 16-byte header, not by name) are copied with the backup API in one
  step: it reads a consistent snapshot under SQLite's own locking, while a raw copy of a database that
  is being written can tear across pages and its -wal. The copy keeps the source's journal mode.
- The sha256 is computed over the bytes written into the checkpoint, so it describes the copy even if
  the source changed while it was read.
- Restore stages every file first (a temp file in the target's own directory, so the rename cannot cross
  filesystems), checking each staged file's sha256, and only then renames them into place: a full disk
  or a bad checksum fails before anything was replaced. A SQLite target's stale -wal/-shm/-journal are
  removed before the rename, or SQLite would replay the old database's log over the restored one.
  A symlinked path is restored through the link (the link stays, the file it names is replaced).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQLITE_HEADER = b"SQLite format 3\x00"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
#: Bound on waiting for a SQLite source's lock (a writer in rollback-journal mode holds it while it commits).
SQLITE_LOCK_WAIT_S = 30.0
SIDECARS = ("-wal", "-shm", "-journal")


class CheckpointFileError(Exception):
    """A path could not be checkpointed or restored; the message is for the operator."""


@dataclass(frozen=True)
class StoredFile:
    path: str  # the original absolute path
    stored: str  # file name inside the version directory
    sha256: str
    size: int
    mode: int
    uid: int
    gid: int
    sqlite: bool


def stored_name(path: str) -> str:
    """Deterministic from the path, so a version can be verified from its DB row alone."""
    digest = hashlib.sha256(path.encode("utf-8", errors="surrogateescape")).hexdigest()[:16]
    return f"{digest}-{os.path.basename(path) or 'file'}"


def is_sqlite(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_bytes(src: str | os.PathLike[str], dst: str | os.PathLike[str], mode: int = 0o600) -> str:
    """Copy src to a new file dst (fsynced), returning the sha256 of what was written."""
    h = hashlib.sha256()
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as fout:
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
    return h.hexdigest()


def _backup_sqlite(src: str, dst: Path) -> None:
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_S

    def give_up_at_deadline(status: int, remaining: int, total: int) -> None:
        # CPython retries a busy step forever; this bounds it (raising here aborts the backup).
        if time.monotonic() > deadline:
            raise CheckpointFileError(f"{src}: database stayed locked for {SQLITE_LOCK_WAIT_S:g}s")

    source = sqlite3.connect(Path(src).absolute().as_uri() + "?mode=ro", uri=True, timeout=5.0)
    try:
        target = sqlite3.connect(dst)
        try:
            # One step (pages=-1): the whole database from one read snapshot.
            source.backup(target, pages=-1, progress=give_up_at_deadline)
        finally:
            target.close()
    finally:
        source.close()
    for suffix in SIDECARS:  # nothing should be left, but a sidecar must never end up in a version
        Path(str(dst) + suffix).unlink(missing_ok=True)
    _fsync_file(dst)


def copy_in(path: str, directory: Path) -> StoredFile:
    """Copy one source file into a (temporary) version directory."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointFileError(f"{path} does not exist") from None
    except OSError as exc:
        raise CheckpointFileError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointFileError(f"{path} is not a regular file (checkpoint paths name files)")
    name = stored_name(path)
    dst = directory / name
    sqlite = is_sqlite(path)
    try:
        if sqlite:
            _backup_sqlite(path, dst)
            os.chmod(dst, 0o600)
            digest = sha256_file(dst)
        else:
            digest = _copy_bytes(path, dst)
    except (OSError, sqlite3.Error) as exc:
        raise CheckpointFileError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    return StoredFile(path, name, digest, dst.stat().st_size, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, sqlite)


def write_version(paths: list[str], final: Path, meta: dict[str, Any]) -> list[StoredFile]:
    """Copy `paths` into `final` atomically (all or nothing); raises CheckpointFileError."""
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = parent / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        stored = [copy_in(p, tmp) for p in dict.fromkeys(paths)]  # a path listed twice is copied once
        manifest = {**meta, "files": [f.__dict__ for f in stored]}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stored


def verify_files(location: str, files: dict[str, str]) -> list[str]:
    """Sentences for every stored file that is missing or whose sha256 differs; empty when intact."""
    problems = []
    for path, expected in sorted(files.items()):
        stored = Path(location) / stored_name(path)
        try:
            actual = sha256_file(stored)
        except FileNotFoundError:
            problems.append(f"{path}: stored copy {stored} is missing")
            continue
        except OSError as exc:
            problems.append(f"{path}: stored copy unreadable: {exc.strerror or exc}")
            continue
        if actual != expected:
            problems.append(f"{path}: sha256 {actual[:12]}… != recorded {expected[:12]}…")
    if not files:
        problems.append("the version records no files")
    return problems


def _manifest_entries(location: str) -> dict[str, dict[str, Any]]:
    try:
        with open(Path(location) / MANIFEST, encoding="utf-8") as f:
            return {e["path"]: e for e in json.load(f).get("files", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # only modes and owners come from it; the DB row is the authority for content


def restore_files(location: str, files: dict[str, str]) -> list[str]:
    """Put every stored file back at its path; returns the paths replaced. Raises CheckpointFileError."""
    manifest = _manifest_entries(location)
    staged: list[tuple[Path, Path, bool]] = []
    try:
        for path, expected in sorted(files.items()):
            # Through symlinks: a linked config stays a link, and the file it names gets the content.
            target = Path(os.path.realpath(path))
            staged.append(_stage(Path(location) / stored_name(path), target, expected, manifest.get(path, {})))
    except BaseException:
        for temp, _, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    done: list[str] = []
    for i, (temp, target, sqlite) in enumerate(staged):
        try:
            if sqlite:
                for suffix in SIDECARS:
                    Path(str(target) + suffix).unlink(missing_ok=True)
            os.replace(temp, target)
            fsync_dir(target.parent)
        except OSError as exc:
            for leftover, _, _ in staged[i:]:
                leftover.unlink(missing_ok=True)
            replaced = f" (already replaced: {', '.join(done)})" if done else ""
            raise CheckpointFileError(f"{target}: {exc.strerror or exc}{replaced}") from None
        done.append(str(target))
    return done


def _stage(stored: Path, target: Path, expected: str, entry: dict[str, Any]) -> tuple[Path, Path, bool]:
    """A verified copy of `stored` next to `target`, with the target's (or the recorded) mode and owner."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".{target.name}.healerd-restore-{uuid.uuid4().hex[:8]}"
        digest = _copy_bytes(stored, temp)
    except OSError as exc:
        raise CheckpointFileError(f"{target}: cannot stage the restore: {exc.strerror or exc}") from None
    if digest != expected:
        temp.unlink(missing_ok=True)
        raise CheckpointFileError(f"{stored}: changed while restoring (sha256 {digest[:12]}… != {expected[:12]}…)")
    try:
        st = os.stat(target)
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    except OSError:
        mode, uid, gid = entry.get("mode", 0o644), entry.get("uid", -1), entry.get("gid", -1)
    os.chmod(temp, mode)
    try:
        os.chown(temp, uid, gid)
    except OSError:
        pass  # not root: the file stays ours, which is what an unprivileged restore can do
    return temp, target, is_sqlite(temp)


def remove_version(location: str) -> None:
    shutil.rmtree(location, ignore_errors=True)
