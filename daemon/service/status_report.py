"""What `healerd status --json` prints and `/api/v1/status` serves: one function, so they never disagree.

It takes an open read-only connection: the CLI opens a plain one, the HTTP service runs it on an
aiosqlite thread with a deadline (store/aioread.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def daemon_info(db_path: Path) -> dict[str, Any]:
    from daemon.service.lock import DaemonLock, daemon_running, lock_path

    # No lock file means no daemon ever ran here; don't create one just to look.
    running = lock_path(db_path).exists() and daemon_running(db_path)
    return {"running": running, "pid": DaemonLock(db_path).holder_pid() if running else None}


def collect_from(conn: sqlite3.Connection, db_path: Path) -> dict[str, Any]:
    """Everything status shows, as plain data."""
    from daemon.engine.trend import TREND_WINDOW, compute_trend
    from daemon.store import daemon_info_sql, status_sql
    from daemon.store.degradation_sql import recent_snapshots

    components = status_sql.components(conn)
    flapping = status_sql.rows(conn, "SELECT * FROM flapping_components")  # issue 10
    maintenance = status_sql.rows(conn, "SELECT * FROM maintenance_windows WHERE active = 1")
    degradation = status_sql.degradation(conn)
    flags = status_sql.flags(conn)
    rejected = status_sql.rejected_config(conn)
    instance = daemon_info_sql.read(conn)
    trend = compute_trend(recent_snapshots(conn, TREND_WINDOW))
    if degradation is not None:
        degradation["trend"] = trend.trend.value
        degradation["trend_per_min"] = None if trend.slope_per_min is None else round(trend.slope_per_min, 3)
        degradation["override_active"] = bool(degradation["override_active"])
        degradation["disabled_flags"] = [f["name"] for f in flags if not f["enabled"]]
    for flag in flags:
        flag["enabled"] = bool(flag["enabled"])
    daemon = daemon_info(Path(db_path))
    if instance is not None:
        daemon.update({k: instance[k] for k in ("host", "config_dir", "version")})
    return {
        "daemon": daemon,
        "degradation": degradation,
        "flags": flags,
        "components": components,
        "rejected_config": rejected,
        "flapping": flapping,
        "maintenance": maintenance,
        "fleet": fleet_status(conn),
    }


def fleet_status(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """Shipping to the fleet centre (issue 14): None when this host never shipped."""
    import time

    try:
        # fleet_sql needs the models (SQLAlchemy): import it only on a host that ships, so a plain
        # `healerd status` stays fast (tests/cli/test_read_verbs_import_graph.py)
        if conn.execute("SELECT 1 FROM fleet_status WHERE id = 1").fetchone() is None:
            return None
        from daemon.store import fleet_sql

        return fleet_sql.status(conn, time.time())
    except sqlite3.OperationalError:  # a database from before the fleet tables: nothing to show
        return None
