"""The centre's schema: its own Alembic history, equal to the models, views that run, version refusal."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from daemon.errors import FleetSchemaError
from daemon.store import fleet_migrate, fleet_models, fleet_views, models


def test_fleet_history_has_one_head_separate_from_the_local_one():
    from daemon.store import migrate

    assert fleet_migrate.head() == "f002"
    assert migrate.head() != fleet_migrate.head()


def test_migrated_centre_equals_the_fleet_models(centre):
    with centre.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": fleet_migrate.VERSION_TABLE, "compare_type": True}
        )
        diff = [
            d
            for d in compare_metadata(ctx, fleet_models.metadata)
            if not (d[0] == "remove_table" and d[1].name == fleet_migrate.VERSION_TABLE)
        ]
    assert diff == []


def test_every_shipped_table_is_the_local_one_plus_host_keyed_on_host_and_local_key():
    for spec in fleet_models.SHIPPED:
        local = models.metadata.tables[spec.table]
        central = fleet_models.metadata.tables[spec.table]
        assert [c.name for c in central.columns] == ["host", *(c.name for c in local.columns)]
        assert [c.name for c in central.primary_key.columns] == ["host", *(c.name for c in local.primary_key.columns)]


def test_every_local_view_has_a_postgresql_version_and_all_views_run(centre):
    from daemon.store import schema_sql

    central = set(fleet_views.files())
    assert set(schema_sql.files("view")) <= central
    assert {
        "fleet_hosts",
        "fleet_current_status",
        "fleet_open_incidents",
        "fleet_availability_24h",
        "fleet_recovery_success_rate",
    } <= central
    with centre.engine.connect() as conn:
        for name in central:
            result = conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            assert "host" in result.keys() or name.startswith("fleet_"), name  # noqa: SIM118 - a CursorResult, not a dict


def test_downgrade_to_base_and_up_again(centre):
    fleet_migrate.downgrade(centre.engine, "base")
    with centre.engine.connect() as conn:
        assert fleet_migrate.current(conn) is None
        assert "check_results" not in sa.inspect(conn).get_table_names()
    fleet_migrate.upgrade(centre.engine)
    with centre.engine.connect() as conn:
        assert fleet_migrate.current(conn) == fleet_migrate.head()


def test_an_unmigrated_centre_is_refused_with_what_to_run(empty_centre):
    with empty_centre.engine.connect() as conn, pytest.raises(FleetSchemaError, match="healerd fleet migrate"):
        fleet_migrate.check_compatible(conn)


def test_a_centre_from_a_newer_healerd_is_refused(centre):
    with centre.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {fleet_migrate.VERSION_TABLE} SET version_num = 'f999'"))
    with centre.engine.connect() as conn, pytest.raises(FleetSchemaError, match="newer healerd"):
        fleet_migrate.check_compatible(conn)
    with pytest.raises(FleetSchemaError, match="newer healerd"):
        fleet_migrate.upgrade(centre.engine)


def test_downgrade_to_f001_puts_back_its_views_and_upgrade_brings_f002s(centre):
    f002 = fleet_migrate._script().get_revision("f002").module

    def view_columns(conn, name):
        return [c["name"] for c in sa.inspect(conn).get_columns(name)]

    fleet_migrate.downgrade(centre.engine, "f001")
    with centre.engine.connect() as conn:
        views = set(sa.inspect(conn).get_view_names())
        assert views.isdisjoint(f002.NEW_VIEWS)
        assert "maintenance_periods" not in sa.inspect(conn).get_table_names()
        assert "maintenance_checks" not in view_columns(conn, "component_availability_24h")
        assert views == set(fleet_views.files()) - f002.NEW_VIEWS
        for name in views:
            conn.execute(sa.text(f'SELECT * FROM "{name}"'))
        for name, sql in f002.OLD_SQL.items():  # f001's text, exactly
            stored = conn.execute(sa.text("SELECT pg_get_viewdef(CAST(:n AS regclass))"), {"n": name}).scalar()
            conn.exec_driver_sql(sql.replace(f"CREATE VIEW {name}", f"CREATE TEMP VIEW f001_{name}"))
            assert (
                conn.execute(sa.text("SELECT pg_get_viewdef(CAST(:n AS regclass))"), {"n": f"f001_{name}"}).scalar()
                == stored
            )
        conn.rollback()
    fleet_migrate.upgrade(centre.engine)
    with centre.engine.connect() as conn:
        assert set(sa.inspect(conn).get_view_names()) == set(fleet_views.files())
        assert "maintenance_checks" in view_columns(conn, "component_availability_24h")
        assert "maintenance_checks" in view_columns(conn, "fleet_availability_24h")


def test_the_shippers_handshake_reads_the_same_head_and_revisions_as_alembic_without_importing_it():
    """The daemon's shipper used fleet_migrate (Alembic, Mako, every script parsed) for one SELECT."""
    import subprocess
    import sys

    from daemon.store import fleet_revision

    head, known = fleet_revision.scripts()
    assert head == fleet_migrate.head()
    assert known == {rev.revision for rev in fleet_migrate._script().walk_revisions()}
    probe = (
        "import sys, daemon.service.fleet; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_shippers_handshake_refuses_an_unmigrated_centre(empty_centre):
    from daemon.store import fleet_revision

    with empty_centre.engine.connect() as conn, pytest.raises(FleetSchemaError, match="healerd fleet migrate"):
        fleet_revision.check_compatible(conn)


def test_the_shippers_handshake_accepts_its_head_and_refuses_an_older_and_a_newer_centre(centre):
    from daemon.store import fleet_revision

    with centre.engine.connect() as conn:
        assert fleet_revision.check_compatible(conn) == fleet_migrate.head()
    fleet_migrate.downgrade(centre.engine, "f001")
    with centre.engine.connect() as conn, pytest.raises(FleetSchemaError, match="older than this host's"):
        fleet_revision.check_compatible(conn)
    with centre.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {fleet_migrate.VERSION_TABLE} SET version_num = 'f999'"))
    with centre.engine.connect() as conn, pytest.raises(FleetSchemaError, match="newer healerd"):
        fleet_revision.check_compatible(conn)
