"""Is the database already at this code's head revision? Answered without importing Alembic.

Alembic, Mako and their parsing of every migration script cost the daemon ~14 MB of RSS for its whole
life, for a question whose answer is almost always "yes, nothing to do". The migration scripts'
`revision = '…'` / `down_revision = '…'` lines are read with a regular expression, and the database's
`alembic_version` with sqlite3. Anything unexpected (a merge revision, a tuple, an unreadable file)
answers False, and the caller then runs the real migration: a wrong "no" costs a subprocess, a wrong
"yes" is impossible by construction (the DB must name the single head found).
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from daemon import paths
from daemon.store.sqlite import readonly_uri

_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"^['\"]([^'\"]+)['\"]$")


def script_head(versions: Path | None = None) -> str | None:
    """The single head of the shipped migrations, or None if it cannot be told for sure."""
    found = script_revisions(versions)
    if found is None:
        return None
    revisions, parents = found
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def script_revisions(versions: Path | None = None) -> tuple[set[str], set[str]] | None:
    """(every revision, every revision that has a child) of a versions directory (default: the local
    database's), or None when a script cannot be read this simply (Alembic must decide then)."""
    versions = versions or paths.migrations_dir() / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        files = sorted(versions.glob("*.py"))
        for file in files:
            text = file.read_text(encoding="utf-8")
            rev, down = _REVISION.findall(text), _DOWN.findall(text)
            if len(rev) != 1 or len(down) != 1:
                return None
            revisions.add(rev[0])
            if down[0] != "None":
                quoted = _QUOTED.match(down[0])
                if quoted is None:
                    return None  # a merge (tuple) or something computed: let Alembic decide
                parents.add(quoted.group(1))
    except OSError:
        return None
    return revisions, parents


def versions(db_path: str | os.PathLike[str]) -> list[str] | None:
    """The rows of alembic_version; None for a missing file or one never migrated. sqlite3.Error
    (not a database, locked past the timeout) is the caller's to turn into a message."""
    path = Path(db_path)
    if not path.is_file():
        return None
    conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=5)
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
        if not found:
            return None
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    finally:
        conn.close()


def current(db_path: str | os.PathLike[str]) -> str | None:
    """The database's revision, for reports that only show it (the fleet's host record): None when the
    file is missing, never migrated, unreadable or names several revisions."""
    try:
        rows = versions(db_path)
    except sqlite3.Error:
        return None
    return rows[0] if rows is not None and len(rows) == 1 else None


def at_head(db_path: str | os.PathLike[str]) -> bool:
    """True only when the file exists and its single alembic_version row is the scripts' head."""
    head = script_head()
    return head is not None and current(db_path) == head
