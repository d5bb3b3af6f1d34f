"""Bring a database file to the schema this code expects, or say clearly why not.

Alembic is configured in code (no alembic.ini at run time) so an installed wheel migrates exactly like
a source checkout. Every failure becomes a MigrationError naming the file and the cause, because
`healerd run` must refuse to start with a message an operator can act on (exit 3), not a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from daemon import paths
from daemon.errors import MigrationError
from daemon.store.revision import versions as read_versions
from daemon.store.sqlite import connect

log = logging.getLogger(__name__)


def _config(db_path: str | os.PathLike[str] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(paths.migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    if db_path is not None:
        cfg.attributes["db_path"] = os.fspath(db_path)
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def heads() -> tuple[str, ...]:
    """Head revisions of the migrations shipped with this code (exactly one, or it is a bug)."""
    return tuple(_script().get_heads())


def head() -> str:
    found = heads()
    if len(found) != 1:
        raise MigrationError(f"the migrations have {len(found)} heads ({', '.join(found)}); expected one")
    return found[0]


def current(db_path: str | os.PathLike[str]) -> str | None:
    """The database's revision; None for a missing or never-migrated file. Opens read-only."""
    path = Path(db_path)
    try:
        rows = read_versions(path)
    except sqlite3.Error as exc:
        raise MigrationError(_explain(exc, path)) from exc
    if not rows:
        return None
    if len(rows) > 1:
        raise MigrationError(f"database {path} has several revisions ({', '.join(rows)})")
    return rows[0]


def status(db_path: str | os.PathLike[str]) -> tuple[str | None, str]:
    """(the database's revision or None, this code's head revision)."""
    return current(db_path), head()


def upgrade(db_path: str | os.PathLike[str], *, force: bool = False) -> str:
    """Migrate to head (creating the file and its directory if needed); returns the head revision.

    A SQLite file that already holds other tables and no healerd schema is refused unless `force`: a
    mistyped --db must not graft healerd's 20 tables onto another application's database."""
    path = Path(db_path)
    target = head()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MigrationError(f"cannot create the directory of database {path}: {exc.strerror or exc}") from exc
    from daemon.store.probe import refuse_to_adopt

    refuse_to_adopt(path, force=force)  # a healerd database (any revision) is never foreign
    revision = current(path)
    _refuse_unknown(path, revision)
    if revision == target:
        log.debug("database %s already at head %s", path, target)
        return target
    log.info("migrating database %s from %s to %s", path, revision or "empty", target)
    _run(command.upgrade, path, "head")
    _check_foreign_keys(path)
    return target


def downgrade(db_path: str | os.PathLike[str], revision: str) -> None:
    """Migrate down to `revision` ("base" empties the schema). For development and tests."""
    path = Path(db_path)
    if not path.is_file():
        raise MigrationError(f"database {path} does not exist")
    _refuse_unknown(path, current(path))
    _run(command.downgrade, path, revision)
    _check_foreign_keys(path)


def _refuse_unknown(path: Path, revision: str | None) -> None:
    if revision is None:
        return
    try:
        known = _script().get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise MigrationError(
            f"database {path} is at revision {revision}, which this version of healerd does not know: "
            "it was migrated by a newer healerd. Run that version, or point --db at another file."
        )


def _run(fn, path: Path, revision: str) -> None:
    try:
        fn(_config(path), revision)
    except MigrationError:
        raise
    except sqlalchemy.exc.DBAPIError as exc:
        raise MigrationError(_explain(exc.orig or exc, path)) from exc
    except sqlite3.Error as exc:
        raise MigrationError(_explain(exc, path)) from exc
    except CommandError as exc:
        raise MigrationError(f"cannot migrate database {path}: {exc}") from exc
    except OSError as exc:
        raise MigrationError(f"cannot migrate database {path}: {exc}") from exc


def _check_foreign_keys(path: Path) -> None:
    """Migrations run with foreign keys off (batch mode needs it); prove they left none dangling.

    Read-write on purpose: the last connection to close checkpoints the WAL and removes it, leaving
    the migrated database as one self-contained file (a read-only connection cannot do that).
    """
    conn = connect(path)
    try:
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    if broken:
        sample = "; ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5])
        raise MigrationError(f"migration left {len(broken)} broken foreign keys in {path}: {sample}")


def _explain(exc: BaseException, path: Path) -> str:
    text = str(exc)
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered:
        return f"{path} is not a healerd SQLite database ({text})"
    if "readonly" in lowered or "read-only" in lowered:
        return f"database {path} is read-only for this user ({text}); check the file and directory permissions"
    if "unable to open" in lowered:
        return f"cannot open database {path} ({text}); does its directory exist and is it writable?"
    if "locked" in lowered or "busy" in lowered:
        return f"database {path} is locked by another process ({text}); try again"
    return f"cannot migrate database {path}: {text}"
