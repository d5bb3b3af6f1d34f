"""Alembic environment for healerd.

healerd runs migrations itself (`healerd migrate`, `healerd run`), through daemon.store.migrate, which
passes the database path in `config.attributes["db_path"]`; no alembic.ini is needed at run time. The
repository's alembic.ini exists only so developers can run `alembic revision --autogenerate` and sets
`sqlalchemy.url` instead.

Logging is deliberately not configured here (no `fileConfig`): Alembic's records go through the stdlib
logging that daemon/logs.py set up, like every other library's.
"""

from __future__ import annotations

import logging

from alembic import context

from daemon.store import models
from daemon.store.sqlite import create_engine

config = context.config

if config.config_file_name is not None and not logging.getLogger().handlers:
    # Run from the alembic command line by a developer: show Alembic's progress on stderr.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")


def _db_path() -> str:
    path = config.attributes.get("db_path")
    if path is not None:
        return str(path)
    url = config.get_main_option("sqlalchemy.url") or ""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise RuntimeError(f"healerd migrates SQLite files only; set sqlalchemy.url = sqlite:///PATH (got {url!r})")
    return url[len(prefix) :]


def run_migrations_online() -> None:
    # Foreign keys off for the migration's connection: batch mode rebuilds tables that others refer
    # to (drop + rename), which SQLite would otherwise refuse or cascade. daemon.store.migrate runs
    # `PRAGMA foreign_key_check` afterwards, so a migration cannot leave dangling references behind.
    engine = create_engine(_db_path(), foreign_keys=False)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=models.metadata,
                # SQLite can only add columns in place; everything else rebuilds the table.
                render_as_batch=True,
                # Each revision commits on its own, so a failure leaves the file at the last good
                # revision instead of rolling back work that had already succeeded.
                transaction_per_migration=True,
                # DDL is transactional on SQLite once pysqlite's own transaction handling is off,
                # which daemon.store.sqlite.create_engine does: a failed revision rolls back whole.
                transactional_ddl=True,
                compare_type=True,
                compare_server_default=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("healerd does not support offline (--sql) migrations: SQLite needs batch mode")
run_migrations_online()
