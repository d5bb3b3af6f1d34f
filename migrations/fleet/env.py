"""Alembic environment of the fleet centre (PostgreSQL): a history separate from the local one.

Run by `healerd fleet migrate --url …` through daemon/store/fleet_migrate.py, which passes an open
SQLAlchemy connection in `config.attributes["connection"]`. The version lives in its own table,
`fleet_alembic_version`, so it can never be mistaken for a local database's revision.
"""

from __future__ import annotations

from alembic import context

from daemon.store import fleet_models

VERSION_TABLE = "fleet_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the fleet migrations run through `healerd fleet migrate --url …`")
context.configure(
    connection=connection,
    target_metadata=fleet_models.metadata,
    version_table=VERSION_TABLE,
    # PostgreSQL has transactional DDL: each revision commits on its own, like the local history.
    transaction_per_migration=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
