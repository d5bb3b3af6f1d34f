"""Typed errors. Code inside raises these; only the CLI edge turns them into messages and exit codes."""

from __future__ import annotations

from typing import Any

#: Exit code for a daemon that could not start (bad config, unmigratable database), as uvicorn uses 3,
#: so systemd's RestartPreventExitStatus=3 stops a restart loop that cannot succeed.
EXIT_STARTUP_FAILURE = 3
#: Exit code of a read verb pointed at a database that is missing or is not healerd's: distinct from 1
#: (a command that ran and failed), so a script can tell "wrong --db" from "the answer is bad".
EXIT_NOT_A_DATABASE = 4


class HealerdError(Exception):
    """Base of every error healerd raises on purpose."""


class ConfigError(HealerdError):
    """The configuration directory is invalid; `problems` lists every problem found."""

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class StoreError(HealerdError):
    """The database could not be opened, migrated or written."""


class MigrationError(StoreError):
    """Alembic could not bring the database to head (or it is ahead of this code)."""


class NotAHealerdDatabase(StoreError):
    """The path names no file, a file that is not SQLite, or SQLite without healerd's schema."""

    exit_code = EXIT_NOT_A_DATABASE


class WrongDatabaseFile(MigrationError):
    """`migrate`/`run` were pointed at a directory or at another application's SQLite file: the same
    exit code as a read verb on a wrong --db, since the remedy is the same (fix the path)."""

    exit_code = EXIT_NOT_A_DATABASE


class ReportError(HealerdError):
    """A report was asked for a view that does not exist, or could not be read."""


class StartupError(HealerdError):
    """`healerd run` cannot start; exits with EXIT_STARTUP_FAILURE."""


class NotFoundError(HealerdError):
    """An operator named a component, checkpoint, experiment or run that does not exist."""


class FleetError(HealerdError):
    """The fleet centre (PostgreSQL) is unreachable, refuses us, or its schema does not match ours."""


class FleetSchemaError(FleetError):
    """The centre's schema is older or newer than this host's: nothing is written until they match."""
