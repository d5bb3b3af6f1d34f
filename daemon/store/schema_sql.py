"""Apply the SQL views and triggers kept as files under `schema/` to a database.

Views are healerd's public reports and are easier to review as SQL files than as strings inside a
migration. The files are the single source; migrations call `refresh()` so the database carries the
version of the files that shipped with the migration that last ran. Rules for the files:

* `schema/views/NAME.sql` holds exactly one `CREATE VIEW NAME ...` statement; likewise
  `schema/triggers/NAME.sql` holds one `CREATE TRIGGER NAME ...` (trigger bodies contain semicolons, so
  one statement per file is what lets them be run without an SQL splitter);
* a leading `--` comment describes the object: its first line is the summary `healerd report --list`
  prints.

SQLite refuses to rebuild a table (what Alembic's batch mode does for most ALTERs) while a view refers
to it, and dropping the table drops its triggers; wrap batch operations in `objects_dropped()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from daemon import paths

KINDS = ("view", "trigger")
_DIRS = {"view": "views", "trigger": "triggers"}


class _Executes(Protocol):
    def exec_driver_sql(self, statement: str, parameters: Any = ...) -> Any: ...


def files(kind: str, schema_dir: Path | None = None) -> dict[str, Path]:
    """NAME → path of every `schema/<kind>s/NAME.sql`, sorted by name."""
    if kind not in _DIRS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    directory = (schema_dir or paths.schema_dir()) / _DIRS[kind]
    return {p.stem: p for p in sorted(directory.glob("*.sql"))}


def read(kind: str, name: str, schema_dir: Path | None = None) -> str:
    return files(kind, schema_dir)[name].read_text(encoding="utf-8")


def summary(sql: str) -> str:
    """First line of the file's leading comment, or an empty string."""
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("--"):
            return stripped.lstrip("-").strip()
        break
    return ""


def normalize(sql: str) -> str:
    """SQL without comments, case-folded outside string literals, whitespace collapsed.

    SQLite stores a CREATE statement's text from `CREATE` onwards exactly as written, so comparing the
    normalized file with the normalized `sqlite_master.sql` tells whether the database has this file's
    version of the object.
    """
    out: list[str] = []
    for token in re.finditer(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\s+|[^'\"\s-]+|-", sql, re.S):
        text = token.group(0)
        if text.startswith("--") or text.startswith("/*"):
            out.append(" ")
        elif text[0] in "'\"":
            out.append(text)
        elif text.isspace():
            out.append(" ")
        else:
            out.append(text.lower())
    collapsed = re.sub(r"\s+", " ", "".join(out)).strip()
    collapsed = re.sub(r"\s*([(),;])\s*", r"\1", collapsed)
    return collapsed.rstrip(";").strip()


def _tables(conn: _Executes) -> set[str]:
    return {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _execute(conn: _Executes, sql: str) -> None:
    conn.exec_driver_sql(sql)


def drop(conn: _Executes, schema_dir: Path | None = None) -> None:
    """Drop every view and trigger that has a file (triggers first: a trigger may select from a view).

    A view file whose name is a table here belongs to a later revision (see `apply`): nothing to drop.
    """
    tables = _tables(conn)
    for kind in reversed(KINDS):
        for name in files(kind, schema_dir):
            if kind == "view" and name in tables:
                continue
            _execute(conn, f'DROP {kind.upper()} IF EXISTS "{name}"')


def apply(conn: _Executes, schema_dir: Path | None = None) -> None:
    """Create every view, then every trigger, from its file. Objects must not exist yet.

    A view whose name is still taken by a *table* is skipped: an older revision is running (the view
    replaced that table later, e.g. `feature_flags` in 0004), and the revision that renames the table
    creates the view.
    """
    tables = _tables(conn)
    for kind in KINDS:
        for name, path in files(kind, schema_dir).items():
            if kind == "view" and name in tables:
                continue
            sql = path.read_text(encoding="utf-8")
            check_names_itself(kind, name, sql, path)
            _execute(conn, sql)


def refresh(conn: _Executes, schema_dir: Path | None = None) -> None:
    """Drop and re-create every view and trigger from the files: what a migration calls."""
    drop(conn, schema_dir)
    apply(conn, schema_dir)


@contextmanager
def objects_dropped(conn: _Executes, schema_dir: Path | None = None) -> Iterator[None]:
    """Run a batch (table-rebuilding) migration step with the views and triggers out of the way."""
    drop(conn, schema_dir)
    yield
    apply(conn, schema_dir)


def check_names_itself(kind: str, name: str, sql: str, path: Path) -> None:
    pattern = rf"create\s+(?:temp\s+|temporary\s+)?{kind}\s+(?:if\s+not\s+exists\s+)?\"?{re.escape(name)}\"?[\s(]"
    if not re.search(pattern, normalize(sql) + " ", re.I):
        raise ValueError(f"{path} must contain one CREATE {kind.upper()} {name} statement (named like the file)")
