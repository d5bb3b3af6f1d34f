"""The `shadow_decision_comparison` view on seeded rows: nearest live decision of the same kind within 60 s."""

from __future__ import annotations

import sqlite3


def test_each_shadow_action_is_set_beside_the_nearest_live_decision_of_its_kind_within_60s(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO components (id, name, check_kind, every_s, loaded_at) VALUES (1, 'app', 'tcp', 10, 0)")
    conn.executemany(
        "INSERT INTO decisions (component_id, ts, kind, step, strategy, reason) VALUES (1, ?, ?, ?, ?, ?)",
        [
            (1000.0, "run_step", 0, "retry", "live a"),
            (1030.0, "run_step", 1, "restore", "live b"),
            (1040.0, "wait", None, None, "live wait"),
        ],
    )
    conn.executemany(
        "INSERT INTO shadow_decisions (component_id, ts, shadow_config, incident, kind, step, strategy, "
        "reason) VALUES (1, ?, '/etc/shadow', 1, ?, ?, ?, ?)",
        [
            (1025.0, "run_step", 1, "retry", "shadow near b"),
            (1005.0, "run_step", 0, "retry", "shadow a"),
            (1200.0, "escalate", 2, "escalate", "shadow pages"),
            (1041.0, "wait", None, None, "left out"),
        ],
    )
    conn.commit()
    rows = conn.execute(
        "SELECT shadow_reason, live_reason, live_offset_s, agrees FROM shadow_decision_comparison"
    ).fetchall()
    conn.close()
    assert rows == [
        ("shadow a", "live a", -5.0, 1),
        ("shadow near b", "live b", 5.0, 1),
        ("shadow pages", None, None, 0),
    ]
