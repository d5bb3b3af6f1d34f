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
    from daemon.store import migrate as store_migrate  # Alembic: only for this verb (CLI start-up)

    path = resolve_db(db_path)
    if show_status:
        current, head = store_migrate.status(path)
        state = "up to date" if current == head else ("not created" if not path.exists() else "behind")
        click.echo(f"database: {path}")
        click.echo(f"current:  {current or '(none)'}")
        click.echo(f"head:     {head}")
        click.echo(f"state:    {state}")
        return
    before = store_migrate.current(path)
    head = store_migrate.upgrade(path, force=force)
    if before == head:
        click.echo(f"{path}: already at {head} (head)")
    else:
        click.echo(f"{path}: migrated from {before or 'empty'} to {head} (head)")


COMMANDS = (migrate,)
