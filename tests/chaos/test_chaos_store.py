"""chaos_experiments follows the config without losing history; runs and events round-trip."""

from __future__ import annotations

import pytest
from chaos_kit import T0
from helpers import open_db

from daemon.store import chaos_sql


def row(name, spec='{"a": 1}'):
    return {"name": name, "description": "", "target": "app", "spec": spec, "source_file": None}


def test_a_removed_experiment_keeps_its_row_and_runs_and_comes_back_with_them(db_path):
    with open_db(db_path) as conn:
        ids = chaos_sql.sync_experiments(conn, [row("a"), row("b")], T0)
        run_id = chaos_sql.insert_run(conn, ids["b"], started_at=T0, trigger="manual", dry_run=False)
        assert chaos_sql.sync_experiments(conn, [row("a")], T0 + 1) == {"a": ids["a"]}
        assert conn.execute("SELECT removed_at FROM chaos_experiments WHERE name = 'b'").fetchone() == (T0 + 1,)
        again = chaos_sql.sync_experiments(conn, [row("a"), row("b")], T0 + 2)
        assert again["b"] == ids["b"] and chaos_sql.run_row(conn, run_id)["experiment"] == "b"


def test_loaded_at_changes_only_when_the_spec_does(db_path):
    with open_db(db_path) as conn:
        chaos_sql.sync_experiments(conn, [row("a")], T0)
        chaos_sql.sync_experiments(conn, [row("a")], T0 + 5)
        assert conn.execute("SELECT loaded_at FROM chaos_experiments").fetchone() == (T0,)
        chaos_sql.sync_experiments(conn, [row("a", '{"a": 2}')], T0 + 9)
        assert conn.execute("SELECT loaded_at FROM chaos_experiments").fetchone() == (T0 + 9,)


def test_running_runs_lists_only_unfinished_ones_and_update_run_refuses_unknown_columns(db_path):
    with open_db(db_path) as conn:
        ids = chaos_sql.sync_experiments(conn, [row("a")], T0)
        done = chaos_sql.insert_run(conn, ids["a"], started_at=T0, trigger="manual", dry_run=False)
        left = chaos_sql.insert_run(conn, ids["a"], started_at=T0 + 1, trigger="schedule", dry_run=True)
        chaos_sql.update_run(conn, done, verdict="passed", finished_at=T0 + 2, recommendations=["x"])
        assert [r["id"] for r in chaos_sql.running_runs(conn)] == [left]
        assert chaos_sql.run_row(conn, done)["recommendations"] == ["x"]
        assert chaos_sql.last_runs(conn) == {"a": {"id": left, "verdict": "running", "started_at": T0 + 1}}
        with pytest.raises(ValueError, match="not updatable"):
            chaos_sql.update_run(conn, done, experiment_id=5)
