"""`healerd status [--json]`: the host at a glance — level, score, trend, flags, every component.

Reads the database only, on a read-only connection, so it works whether or not the daemon runs; when
it does not, the output says so, because the level and score are then as last recorded, not current.
The trend is fitted on the same health snapshots, with the same function, as the daemon's, so the
arrow here and the one in state.json agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from daemon.cli.options import db_option, resolve_db
from daemon.cli.report import render
from daemon.service.incident_timeline import result_detail
from daemon.timefmt import iso_or


def collect(db_path: Path) -> dict[str, Any]:
    """Everything status shows, as plain data (what --json prints; /api/v1/status serves the same)."""
    from daemon.service.status_report import collect_from
    from daemon.store import views

    conn = views.open_readonly(db_path)
    try:
        return collect_from(conn, db_path)
    finally:
        conn.close()


def _fleet_line(f: dict[str, Any]) -> str:
    def iso(ts: float | None) -> str:
        return iso_or(ts, "never")

    line = (
        f"fleet    host {f['host']} → {f['centre']}: lag {f['lag_s']:g} s, last success {iso(f['last_success_at'])}, "
        f"{f['rows_shipped']} rows shipped"
    )
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
    where = f" on {d['host']}, config {d['config_dir']}" if d.get("host") else ""
    if d["running"]:
        out.append("daemon   running" + (f" (pid {d['pid']})" if d["pid"] else "") + where)
    else:
        out.append("daemon   not running: level and score as last recorded")
    for p in data.get("rejected_config", ()):
        at = p["path"] + (f":{p['line']}" if p["line"] else "") + (f" {p['key']}" if p["key"] else "")
        out.append(f"config   REJECTED {at}: {p['message']} (since {p['since']}; the last good version stays in force)")
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
    for f in data.get("flapping", ()):
        out.append(
            f"flapping {f['component']} since {f['flapping_since']} (incident {f['incident_id']}): "
            f"{f['breaker_opens']} breaker opens, {f['actions']} action(s), breaker {f['breaker_state']}"
        )
    for m in data.get("maintenance", ()):
        what = f"window {m['name']}" if m["kind"] == "window" else "silence"
        why = f": {m['reason']}" if m["reason"] else ""
        out.append(f"maintenance {m['component']} ({what}{why}) until {m['ended_at']}: no actions, no escalations")
    if data.get("fleet"):
        out.append(_fleet_line(data["fleet"]))
    out.append("")
    columns = ["component", "health", "breaker", "last check", "age s", "detail", "last recovery"]
    rows = [
        (
            c["component"],
            c["status"],
            c["breaker_state"],
            c["last_check_at"],
            c["age_s"],
            result_detail(c["last_status"], c["error_class"], c["message"]),
            _recovery(c["last_recovery"]),
        )
        for c in data["components"]
    ]
    table = render(columns, rows, "table")
    # Perfdata is long and only plugins have it: a column only when some component has some.
    perf = [(c["component"], c["perfdata"]) for c in data["components"] if c.get("perfdata")]
    if perf:
        table += "\n" + render(["component", "perfdata"], perf, "table")
    return "\n".join(out) + "\n" + table


@click.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for scripts) instead of text.")
def status(db_path: Path | None, as_json: bool) -> None:
    """Level, health score, trend, disabled flags and override; every component's health, breaker,
    last check and last recovery. Read-only; works with or without a running daemon."""
    data = collect(resolve_db(db_path))
    if as_json:
        import json  # only for --json: the text view is the common one (issue 11: start-up time)

        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(render_text(data), nl=False)


COMMANDS = (status,)
