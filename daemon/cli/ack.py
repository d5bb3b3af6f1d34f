"""`healerd ack NAME` (stop an incident's reminders) and `healerd heal NAME` (ask for a recovery now).

Both are operator commands recorded in `operator_commands` with their outcome (see cli/breaker.py's
`submit_command`): a running daemon applies them within a second through the healer; without one, the
command applies the same ladder reducer to the stored state itself, so the daemon starts knowing it.
An ack is also written to `incidents.acked_at`; the `resolved` message is still sent at the end.
"""

from __future__ import annotations

from pathlib import Path

import click

from daemon.cli.breaker import _report, submit_command
from daemon.cli.options import db_option, resolve_db


@click.command("ack")
@click.argument("name")
@db_option
def ack(name: str, db_path: Path | None) -> None:
    """Acknowledge NAME's open incident: no more reminders (recorded with the incident)."""
    from daemon.service.healer.commands import ack_offline

    _report(submit_command(resolve_db(db_path), "ack", name, {}, apply_offline=ack_offline(name)))


@click.command("heal")
@click.argument("name")
@db_option
def heal(name: str, db_path: Path | None) -> None:
    """Ask the healer to run NAME's next eligible recovery step now (opens an incident if none is open).

    Budgets, root-cause-first and the global limit still apply; the request lapses after 10 minutes.
    """
    from daemon.service.healer.commands import heal_offline

    db = resolve_db(db_path)
    _report(
        submit_command(db, "heal", name, {}, apply_offline=heal_offline(name)),
        offline_warning=f"no daemon is running on {db}: nothing runs now; the step runs only if a daemon "
        "starts on this database within 10 minutes (the request then lapses)",
    )


COMMANDS = (ack, heal)
