"""Fixtures for a real PostgreSQL (fleet tests): `.ci/run`'s cluster ($HEALERD_TEST_PG_URL), or our own.

With $HEALERD_TEST_PG_URL set (and $HEALERD_TEST_PG_PASSWORD_FILE), the tests use that server; otherwise
the session starts a throwaway cluster in a temp dir on a free port (tests/pgcluster.py) and stops it by
pid at the end. Each test gets its own database, migrated by the fleet history. Where PostgreSQL cannot
be had, the tests skip and say why. Test modules outside tests/fleet/ import these fixtures by name.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pgcluster
import pytest
import sqlalchemy as sa

from daemon.store import fleet_central, fleet_migrate


@dataclass
class PgServer:
    base_url: str  # ends in /postgres
    password_file: str
    cluster: pgcluster.Cluster | None = None

    def url(self, database: str) -> str:
        return self.base_url.rsplit("/", 1)[0] + "/" + database

    def engine(self, database: str = "postgres") -> sa.Engine:
        return fleet_central.make_engine(self.url(database), self.password_file)


def start_private_cluster() -> pgcluster.Cluster:
    directory = Path(tempfile.mkdtemp(prefix="healerd-pg-"))
    try:
        return pgcluster.create(directory)
    except pgcluster.Unavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("HEALERD_TEST_PG_URL")
    if url:
        yield PgServer(url, os.environ["HEALERD_TEST_PG_PASSWORD_FILE"])
        return
    cluster = start_private_cluster()
    try:
        yield PgServer(cluster.url(), str(cluster.password_file), cluster)
    finally:
        cluster.destroy()


@dataclass
class Centre:
    url: str
    password_file: str
    engine: sa.Engine

    def rows(self, sql: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def new_database(server: PgServer) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    admin = server.engine()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return name


def drop_database(server: PgServer, name: str) -> None:
    admin = server.engine()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def empty_centre(pg_server: PgServer) -> Iterator[Centre]:
    """A fresh, unmigrated database on the server."""
    name = new_database(pg_server)
    engine = pg_server.engine(name)
    yield Centre(pg_server.url(name), pg_server.password_file, engine)
    engine.dispose()
    drop_database(pg_server, name)


@pytest.fixture
def centre(empty_centre: Centre) -> Centre:
    """A fresh database migrated to the fleet head."""
    fleet_migrate.upgrade(empty_centre.engine)
    return empty_centre
