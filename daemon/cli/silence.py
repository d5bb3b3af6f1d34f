"""`healerd silence NAME|--all --for 2h --reason "…"` and `healerd silence clear NAME|--all`.

A silence is planned work announced on the spot: the component's checks keep running and are recorded,
but healerd takes no action and sends no escalation until it ends or is cleared. Like breaker commands
it is recorded in `operator_commands` first, then applied by the running daemon, or by this command
itself (with the same function) when no daemon runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from daemon.cli.breaker import _report, submit_command
from daemon.cli.options import db_option, resolve_db
from daemon.clock import SYSTEM_CLOCK


def _target(name: str | None, all_: bool) -> str:
    from daemon.store.maintenance_sql import ALL

    if all_ == (name is not None):
        raise click.UsageError("name one component, or pass --all")
    return ALL if all_ else str(name)


def _offline(command: str, target: str, args: dict):
    def apply(conn, command_id: int):
        from daemon.service.maintenance import apply_silence_command

        return apply_silence_command(conn, command, target, args, SYSTEM_CLOCK.wall())

    return apply


@click.command("silence", context_settings={"ignore_unknown_options": False})
@click.argument("words", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every component.")
@click.option("--for", "for_", default=None, help='How long, e.g. "2h" (required to silence).')
@click.option("--reason", default=None, help="Why; shown by status and explain, kept in maintenance_windows.")
@db_option
def silence(words: tuple[str, ...], all_: bool, for_: str | None, reason: str | None, db_path: Path | None) -> None:
    """Silence NAME (or --all) --for a while, or `silence clear NAME|--all` to end silences early.

    While silenced, checks run and are recorded; no actions, no escalations; availability leaves the
    time out.
    """
    if words and words[0] == "clear":
        if len(words) > 2 or for_ is not None:
            raise click.UsageError("usage: healerd silence clear NAME|--all")
        target = _target(words[1] if len(words) == 2 else None, all_)
        _report(
            submit_command(
                resolve_db(db_path), "silence_clear", target, {}, apply_offline=_offline("silence_clear", target, {})
            )
        )
        return
    if len(words) > 1:
        raise click.UsageError("silence one component at a time, or --all")
    target = _target(words[0] if words else None, all_)
    if for_ is None:
        raise click.UsageError("--for is required (e.g. --for 2h)")
    from daemon.config.durations import parse_duration

    try:
        if parse_duration(for_).total_seconds() <= 0:
            raise ValueError("must be longer than zero")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from None
    args = {"for": for_, **({"reason": reason} if reason else {})}
    _report(
        submit_command(resolve_db(db_path), "silence", target, args, apply_offline=_offline("silence", target, args))
    )


COMMANDS = (silence,)
