"""Is this file a healerd database? Asked before any verb reads or writes one.

Without this, a read verb on an empty or foreign SQLite file died with `no such table`, `report --list`
printed nothing and exited 0, and a write verb created an empty file where the operator mistyped a path.
Every verb now names the path and what to do, with one exit code (EXIT_NOT_A_DATABASE).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from daemon.errors import NotAHealerdDatabase, WrongDatabaseFile
from daemon.store.sqlite import connect

#: Tables whose presence makes a file healerd's (alembic_version alone could be another app's).
SIGNATURE_TABLES = ("alembic_version", "components", "breakers")


def user_tables(path: str | os.PathLike[str]) -> list[str] | None:
    """Names of the file's own tables (None when it is not SQLite at all); opens read-only."""
    try:
        conn = connect(path, readonly=True)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            return None
        raise NotAHealerdDatabase(f"cannot read {path}: {exc}") from None
    return [row[0] for row in rows]


def is_foreign(path: str | os.PathLike[str]) -> list[str]:
    """The tables of an existing SQLite file that holds tables but not healerd's schema ([] otherwise):
    what `run` and `migrate` refuse to add healerd's schema to without --force."""
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        return []
    tables = [t for t in user_tables(path) or [] if t != "alembic_version"]  # a downgrade to base leaves it
    if not tables:
        return []
    return [] if all(t in tables for t in SIGNATURE_TABLES[1:]) else tables


def foreign_message(path: str | os.PathLike[str], tables: list[str]) -> str:
    """One wording for "this SQLite file belongs to another application", for read verbs and migrate."""
    shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
    return f"{path} is another application's SQLite database (tables: {shown}), not healerd's"


def refuse_to_adopt(path: str | os.PathLike[str], *, force: bool = False) -> None:
    """WrongDatabaseFile for a path `run`/`migrate` must not put healerd's schema into: a directory, or
    (unless `force`) another application's SQLite file. One wording for both verbs."""
    if Path(path).is_dir():
        raise WrongDatabaseFile(f"database path {path} is a directory, not a file")
    foreign = [] if force else is_foreign(path)
    if foreign:
        raise WrongDatabaseFile(
            f"{foreign_message(path, foreign)}; refusing to add healerd's schema to it "
            "(use --force if that is what you want)"
        )


def require_healerd_db(path: str | os.PathLike[str]) -> Path:
    """PATH if it is a migrated healerd database; NotAHealerdDatabase with the remedy otherwise."""
    path = Path(path)
    try:
        path.stat()
    except PermissionError:
        raise NotAHealerdDatabase(f"{path} is not readable by this user (try sudo)") from None
    except OSError:
        raise NotAHealerdDatabase(
            f"{path} does not exist; is the daemon running with another --db (or $HEALERD_DB)? "
            f"`healerd migrate --db {path}` creates an empty one"
        ) from None
    if path.is_dir():
        raise NotAHealerdDatabase(f"{path} is a directory, not a database file")
    if not path.is_file():
        raise NotAHealerdDatabase(f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise NotAHealerdDatabase(f"{path} is not readable by this user (try sudo)")
    tables = user_tables(path)
    if tables is None:
        raise NotAHealerdDatabase(f"{path} is not a SQLite database")
    missing = [t for t in SIGNATURE_TABLES if t not in tables]
    foreign = is_foreign(path) if missing else []
    if foreign:
        # Suggesting a plain `healerd migrate` here sent operators to a command that refuses the file.
        raise NotAHealerdDatabase(
            f"{foreign_message(path, foreign)}; is --db (or $HEALERD_DB) right? "
            f"`healerd migrate --db {path} --force` would add healerd's schema to it"
        )
    if missing:
        raise NotAHealerdDatabase(f"{path} is not a healerd database (no schema); run `healerd migrate --db {path}`")
    return path
