"""`healerd run`: the daemon in the foreground (systemd runs exactly this)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from daemon.cli.options import (
    config_option,
    db_option,
    forget_last_db,
    note_last_db,
    resolve_config,
    resolve_db,
)
from daemon.errors import EXIT_STARTUP_FAILURE, HealerdError, StartupError


def _refuse_wrong_file(db_path: Path, force: bool) -> None:
    """Refuse a directory or another application's SQLite file before anything is created beside it
    (the lock), and before this user's remembered database is replaced by one no daemon will run on."""
    from daemon.errors import WrongDatabaseFile
    from daemon.store.probe import refuse_to_adopt

    try:
        refuse_to_adopt(db_path, force=force)
    except WrongDatabaseFile as exc:
        raise StartupError(str(exc)) from None  # `run` cannot start: exit 3, as for any start-up failure


@click.command("run")
@config_option
@db_option
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Overrides [daemon] log_level.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    help="auto: JSON when stderr is not a terminal (journald), console when it is. When stderr is "
    "journald's stream ($JOURNAL_STREAM), each line also starts with its syslog priority <N>.",
)
@click.option("--force", is_flag=True, help="Use a SQLite file that holds other tables (adds healerd's schema).")
@click.option(
    "--shadow",
    "shadow_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A second policy set that decides alongside on the same results; its decisions are recorded "
    "in shadow_decisions, nothing of it is executed.",
)
def run(config_dir, db_path, log_level, log_format, force, shadow_dir) -> None:
    """Run the daemon until SIGTERM/SIGINT; SIGHUP or a config change reloads.

    Exits 3 when it cannot start (invalid config, database that cannot be migrated, another daemon on
    the same database), so systemd's RestartPreventExitStatus=3 does not retry what cannot work.
    """
    from daemon.logs import configure_logging, is_journal_stream
    from daemon.service.daemon import Daemon, DaemonOptions, load_valid_config
    from daemon.service.lock import DaemonLock

    configure_logging(log_level or "info", json=None if log_format == "auto" else log_format == "json")
    options = DaemonOptions(
        config_dir=resolve_config(config_dir, use_daemon=False), db_path=resolve_db(db_path), force_db=force
    )
    if shadow_dir is not None:
        options.extra["shadow"] = shadow_dir
    lock = DaemonLock(options.db_path)
    lock_was_there = lock.path.exists()
    previous_last_db = None
    started = False
    try:
        # Validate before anything is created (the lock file, the database, its directory).
        loaded = load_valid_config(options.config_dir)
        _refuse_wrong_file(options.db_path, force)
        if log_level is None:  # [daemon] log_level applies unless --log-level overrides it
            configure_logging(
                loaded.config.settings.daemon.log_level, json=None if log_format == "auto" else log_format == "json"
            )
        try:
            lock.acquire_for_daemon()
        except OSError as exc:
            raise HealerdError(f"cannot create the lock next to the database {options.db_path}: {exc}") from exc
        previous_last_db = note_last_db(options.db_path)  # so this user's `healerd status` etc. find it
        daemon = Daemon(options)
        try:
            code = asyncio.run(daemon.run())
        finally:
            started = daemon.became_ready
    except HealerdError as exc:
        prefix = "<3>" if is_journal_stream(sys.stderr) else ""  # journald files each line as an error
        click.echo("\n".join(prefix + line for line in f"healerd: cannot start: {exc}".splitlines()), err=True)
        sys.exit(EXIT_STARTUP_FAILURE)
    except KeyboardInterrupt:
        code = 0
    finally:
        if not started:
            # A daemon that never started leaves nothing behind: no lock file it created, and this user's
            # remembered database back to the one before (a failed run is not "the daemon you ran").
            if previous_last_db is not None:
                forget_last_db(options.db_path, previous_last_db)
            if not lock_was_there and lock.held:
                lock.path.unlink(missing_ok=True)  # unlinked while still held: no daemon can hold it
        lock.release()
    sys.exit(code)


COMMANDS = (run,)
