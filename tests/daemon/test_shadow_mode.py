"""Shadow mode on the real daemon: `healerd run --shadow DIR` decides alongside and executes nothing.

The live policy opens after 2 failures and restarts the service; the shadow opens after 1 and its
retry would only touch a marker file. After a crash the live policy heals the service; the shadow's
decisions are in `shadow_decisions` (an incident opened earlier, a retry, the close), the marker file
does not exist (nothing of the shadow ran), and the comparison view sets the shadow's retry beside the
live one.
"""

from __future__ import annotations

import pytest
from helpers import wait_until
from services_kit import PY, Service
from test_replay_history import counter, policy, query, start_healerd, stop_healerd, write_config

pytestmark = pytest.mark.slow


def crash_once(tmp_path, *, per_component: bool):
    """Run the live daemon with the shadow (by flag or by the component's shadow_config); crash the service
    once; return the database, the shadow's marker file and the shadow directory."""
    run = tmp_path / "run"
    run.mkdir()
    app = Service("app", run)
    marker = run / "shadow-action-ran"
    live_policy = policy(argv=app.argv("start"))
    if per_component:
        live_policy = live_policy.replace('name = "app"\n', 'name = "app"\nshadow_config = "../shadow"\n', 1)
    live = write_config(tmp_path / "live", app, live_policy)
    shadow = write_config(
        tmp_path / "shadow",
        app,
        policy(failures=1, attempts=1, argv=[PY, "-c", "import sys; open(sys.argv[1], 'w').write('ran')", str(marker)]),
    )
    db = tmp_path / "healerd.db"
    log = tmp_path / "daemon.log"
    app.start()
    daemon = start_healerd(live, db, log, run, *(() if per_component else ("--shadow", str(shadow))))
    count = counter(db)
    try:
        tail = lambda: log.read_text()[-3000:]  # noqa: E731
        wait_until(lambda: count("SELECT count(*) FROM check_results WHERE status = 'healthy'") >= 2, 30, message=tail)
        app.crash()
        wait_until(
            lambda: (
                count("SELECT count(*) FROM incidents WHERE status = 'resolved'") >= 1
                and count("SELECT count(*) FROM shadow_decisions WHERE kind = 'close_incident'") >= 1
            ),
            40,
            message=tail,
        )
    finally:
        stop_healerd(daemon)
        app.kill()
    return db, marker, shadow


def test_a_shadow_policy_decides_alongside_records_its_decisions_and_runs_nothing(tmp_path):
    db, marker, shadow = crash_once(tmp_path, per_component=False)
    assert not marker.exists()  # the shadow's retry never ran
    assert query(db, "SELECT strategy, status FROM recovery_events") == [("retry", "succeeded")]  # the live one
    shadow_rows = query(
        db,
        "SELECT kind, step, ts, shadow_config FROM shadow_decisions WHERE kind NOT IN ('wait', 'nothing') ORDER BY id",
    )
    assert [(k, s) for k, s, _, _ in shadow_rows] == [
        ("open_incident", None),
        ("run_step", 0),
        ("close_incident", None),
    ]
    assert {c for *_, c in shadow_rows} == {str(shadow)}
    (live_open,) = query(db, "SELECT ts FROM decisions WHERE kind = 'open_incident'")
    assert shadow_rows[0][2] < live_open[0]  # one failure opens the shadow's breaker, the live one needs two
    compared = query(
        db,
        "SELECT kind, step, live_step, agrees, live_offset_s, live_decision_id IS NOT NULL "
        "FROM shadow_decision_comparison",
    )
    # each shadow decision has a live one of the same kind within 60 s, the retry on the same step
    assert [(k, s, ls, a, found) for k, s, ls, a, _, found in compared] == [
        ("open_incident", None, None, 1, 1),
        ("run_step", 0, 0, 1, 1),
        ("close_incident", None, None, 1, 1),
    ]
    assert all(0 < off < 60 for _, _, _, _, off, _ in compared[:2])  # the live policy acted later


def test_a_components_shadow_config_decides_alongside_for_that_component(tmp_path):
    db, marker, shadow = crash_once(tmp_path, per_component=True)
    assert not marker.exists()
    rows = query(
        db, "SELECT kind, step, shadow_config FROM shadow_decisions WHERE kind NOT IN ('wait', 'nothing') ORDER BY id"
    )
    assert rows == [
        ("open_incident", None, str(shadow)),
        ("run_step", 0, str(shadow)),
        ("close_incident", None, str(shadow)),
    ]
