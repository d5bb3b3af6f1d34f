"""The centre's schema: its own Alembic history (`migrations/fleet/`), and the version handshake.

A host ships only to a centre at exactly the fleet revision its code was built with: an older centre
lacks columns the host would send, a newer one may have dropped or changed some. Either way writing
half the rows would leave the centre wrong in ways nobody sees, so the host refuses with a message
saying which side to upgrade (`check_compatible`), and keeps everything locally until they match.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from daemon import paths
from daemon.errors import FleetSchemaError
from daemon.store.fleet_revision import VERSION_TABLE, compare, unknown_message


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(paths.migrations_dir() / "fleet"))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    heads = _script().get_heads()
    if len(heads) != 1:
        raise FleetSchemaError(f"the fleet migrations have {len(heads)} heads; expected one")
    return heads[0]


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    with engine.begin() as conn:
        before = current(conn)
        _refuse_unknown(before)
        command.upgrade(_config(conn), revision)
        return current(conn) if before != revision else before


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)


def _known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def _refuse_unknown(revision: str | None) -> None:
    if revision is not None and not _known(revision):
        raise FleetSchemaError(unknown_message(revision))


def check_compatible(conn: Connection) -> str:
    """The centre's revision when it equals ours; FleetSchemaError (saying what to do) otherwise."""
    return compare(head(), current(conn), _known)
