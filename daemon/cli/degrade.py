"""`healerd degrade set LEVEL --for 1h --reason "..."` and `healerd degrade clear`: the manual override.

Like `healerd breaker`, the command is first recorded in `operator_commands`; a running daemon applies
it within a second (and republishes state.json) while this command waits for the outcome. Without a
daemon, this command applies it to the degradation_state row itself, holding the daemon lock, with the
same function the daemon uses — so the override is in force the moment the daemon starts, and, its
deadline being wall-clock, it ends at the same instant whichever process is running then.
"""

from __future__ import annotations

from pathlib import Path

import click

from daemon.cli.breaker import _report, submit_command
from daemon.cli.options import db_option, resolve_db
from daemon.types import Level


def _apply_offline(command: str, args: dict):
    def apply(conn, command_id: int) -> tuple[str, str]:
        from daemon.clock import SYSTEM_CLOCK
        from daemon.config.models import Degradation
        from daemon.errors import HealerdError
        from daemon.service.degradation.state import apply_degrade_command, state_row, tracker_from_row
        from daemon.store import degradation_sql as sql

        row = sql.load_state(conn)
        # Thresholds do not matter here (no score is fed); the stored tracker is carried over unchanged.
        tracker, problem = tracker_from_row(row, Degradation(), SYSTEM_CLOCK)
        if problem:
            click.echo(f"healerd: warning: {problem}", err=True)
        now = SYSTEM_CLOCK.wall()
        try:
            change, outcome = apply_degrade_command(tracker, command, args, now=now)
        except ValueError as exc:
            raise HealerdError(str(exc)) from None
        if change is not None:
            sql.insert_history(
                conn,
                ts=change.at,
                from_level=change.from_level.value,
                to_level=change.to_level.value,
                score=change.score,
                reason=change.reason,
            )
            score = None if row is None else row["score"]
            unknown = 0 if row is None else row["unknown_count"]
            sql.save_state(conn, state_row(tracker, score, unknown, now))
        return "applied", outcome

    return apply


def _submit(db_path: Path | None, command: str, args: dict) -> None:
    db = resolve_db(db_path)
    _report(
        submit_command(db, command, None, args, apply_offline=_apply_offline(command, args)),
        offline_warning=f"no daemon is running on {db}: the level is recorded, but state.json and the "
        "feature flags your services read are published only when a daemon starts",
    )


@click.group("degrade")
def degrade() -> None:
    """Pin the degradation level for a while (an override that ends by itself), or clear it."""


@degrade.command("set")
@click.argument("level", type=click.Choice([lvl.value for lvl in Level]))
@click.option("--for", "for_", required=True, help='How long, e.g. "30m" or "1h"; then the computed level is back.')
@click.option("--reason", required=True, help="Why; kept in degradation_history and shown by `healerd status`.")
@db_option
def set_(level: str, for_: str, reason: str, db_path: Path | None) -> None:
    """Publish LEVEL whatever the health score says, until --for has passed or `degrade clear`."""
    from daemon.config.durations import parse_duration

    try:
        if parse_duration(for_).total_seconds() <= 0:
            raise ValueError(f"{for_!r} is not a positive duration")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from None
    _submit(db_path, "degrade_set", {"level": level, "for": for_, "reason": reason})


@degrade.command("clear")
@click.option("--reason", default=None, help="Why; kept in degradation_history.")
@db_option
def clear(reason: str | None, db_path: Path | None) -> None:
    """End the override now; the level computed from the health score applies again."""
    _submit(db_path, "degrade_clear", {"reason": reason} if reason else {})


COMMANDS = (degrade,)
