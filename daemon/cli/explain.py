"""`healerd explain NAME`: why healerd did what it did about a component's current (or last) incident.

One timeline, oldest first, merging what the database recorded: runs of check results (condensed),
breaker transitions, the healer's decisions with their reasons, recovery events with their outcomes,
and escalations. It reads the database only (read-only connection), so it works the same whether the
daemon runs or not, and shows exactly what a later reader of the tables would see.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from daemon.cli.options import db_option, resolve_db
from daemon.errors import NotFoundError
from daemon.service.incident_timeline import at_time as _at
from daemon.service.incident_timeline import timeline
from daemon.timefmt import span as _span


def render(data: dict[str, Any], now: float) -> str:
    inc = data["incident"]
    opened, closed = inc["opened_at"], inc["closed_at"]
    lasted = (
        f"closed {_at(closed, date=True)} after {_span(closed - opened)}"
        if closed
        else f"open for {_span(now - opened)}"
    )
    lines = [
        f"{data['component']}: incident {inc['id']} ({inc['status']}), opened {_at(opened, date=True)} "
        f"by {inc['trigger']}, {lasted}"
    ]
    if inc["waiting_on"]:
        lines.append(f"  waited on: {inc['waiting_on']} (root cause healed first)")
    if inc["acked_at"]:
        lines.append(f"  acknowledged: {_at(inc['acked_at'], date=True)}")
    checks = data["checks"]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(checks["counts"].items())) or "none"
    first = checks["first_failure"]
    first_text = (
        f"; first failure {_at(first['ts'])}: {first['status']} ({first['error_class']}: {first['message']})"
        if first
        else ""
    )
    lines.append(f"  checks: {counts}{first_text}")
    events = data["events"]
    if events:
        done = sum(e["status"] == "succeeded" for e in events)
        lines.append(f"  recovery: {len(events)} step(s), {done} succeeded")
    lines.append("")
    for ts, what, text in timeline(data):
        lines.append(f"{_at(ts)}  {what:<10}  {text}")
    if checks["truncated"]:
        lines.append("(check runs truncated)")
    return "\n".join(lines)


@click.command("explain")
@click.argument("name")
@click.option(
    "--incident", "incident_id", type=int, default=None, help="This incident instead of the current/last one."
)
@click.option("--json", "as_json", is_flag=True, help="Print the incident and its timeline as JSON.")
@db_option
def explain(name: str, incident_id: int | None, as_json: bool, db_path: Path | None) -> None:
    """Explain the current (or last) incident of NAME: checks, breaker, decisions, recovery, escalations."""
    from daemon.store import explain_sql
    from daemon.store.views import open_readonly

    now = time.time()
    conn = open_readonly(resolve_db(db_path))
    try:
        data = explain_sql.explain(conn, name, incident_id, now)
        hold = _hold_without_incident(conn, name) if data is None and incident_id is None else None
    finally:
        conn.close()
    if hold is not None:  # e.g. a maintenance window held it before any incident opened (issue 10)
        until = f" [until {_at(hold['until'], date=True)}]" if hold["until"] is not None else ""
        click.echo(f"{name}: no incident; {_at(hold['ts'], date=True)} {hold['kind']}: {hold['reason']}{until}")
        return
    if data is None:
        which = f"incident {incident_id}" if incident_id is not None else "incident"
        raise NotFoundError(f"no {which} recorded for {name!r}")
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(render(data, now))


def _hold_without_incident(conn, name: str):
    from daemon.store.maintenance_sql import latest_hold

    return latest_hold(conn, name)


COMMANDS = (explain,)
