"""Apply the centre's views, kept as PostgreSQL files under `schema/fleet/views/`.

Same rules as the local views (store/schema_sql.py): one `CREATE VIEW NAME` per file named like it,
its leading comment is the summary `healerd fleet report --list` prints, and a changed file ships with
a fleet migration that calls `refresh()`. Each file is the PostgreSQL version of a local view with a
`host` column first, or a fleet-only view (`fleet_*`). The per-host views read only tables; the
`fleet_*` views may read the per-host ones, so those are applied first (then each group by name).
"""

from __future__ import annotations

from pathlib import Path

from daemon import paths
from daemon.store import schema_sql


def directory() -> Path:
    return paths.schema_dir() / "fleet"


def files() -> dict[str, Path]:
    found = schema_sql.files("view", directory())
    return dict(sorted(found.items(), key=lambda item: (item[0].startswith("fleet_"), item[0])))


def drop(conn) -> None:
    for name in reversed(list(files())):
        conn.exec_driver_sql(f'DROP VIEW IF EXISTS "{name}" CASCADE')


def apply(conn) -> None:
    for name, path in files().items():
        sql = path.read_text(encoding="utf-8")
        schema_sql.check_names_itself("view", name, sql, path)
        conn.exec_driver_sql(sql)


def apply_as_of(conn, script, revision: str) -> None:
    """Create the views as fleet revision `revision` had them, from today's files.

    PostgreSQL checks a view's columns when it is created (SQLite does not), so an older revision cannot
    apply files written for a newer schema. Each revision that adds views lists them in `NEW_VIEWS`, and
    each that changes a file keeps the text it replaced in `OLD_SQL` (name → SQL); walking the revisions
    after `revision` (oldest first, from `script`, Alembic's ScriptDirectory) leaves out the views they
    added and takes, for a view changed since, the text the first of them replaced.
    """
    later = [s.module for s in script.walk_revisions(base=revision, head="heads") if s.revision != revision]
    leave_out: set[str] = set()
    old: dict[str, str] = {}
    for module in reversed(later):
        for name, sql in getattr(module, "OLD_SQL", {}).items():
            if name not in leave_out:
                old.setdefault(name, sql)
        leave_out.update(getattr(module, "NEW_VIEWS", ()))
    for name, path in files().items():
        if name in leave_out:
            continue
        sql = old.get(name) or path.read_text(encoding="utf-8")
        schema_sql.check_names_itself("view", name, sql, path)
        conn.exec_driver_sql(sql)


def refresh(conn, script=None, revision: str | None = None) -> None:
    """Drop every view and create them again: from the files, or as of `revision` (see apply_as_of),
    which is what a migration passes so that it still runs once later revisions changed the files."""
    drop(conn)
    if script is None:
        apply(conn)
    elif revision is None:
        raise TypeError("refresh(conn, script) needs the revision the script is at")
    else:
        apply_as_of(conn, script, revision)
