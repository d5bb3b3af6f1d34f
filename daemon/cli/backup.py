"""`healerd backup FILE`: a consistent copy of the database while the daemon runs (store/backup.py)."""

from __future__ import annotations

from pathlib import Path

import click

from daemon.cli.options import db_option, resolve_db


@click.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
@db_option
@click.option("--force", is_flag=True, help="Replace TARGET if it exists.")
def backup(target: Path, db_path: Path | None, force: bool) -> None:
    """Write a consistent, verified copy of the database to TARGET (safe while the daemon runs; a plain
    `cp` of a live SQLite file can copy a torn page and misses what is still in its -wal)."""
    from daemon.store.backup import backup as take
    from daemon.store.probe import require_healerd_db

    done = take(require_healerd_db(resolve_db(db_path)), target, overwrite=force)
    click.echo(
        f"{done.target}: {done.bytes / 1e6:.1f} MB, revision {done.revision or '(none)'}, "
        f"quick_check ok, {done.seconds:.2f}s"
    )


COMMANDS = (backup,)
