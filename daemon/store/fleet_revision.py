"""The version handshake with the fleet centre, without importing Alembic.

The shipper asks it once per connection to the centre: Alembic, Mako and the parse of every migration
script would otherwise live in the daemon's memory for good (the local database's handshake avoids
them the same way, store/revision.py). The fleet scripts' revision lines are read with that module's
regular expressions and the centre's `fleet_alembic_version` with a plain SELECT. If the scripts cannot
be read that simply, the caller falls back to Alembic (store/fleet_migrate.py), never to a guess.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from daemon import paths
from daemon.errors import FleetSchemaError
from daemon.store.revision import script_revisions

VERSION_TABLE = "fleet_alembic_version"


def scripts() -> tuple[str, set[str]] | None:
    """(head, every known revision) of the shipped fleet migrations; None when Alembic must tell."""
    found = script_revisions(paths.migrations_dir() / "fleet" / "versions")
    if found is None:
        return None
    revisions, parents = found
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return next(iter(heads)), revisions


def current(conn: Connection) -> str | None:
    """The centre's fleet revision (None: never migrated)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = [row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(rows) > 1:
        raise FleetSchemaError(f"the centre's {VERSION_TABLE} names several revisions ({', '.join(rows)})")
    return rows[0] if rows else None


def check_compatible(conn: Connection) -> str:
    """The centre's revision when it equals ours; FleetSchemaError (saying what to do) otherwise."""
    found = scripts()
    if found is None:  # a merge revision or an unreadable script: Alembic's answer, at its memory cost
        from daemon.store import fleet_migrate

        return fleet_migrate.check_compatible(conn)
    ours, known = found
    return compare(ours, current(conn), known.__contains__)


def compare(ours: str, theirs: str | None, known: Callable[[str], bool]) -> str:
    """`theirs` when it is `ours`; otherwise FleetSchemaError saying which side to upgrade."""
    if theirs == ours:
        return theirs
    if theirs is None:
        raise FleetSchemaError(
            f"the centre has no healerd fleet schema yet (this host needs fleet revision {ours}): "
            "run `healerd fleet migrate --url …` once"
        )
    if not known(theirs):
        raise FleetSchemaError(unknown_message(theirs))
    raise FleetSchemaError(
        f"the centre's schema is at fleet revision {theirs}, older than this host's {ours}: run "
        "`healerd fleet migrate --url …` with this version of healerd; nothing is shipped until then"
    )


def unknown_message(revision: str) -> str:
    return (
        f"the centre's schema is at fleet revision {revision}, which this healerd does not know: it was "
        "migrated by a newer healerd. Upgrade healerd on this host."
    )
