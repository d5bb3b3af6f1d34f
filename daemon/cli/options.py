"""Options shared by several verbs, so `--config` and `--db` mean the same thing everywhere."""

from __future__ import annotations

from pathlib import Path

import click

from daemon.paths import default_config_dir, default_db_path

config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Config directory [default: $HEALERD_CONFIG, $CONFIGURATION_DIRECTORY or /etc/healerd].",
)
db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="SQLite database [default: $HEALERD_DB, $STATE_DIRECTORY/healerd.db or /var/lib/healerd/healerd.db].",
)


def resolve_config(config_dir: Path | None) -> Path:
    return config_dir if config_dir is not None else default_config_dir()


def resolve_db(db_path: Path | None) -> Path:
    return db_path if db_path is not None else default_db_path()
