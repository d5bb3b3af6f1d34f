"""`healerd breaker reset|open|disable NAME`: operator control of a component's circuit breaker.

Every command is first written to `operator_commands`, so it is recorded with its outcome either way.
If a daemon is running on the database it applies the command (within a second) and this command waits
for the outcome; if none is running, this command applies it itself while holding the daemon lock, with
the same function the daemon uses, so the daemon starts with the breaker as the operator left it.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from daemon.cli.options import db_option, resolve_db
from daemon.clock import SYSTEM_CLOCK
from daemon.errors import HealerdError, NotFoundError

WAIT_FOR_DAEMON_S = 5.0


def submit_command(db_path: Path, command: str, target: str | None, args: dict, *, apply_offline) -> dict:
    """Record the command, then let the daemon or `apply_offline(conn, command_id)` apply it."""
    from daemon.service.lock import DaemonLock
    from daemon.store import state as store_state
    from daemon.store.probe import require_healerd_db
    from daemon.store.sqlite import connect

    require_healerd_db(db_path)  # never create a file, nor write into another application's database
    lock = DaemonLock(db_path)
    offline = lock.try_acquire()
    try:
        conn = connect(db_path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            command_id = store_state.enqueue_command(conn, command, target, args, SYSTEM_CLOCK.wall())
            conn.execute("COMMIT")
            if offline:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    status, outcome = apply_offline(conn, command_id)
                except HealerdError as exc:
                    status, outcome = "rejected", str(exc)
                store_state.finish_command(
                    conn, command_id, status, outcome + " (applied without a running daemon)", SYSTEM_CLOCK.wall()
                )
                conn.execute("COMMIT")
                row = store_state.command_row(conn, command_id)
                assert row is not None, "inserted above on this connection"
                return {**row, "offline": True}
        finally:
            conn.close()
    finally:
        lock.release()
    deadline = time.monotonic() + WAIT_FOR_DAEMON_S
    while time.monotonic() < deadline:
        conn = connect(db_path, readonly=True)
        try:
            row = store_state.command_row(conn, command_id)
        finally:
            conn.close()
        if row and row["status"] != "pending":
            return row
        time.sleep(0.05)
    return {"id": command_id, "status": "pending", "outcome": "the daemon has not applied it yet; it will when it can"}


def _apply_breaker_offline(command: str, name: str, args: dict):
    def apply(conn, command_id: int):
        from daemon.config.models import Breaker
        from daemon.engine.breaker import CircuitBreaker
        from daemon.service.commands import apply_breaker_command
        from daemon.service.monitor import snapshot_from_row, snapshot_row
        from daemon.store import state as store_state

        ids = store_state.component_ids(conn)
        if name not in ids:
            raise NotFoundError(f"no component named {name!r} in the database")
        spec = _stored_breaker_spec(conn, ids[name]) or Breaker()
        stored = store_state.load_breakers(conn).get(name)
        breaker = (
            CircuitBreaker.restore(spec, snapshot_from_row(stored), SYSTEM_CLOCK)
            if stored
            else CircuitBreaker(spec, SYSTEM_CLOCK)
        )
        transitions, outcome = apply_breaker_command(breaker, command, args)
        now = SYSTEM_CLOCK.wall()
        for t in transitions:
            store_state.insert_transition(
                conn,
                ids[name],
                ts=t.at_wall,
                from_state=t.from_state.value,
                to_state=t.to_state.value,
                reason=t.reason,
                open_until=t.open_until_wall,
            )
        store_state.save_breaker(conn, ids[name], snapshot_row(breaker.snapshot()), now)
        return "applied", outcome

    return apply


def _stored_breaker_spec(conn, component_id: int):
    import json

    from daemon.config.models import Component

    row = conn.execute("SELECT spec FROM components WHERE id = ?", (component_id,)).fetchone()
    try:
        return Component.model_validate(json.loads(row[0])).breaker if row else None
    except Exception:
        return None


def _report(row: dict, offline_warning: str | None = None) -> None:
    """The outcome on stdout; `offline_warning` on stderr when no daemon applied it and what the command
    asked for therefore happens only in part until one runs (heal, degrade)."""
    click.echo(f"{row['status']}: {row.get('outcome') or ''}".rstrip())
    if row["status"] in ("rejected", "failed"):
        raise SystemExit(1)
    if offline_warning and row.get("offline"):
        click.echo(f"healerd: warning: {offline_warning}", err=True)


@click.group("breaker")
def breaker() -> None:
    """Control a component's circuit breaker (recorded in operator_commands)."""


@breaker.command("reset")
@click.argument("name")
@click.option("--reason", default=None, help="Why; kept in the breaker's history.")
@db_option
def reset(name: str, reason: str | None, db_path: Path | None) -> None:
    """Close the breaker and clear its counters (also leaves forced_open and disabled)."""
    args = {"reason": reason} if reason else {}
    _report(
        submit_command(
            resolve_db(db_path),
            "breaker_reset",
            name,
            args,
            apply_offline=_apply_breaker_offline("breaker_reset", name, args),
        )
    )


@breaker.command("open")
@click.argument("name")
@click.option(
    "--for",
    "for_",
    default=None,
    help='Open for this long (e.g. "10m"), then half-open; without it: forced open until reset.',
)
@click.option("--reason", default=None)
@db_option
def open_(name: str, for_: str | None, reason: str | None, db_path: Path | None) -> None:
    """Open the breaker: for a while (--for), or until `breaker reset` (forced_open)."""
    if for_ is not None:
        from daemon.config.durations import parse_duration

        try:
            parse_duration(for_)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
    args = {k: v for k, v in {"for": for_, "reason": reason}.items() if v}
    _report(
        submit_command(
            resolve_db(db_path),
            "breaker_open",
            name,
            args,
            apply_offline=_apply_breaker_offline("breaker_open", name, args),
        )
    )


@breaker.command("disable")
@click.argument("name")
@click.option("--reason", default=None)
@db_option
def disable(name: str, reason: str | None, db_path: Path | None) -> None:
    """Disable the breaker: it stays closed whatever the checks say, until `breaker reset`."""
    args = {"reason": reason} if reason else {}
    _report(
        submit_command(
            resolve_db(db_path),
            "breaker_disable",
            name,
            args,
            apply_offline=_apply_breaker_offline("breaker_disable", name, args),
        )
    )


COMMANDS = (breaker,)
