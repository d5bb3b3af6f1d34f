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
        schema_sql._check_names_itself("view", name, sql, path)
        conn.exec_driver_sql(sql)


def refresh(conn) -> None:
    drop(conn)
    apply(conn)
