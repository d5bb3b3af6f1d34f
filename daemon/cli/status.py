"""`healerd status [--json]`: the host at a glance — level, score, trend, flags, every component.

Reads the database only, on a read-only connection, so it works whether or not the daemon runs; when
it does not, the output says so, because the level and score are then as last recorded, not current.
The trend is fitted on the same health snapshots, with the same function, as the daemon's, so the
arrow here and the one in state.json agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from daemon.cli.options import db_option, resolve_db
from daemon.cli.report import render


def _daemon(db_path: Path) -> dict[str, Any]:
    from daemon.service.lock import DaemonLock, daemon_running, lock_path

    # No lock file means no daemon ever ran here; don't create one just to look.
    running = lock_path(db_path).exists() and daemon_running(db_path)
    return {"running": running, "pid": DaemonLock(db_path).holder_pid() if running else None}


def collect(db_path: Path) -> dict[str, Any]:
    """Everything status shows, as plain data (what --json prints)."""
    from daemon.engine.trend import compute_trend
    from daemon.service.degradation import TREND_WINDOW
    from daemon.store import status_sql, views
    from daemon.store.degradation_sql import recent_snapshots

    conn = views.open_readonly(db_path)
    try:
        components = status_sql.components(conn)
        degradation = status_sql.degradation(conn)
        flags = status_sql.flags(conn)
        trend = compute_trend(recent_snapshots(conn, TREND_WINDOW))
        fleet = _fleet(conn)
    finally:
        conn.close()
    if degradation is not None:
        degradation["trend"] = trend.trend.value
        degradation["trend_per_min"] = None if trend.slope_per_min is None else round(trend.slope_per_min, 3)
        degradation["override_active"] = bool(degradation["override_active"])
        degradation["disabled_flags"] = [f["name"] for f in flags if not f["enabled"]]
    for flag in flags:
        flag["enabled"] = bool(flag["enabled"])
    return {"daemon": _daemon(db_path), "degradation": degradation, "flags": flags, "components": components,
            "fleet": fleet}


def _fleet(conn) -> dict[str, Any] | None:
    """Shipping to the fleet centre (issue 14): None when this host never shipped."""
    import sqlite3
    import time

    from daemon.store import fleet_sql

    try:
        return fleet_sql.status(conn, time.time())
    except sqlite3.OperationalError:  # a database from before the fleet tables: nothing to show
        return None


def _fleet_line(f: dict[str, Any]) -> str:
    def iso(ts: float | None) -> str:
        import datetime as dt

        return "never" if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    line = (f"fleet    host {f['host']} → {f['centre']}: lag {f['lag_s']:g} s, last success {iso(f['last_success_at'])}, "
            f"{f['rows_shipped']} rows shipped")
    if f["dropped_unshipped"]:
        line += f", {f['dropped_unshipped']} unshipped rows pruned (disk nearly full)"
    if f["last_error"]:
        line += f"\nfleet    last error: {f['last_error']}"
    return line


def _recovery(event: dict[str, Any] | None) -> str:
    if event is None:
        return ""
    dry = " (dry run)" if event.get("dry_run") else ""
    return f"{event['strategy']} {event['status']} {event['finished_at'] or event['started_at']}{dry}"


def render_text(data: dict[str, Any]) -> str:
    out = []
    d = data["daemon"]
    if d["running"]:
        out.append("daemon   running" + (f" (pid {d['pid']})" if d["pid"] else ""))
    else:
        out.append("daemon   not running: level and score as last recorded")
    deg = data["degradation"]
    if deg is None:
        out.append("level    (not scored yet: the daemon has not run on this database)")
    else:
        computed = f" (computed: {deg['computed_level']})" if deg["override_active"] else ""
        pending = f", heading for {deg['pending_level']} since {deg['pending_since']}" if deg["pending_level"] else ""
        out.append(f"level    {deg['level']}{computed} since {deg['since']}{pending}")
        score = "unknown (no component checked)" if deg["score"] is None else f"{deg['score']:g}"
        unknown = f", {deg['unknown_count']} component(s) unknown" if deg["unknown_count"] else ""
        slope = "" if deg["trend_per_min"] is None else f" ({deg['trend_per_min']:+g} points/min)"
        out.append(f"score    {score}{unknown}; trend {deg['trend']}{slope}")
        if deg["override_active"]:
            out.append(f"override {deg['override_level']} until {deg['override_until']}: {deg['override_reason']}")
    off = [f for f in data["flags"] if not f["enabled"]]
    on = [f["name"] for f in data["flags"] if f["enabled"]]
    for flag in off:
        out.append(f"flag off {flag['name']}: {flag['reason']}")
    if on:
        out.append(f"flags on {', '.join(on)}")
    if data.get("fleet"):
        out.append(_fleet_line(data["fleet"]))
    out.append("")
    columns = ["component", "health", "breaker", "last check", "age s", "detail", "last recovery"]
    rows = [
        (
            c["component"], c["status"], c["breaker_state"], c["last_check_at"], c["age_s"],
            c["error_class"] and f"{c['error_class']}: {c['message']}", _recovery(c["last_recovery"]),
        )
        for c in data["components"]
    ]
    return "\n".join(out) + "\n" + render(columns, rows, "table")


@click.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for scripts) instead of text.")
def status(db_path: Path | None, as_json: bool) -> None:
    """Level, health score, trend, disabled flags and override; every component's health, breaker,
    last check and last recovery. Read-only; works with or without a running daemon."""
    data = collect(resolve_db(db_path))
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(render_text(data), nl=False)


COMMANDS = (status,)
