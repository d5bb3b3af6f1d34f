"""The migrations build exactly the schema of daemon/store/models.py, and go down and up again."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from helpers import open_db
from sqlalchemy.dialects import sqlite as sqlite_dialect

from daemon import paths
from daemon.errors import MigrationError
from daemon.store import migrate, models, schema_sql
from daemon.store.sqlite import create_engine
from daemon.types import BreakerState, Level, Status

EXPECTED_VIEWS = {
    "current_system_status",
    "active_circuit_breakers",
    "recent_health_failures",
    "component_availability_24h",
    "maintenance_windows",
    "flapping_components",
    "component_availability_7d",
    "component_availability_30d",
    "shadow_decision_comparison",
    "recovery_success_rate",
    "active_degradation",
    "recovery_mttr",
    "chaos_experiment_results",
    "recovery_ladder_outcomes",
    "feature_flags",
}


def names(path: Path, kind: str) -> set[str]:
    with open_db(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,)).fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def test_migrations_have_a_single_head():
    assert len(migrate.heads()) == 1
    assert migrate.head() == migrate.heads()[0]


def test_migrations_are_found_in_the_source_checkout():
    assert paths.migrations_dir() == Path(__file__).resolve().parents[2] / "migrations"
    assert (paths.schema_dir() / "views").is_dir()


def test_empty_file_migrates_to_head_with_every_table_view_and_trigger(tmp_path):
    path = tmp_path / "deep" / "dir" / "healerd.db"
    assert migrate.status(path) == (None, migrate.head())
    assert migrate.upgrade(path) == migrate.head()
    assert migrate.status(path) == (migrate.head(), migrate.head())
    assert names(path, "table") == set(models.metadata.tables) | {"alembic_version"}
    assert names(path, "view") == EXPECTED_VIEWS == set(schema_sql.files("view"))
    assert names(path, "trigger") == set(schema_sql.files("trigger"))
    with open_db(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_upgrading_a_database_at_head_changes_nothing(db_path):
    before = db_path.read_bytes()
    assert migrate.upgrade(db_path) == migrate.head()
    assert db_path.read_bytes() == before


def test_status_of_a_missing_database_does_not_create_it(tmp_path):
    path = tmp_path / "absent.db"
    assert migrate.status(path) == (None, migrate.head())
    assert not path.exists()


def test_migrated_schema_equals_the_models(db_path):
    engine = create_engine(db_path, readonly=True)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, models.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _norm(sql: str) -> str:
    return " ".join(sql.replace("(", " ( ").replace(")", " ) ").split()).lower()


def test_check_constraints_in_the_database_equal_the_models_and_are_all_named(db_path):
    literal = {"literal_binds": True, "include_table": False}
    engine = create_engine(db_path, readonly=True)
    try:
        inspector = sa.inspect(engine)
        for table in models.metadata.sorted_tables:
            expected = {
                (str(c.name), _norm(str(c.sqltext.compile(dialect=sqlite_dialect.dialect(), compile_kwargs=literal))))
                for c in table.constraints
                if isinstance(c, sa.CheckConstraint)
            }
            actual = {(c["name"], _norm(c["sqltext"])) for c in inspector.get_check_constraints(table.name)}
            assert actual == expected, table.name
            assert all(name.startswith(f"ck_{table.name}_") for name, _ in actual)
    finally:
        engine.dispose()


def test_stored_value_sets_match_the_domain_enums():
    from daemon.store import columns

    assert set(columns.STATUSES) == {s.value for s in Status}
    assert set(columns.BREAKER_STATES) == {s.value for s in BreakerState}
    assert set(columns.LEVELS) == {level.value for level in Level}


def _indexes(conn: sqlite3.Connection, table: str) -> list[tuple[str, ...]]:
    found = []
    for _, index_name, *_ in conn.execute(f'PRAGMA index_list("{table}")'):
        cols = [row[2] for row in sorted(conn.execute(f'PRAGMA index_info("{index_name}")'))]
        found.append(tuple(cols))
    return found


def _rowid_alias(conn: sqlite3.Connection, table: str) -> str | None:
    pk = [row for row in conn.execute(f'PRAGMA table_info("{table}")') if row[5]]
    if len(pk) == 1 and pk[0][2].upper() == "INTEGER":
        return pk[0][1]
    return None


def test_every_foreign_key_is_covered_by_an_index(db_path):
    with open_db(db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        checked = 0
        for table in tables:
            keys: dict[int, list[tuple[int, str]]] = {}
            for fk_id, seq, _parent, column, *_ in conn.execute(f'PRAGMA foreign_key_list("{table}")'):
                keys.setdefault(fk_id, []).append((seq, column))
            indexes = _indexes(conn, table)
            alias = _rowid_alias(conn, table)
            for parts in keys.values():
                columns = tuple(c for _, c in sorted(parts))
                covered = any(ix[: len(columns)] == columns for ix in indexes) or (columns == (alias,))
                assert covered, f"{table}{columns} has no index leading with it"
                checked += 1
        # The test saw every foreign key the models declare, not an empty or half-migrated database.
        assert checked == sum(len(t.foreign_key_constraints) for t in models.metadata.tables.values())


def test_check_results_and_rollups_have_their_query_indexes(db_path):
    with open_db(db_path) as conn:
        assert ("component_id", "ts") in _indexes(conn, "check_results")
        assert ("ts",) in _indexes(conn, "check_results")
        assert ("hour", "component_id") in _indexes(conn, "result_rollups_hourly")  # the primary key
        assert ("component_id",) in _indexes(conn, "result_rollups_hourly")
        # Without rowid, the daily table's primary key is its B-tree; a component's days are adjacent (0013).
        assert ("component_id", "day") in _indexes(conn, "result_rollups_daily")  # the primary key
        assert ("day",) in _indexes(conn, "result_rollups_daily")  # retention's deletes


def test_views_and_triggers_in_the_database_match_the_schema_files(db_path):
    with open_db(db_path) as conn:
        for kind in schema_sql.KINDS:
            stored = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = ?", (kind,)).fetchall())
            files = schema_sql.files(kind)
            assert set(stored) == set(files)
            for name, path in files.items():
                assert schema_sql.normalize(stored[name]) == schema_sql.normalize(path.read_text()), name


def test_normalize_ignores_comments_case_and_layout_but_not_literals():
    a = "-- about\nCREATE VIEW v AS\n  SELECT x -- the x\n  FROM t WHERE y = 'A  b';"
    b = "create view v as select x from t where y = 'A  b'"
    assert schema_sql.normalize(a) == schema_sql.normalize(b)
    assert schema_sql.normalize(a) != schema_sql.normalize(b.replace("'A  b'", "'a b'"))


def test_downgrade_to_base_and_back_up_with_data_present(db_path, seed):
    component = seed.component("app")
    seed.result(component, ago=5)
    seed.transition(component, seed.now - 4, "closed", "open")
    incident = seed.incident(component, ago=4)
    seed.recovery(incident, component, ago=3, status="succeeded")
    seed.conn.close()

    migrate.downgrade(db_path, "base")
    assert migrate.status(db_path)[0] is None
    assert names(db_path, "table") == {"alembic_version"}
    assert names(db_path, "view") == set() and names(db_path, "trigger") == set()

    migrate.upgrade(db_path)
    assert names(db_path, "table") == set(models.metadata.tables) | {"alembic_version"}
    assert names(db_path, "view") == EXPECTED_VIEWS
    with open_db(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM components").fetchone()[0] == 0
        conn.execute("INSERT INTO components (name, check_kind, every_s, loaded_at) VALUES ('x', 'tcp', 1, 0)")
        assert conn.execute("SELECT component FROM current_system_status").fetchall() == [("x",)]


def test_a_later_batch_migration_keeps_rows_views_and_triggers_inside_objects_dropped(db_path, seed):
    """The recipe migrations/README.md prescribes for table rebuilds works on the real schema."""
    component = seed.component("app")
    seed.result(component, ago=5, message="kept")
    seed.conn.close()
    engine = create_engine(db_path, foreign_keys=False)
    try:
        with engine.begin() as conn:
            op = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
            with schema_sql.objects_dropped(conn), op.batch_alter_table("check_results", recreate="always") as batch:
                batch.add_column(sa.Column("probe", sa.Text))
    finally:
        engine.dispose()
    assert names(db_path, "view") == EXPECTED_VIEWS
    assert names(db_path, "trigger") == set(schema_sql.files("trigger"))
    with open_db(db_path) as conn:
        assert conn.execute("SELECT message, probe FROM check_results").fetchall() == [("kept", None)]
        assert conn.execute("SELECT last_status FROM current_system_status").fetchall() == [("healthy",)]


def test_a_table_rebuild_with_views_in_place_fails_which_is_why_objects_dropped_exists(db_path):
    engine = create_engine(db_path, foreign_keys=False)
    try:
        with pytest.raises(sa.exc.OperationalError, match="error in view"), engine.begin() as conn:
            op = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
            with op.batch_alter_table("check_results", recreate="always") as batch:
                batch.add_column(sa.Column("probe", sa.Text))
    finally:
        engine.dispose()
    assert names(db_path, "view") == EXPECTED_VIEWS  # rolled back whole: the migration is transactional


def test_database_from_a_newer_healerd_is_refused_with_a_clear_message(db_path):
    with open_db(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    with pytest.raises(MigrationError, match=r"f00dfeed.*newer healerd"):
        migrate.upgrade(db_path)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    with pytest.raises(MigrationError, match="not a healerd SQLite database"):
        migrate.upgrade(path)
    assert path.read_bytes() == b"these are my notes, not a database\n" * 100


def test_a_database_path_under_a_regular_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MigrationError, match="cannot create the directory"):
        migrate.upgrade(blocker / "healerd.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_an_unwritable_directory_is_refused_with_a_clear_message(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(MigrationError, match=r"healerd\.db"):
            migrate.upgrade(locked / "healerd.db")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    ("sqlite_message", "expected"),
    [
        ("attempt to write a readonly database", "is read-only for this user"),
        ("unable to open database file", "does its directory exist and is it writable"),
        ("database is locked", "locked by another process"),
        ("file is not a database", "not a healerd SQLite database"),
    ],
)
def test_sqlite_failures_become_messages_an_operator_can_act_on(sqlite_message, expected):
    """Root ignores file modes, so the read-only case cannot be produced for real in CI."""
    message = migrate._explain(sqlite3.OperationalError(sqlite_message), Path("/var/lib/healerd/healerd.db"))
    assert expected in message and "/var/lib/healerd/healerd.db" in message


def test_feature_flags_table_to_view_round_trips_its_rows_through_downgrade_and_upgrade(db_path):
    with open_db(db_path) as conn:
        conn.execute(
            "INSERT INTO feature_flag_state (name, enabled, reason, updated_at) VALUES ('search', 0, 'level reduced', 1)"
        )
    migrate.downgrade(db_path, "0003")
    with open_db(db_path) as conn:
        assert conn.execute("SELECT name, enabled, reason FROM feature_flags").fetchall() == [
            ("search", 0, "level reduced")
        ]
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'feature_flags'").fetchone() == ("table",)
        conn.execute("SELECT disabled_flags FROM active_degradation").fetchall()  # the 0003 view still works
    migrate.upgrade(db_path)
    with open_db(db_path) as conn:
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'feature_flags'").fetchone() == ("view",)
        assert conn.execute("SELECT name, state, reason FROM feature_flags").fetchall() == [
            ("search", "off", "level reduced")
        ]
