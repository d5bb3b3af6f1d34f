"""`healerd migrate`: bring the database to the schema of this version, or show where it stands."""

from __future__ import annotations

from pathlib import Path

import click

from daemon.cli.options import db_option, resolve_db


@click.command("migrate")
@db_option
@click.option("--status", "show_status", is_flag=True, help="Show the current and head revisions; change nothing.")
@click.option("--force", is_flag=True, help="Add healerd's schema even to a SQLite file that holds other tables.")
def migrate(db_path: Path | None, show_status: bool, force: bool) -> None:
    """Upgrade the SQLite database to the latest schema (creates it if missing)."""
    from daemon.errors import EXIT_NOT_A_DATABASE
    from daemon.store import migrate as store_migrate  # Alembic: only for this verb (CLI start-up)
    from daemon.store.probe import foreign_message, is_foreign, refuse_to_adopt

    path = resolve_db(db_path)
    refuse_to_adopt(path, force=True)  # a directory; --status names a foreign file below, upgrade refuses it
    if show_status:
        current, head = store_migrate.status(path)
        foreign = is_foreign(path) if current is None else []
        if foreign:
            state = f"foreign: {foreign_message(path, foreign)}; `healerd migrate` refuses it without --force"
        else:
            state = "up to date" if current == head else ("not created" if not path.exists() else "behind")
        click.echo(f"database: {path}")
        click.echo(f"current:  {current or '(none)'}")
        click.echo(f"head:     {head}")
        click.echo(f"state:    {state}")
        if foreign:  # a script checking `migrate --status` must not read "fine" from a wrong --db
            raise SystemExit(EXIT_NOT_A_DATABASE)
        return
    before = store_migrate.current(path)
    head = store_migrate.upgrade(path, force=force)
    if before == head:
        click.echo(f"{path}: already at {head} (head)")
    else:
        click.echo(f"{path}: migrated from {before or 'empty'} to {head} (head)")


COMMANDS = (migrate,)
