"""`healerd chaos list|run|history|journal`: run experiments through the daemon and read their results.

`run` needs a running daemon and refuses without one: the verdict is about what healerd's own checks,
breakers and healer did, so a CLI that injected a fault by itself would have nothing to observe and
nobody to heal it. The request is an operator command (`chaos_run`, recorded in operator_commands);
the daemon records the run in chaos_runs and its steps in chaos_events, and this command follows that
journal until the verdict, printing the timeline as it grows. Exit code 0 only for `passed`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from daemon.cli.options import config_environment, config_option, db_option, resolve_config, resolve_db
from daemon.errors import HealerdError, NotFoundError
from daemon.timefmt import clock_time

POLL_S = 0.1
#: How long `run` waits for a running daemon to pick the command up (beyond submit_command's 5 s).
COMMAND_WAIT_S = 60.0
#: Beyond the experiment's own bounds (window, settle, rollback), how long `run` waits for a verdict.
WAIT_MARGIN_S = 60.0


def _connect(db: Path):
    from daemon.store.views import open_readonly

    return open_readonly(db)


def _read(db: Path, fn, *args):
    conn = _connect(db)
    try:
        return fn(conn, *args)
    finally:
        conn.close()


def _clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return clock_time(ts)


def format_event(event: dict[str, Any], started_at: float) -> str:
    offset = event["ts"] - started_at
    message = " ".join(str(event.get("message") or "").split())
    return f"{_clock(event['ts'])}  {offset:+8.2f}s  {event['step']:<27} {event['status']:<9} {message}".rstrip()


@click.group("chaos")
def chaos() -> None:
    """Chaos experiments: inject a fault, check that healerd detects and heals it in time."""


@chaos.command("list")
@config_option
@db_option
def list_(config_dir: Path | None, db_path: Path | None) -> None:
    """The configured experiments, with their schedule and last verdict."""
    from daemon.config.loader import load_what_loads
    from daemon.store import chaos_sql

    db = resolve_db(db_path)
    directory = resolve_config(config_dir, db)
    loaded, problems = load_what_loads(directory, env=config_environment(db))
    if loaded is None:
        raise HealerdError(f"cannot load {directory}: " + "; ".join(str(p) for p in problems))
    for problem in problems:  # listed without the rejected files, and says which they are
        click.echo(f"warning: {problem}", err=True)
    last = _read(db, chaos_sql.last_runs) if db.exists() else {}  # a foreign file is an error, not "never run"
    experiments = loaded.config.experiments
    if not experiments:
        click.echo(f"no experiments in {directory / 'experiments.d'}")
        return
    rows = []
    for name, exp in sorted(experiments.items()):
        run = last.get(name)
        rows.append(
            (
                name,
                exp.target,
                exp.fault.kind,
                _fmt_duration(exp.duration),
                exp.actions,
                exp.schedule or "on demand",
                f"{run['verdict']} (run {run['id']})" if run else "never run",
            )
        )
    from daemon.cli.report import render

    click.echo(
        render(("experiment", "target", "fault", "duration", "actions", "schedule", "last run"), rows, "table"),
        nl=False,
    )


def _fmt_duration(td) -> str:
    from daemon.config.durations import format_duration

    return format_duration(td)


@chaos.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="The fault is real, but the healer only records what it would do.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for the verdict [default: the experiment's own bounds + 60 s].",
)
@db_option
def run(name: str, dry_run: bool, timeout: float | None, db_path: Path | None) -> None:
    """Run experiment NAME through the daemon, print the timeline and the verdict (exit 0 only if passed)."""
    from daemon.cli.breaker import submit_command
    from daemon.service.chaos.service import COMMAND, run_id_from_outcome
    from daemon.service.lock import daemon_running
    from daemon.store.probe import require_healerd_db

    db = require_healerd_db(resolve_db(db_path))
    if not daemon_running(db):
        raise HealerdError(
            f"healerd is not running on {db}: an experiment is observed through the daemon's checks and "
            "breakers and healed by its healer, so it runs only inside a running daemon (start `healerd run`)"
        )

    def offline(conn, command_id: int):
        return "rejected", "healerd is not running: an experiment needs the daemon's checks to observe"

    row = submit_command(db, COMMAND, name, {"dry_run": dry_run}, apply_offline=offline)
    if row["status"] == "pending":
        row = _wait_applied(db, row["id"])
    if row["status"] != "applied":
        click.echo(f"{row['status']}: {row.get('outcome') or ''}".rstrip(), err=True)
        sys.exit(1)
    run_id = run_id_from_outcome(row.get("outcome"))
    if run_id is None:
        raise HealerdError(f"the daemon answered {row.get('outcome')!r}, not a run id")
    click.echo(f"run {run_id}: {name}" + (" (dry run)" if dry_run else ""))
    verdict = follow(db, run_id, timeout)
    sys.exit(0 if verdict == "passed" else 1)


def _wait_applied(db: Path, command_id: int) -> dict[str, Any]:
    """The daemon is up but busy (a locked database, a long command before ours): keep waiting, bounded."""
    from daemon.store import state as store_state

    deadline = time.monotonic() + COMMAND_WAIT_S
    while True:
        row = _read(db, store_state.command_row, command_id)
        if row is not None and row["status"] != "pending":
            return row
        if time.monotonic() > deadline:
            raise HealerdError(
                f"the daemon has not taken command {command_id} within {COMMAND_WAIT_S:g} s; "
                "it stays queued and will run when the daemon gets to it"
            )
        time.sleep(POLL_S)


def _wait_bound(events: list[dict[str, Any]]) -> float:
    """The longest a run can take by its own bounds: window + settle twice + inject/revert/rollback."""
    from daemon.config.models import Experiment

    for event in events:
        if event["step"] == "start" and isinstance(event["data"].get("experiment"), dict):
            try:
                exp = Experiment.model_validate(event["data"]["experiment"])
            except ValueError:
                break
            settle = (exp.expect.recovered_within or exp.duration).total_seconds()
            actions = sum(a.timeout.total_seconds() for a in (exp.rollback,) if a is not None)
            fault_timeout = getattr(exp.fault, "timeout", None)
            actions += 2 * fault_timeout.total_seconds() if fault_timeout else 0
            return exp.duration.total_seconds() + 2 * settle + actions + WAIT_MARGIN_S
    return 600.0


def follow(db: Path, run_id: int, timeout: float | None) -> str:
    """Print the run's events as they are recorded, until its verdict; returns the verdict."""
    from daemon.store import chaos_sql

    shown = 0
    started = time.monotonic()
    bound = timeout
    while True:
        run_row = _read(db, chaos_sql.run_row, run_id)
        if run_row is None:
            raise NotFoundError(f"no chaos run {run_id}")
        events = _read(db, chaos_sql.run_events, run_id)
        if bound is None and events:
            bound = _wait_bound(events)
        for event in events[shown:]:
            click.echo(format_event(event, run_row["started_at"]))
        shown = len(events)
        if run_row["verdict"] != "running":
            _summary(run_row)
            return run_row["verdict"]
        if time.monotonic() - started > (bound or 600.0):
            click.echo(f"still running after {bound:g} s; follow it with `healerd chaos journal {run_id}`", err=True)
            return "running"
        time.sleep(POLL_S)


def _summary(run_row: dict[str, Any]) -> None:
    def since(ts):
        return None if ts is None or run_row["injected_at"] is None else ts - run_row["injected_at"]

    click.echo(f"verdict: {run_row['verdict']}: {run_row['reason'] or ''}".rstrip())
    facts = [("time to detect", since(run_row["detected_at"])), ("time to recover", since(run_row["recovered_at"]))]
    for label, value in facts:
        if value is not None:
            click.echo(f"  {label}: {value:.2f} s (from the injection)")
    if run_row["min_score"] is not None:
        click.echo(f"  min score: {run_row['min_score']:g}, worst level: {run_row['max_level'] or '-'}")
    for advice in run_row["recommendations"]:
        click.echo(f"  recommendation: {advice}")


@chaos.command("history")
@click.option("--experiment", default=None, help="Only this experiment's runs.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@db_option
def history(experiment: str | None, limit: int, fmt: str, db_path: Path | None) -> None:
    """Past runs, newest first (the chaos_experiment_results view)."""
    from daemon.cli.report import render

    def query(conn):
        sql = (
            "SELECT run_id, experiment, target, verdict, started_at, duration_s, time_to_detect_s, "
            "time_to_recover_s, min_score, max_level, dry_run, trigger, reason, recommendations "
            "FROM chaos_experiment_results"
        )
        params: list[Any] = []
        if experiment:
            sql += " WHERE experiment = ?"
            params.append(experiment)
        cursor = conn.execute(sql + " LIMIT ?", [*params, limit])
        return [d[0] for d in cursor.description], cursor.fetchall()

    columns, rows = _read(resolve_db(db_path), query)
    if fmt == "table":
        keep = [c for c in columns if c not in ("reason", "recommendations", "trigger")]
        idx = [columns.index(c) for c in keep]
        click.echo(render(keep, [[r[i] for i in idx] for r in rows], fmt), nl=False)
        for r in rows:
            if r[columns.index("reason")]:
                click.echo(f"run {r[0]}: {r[columns.index('reason')]}")
        return
    click.echo(render(columns, rows, fmt), nl=False)


@chaos.command("journal")
@click.argument("run_id", type=int)
@db_option
def journal(run_id: int, db_path: Path | None) -> None:
    """RUN_ID as a Chaos Toolkit–style journal (JSON on stdout)."""
    from daemon import __version__
    from daemon.engine.chaos_journal import build_journal
    from daemon.store import chaos_sql

    db = resolve_db(db_path)
    run_row = _read(db, chaos_sql.run_row, run_id)
    if run_row is None:
        raise NotFoundError(f"no chaos run {run_id} in {db}")
    events = _read(db, chaos_sql.run_events, run_id)
    click.echo(json.dumps(build_journal(run_row, run_row["experiment"], events, __version__), indent=2))


COMMANDS = (chaos,)
