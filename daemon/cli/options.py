"""Options shared by several verbs, so `--config` and `--db` mean the same thing everywhere.

Where the database is, for every verb alike (`run` included): `--db`; `$HEALERD_DB`;
`$STATE_DIRECTORY/healerd.db` (systemd); the database of a daemon this user started with `healerd run`
that is still running; `/var/lib/healerd/healerd.db` if it exists (the systemd install); the database
this user last ran a daemon on; and `/var/lib/healerd/healerd.db` (whose absence is then the error).
So after the Quick start's `healerd run --db example.db`, `healerd report --list` in another terminal
reads example.db.

Where the config is: `--config`; `$HEALERD_CONFIG`; `$CONFIGURATION_DIRECTORY` (systemd); the directory
the daemon on that database recorded (table daemon_info); `/etc/healerd`.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from daemon.paths import SYSTEM_DB, env_db_path, last_daemon_file

config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Config directory [default: $HEALERD_CONFIG, $CONFIGURATION_DIRECTORY, the running daemon's, "
    "or /etc/healerd].",
)
db_option = click.option(
    "--db",
    "db_path",
    # dir_okay: a directory is refused by the verb itself with its exit code (4), not by click's usage error (2).
    type=click.Path(path_type=Path),
    default=None,
    help="SQLite database [default: $HEALERD_DB, $STATE_DIRECTORY/healerd.db, your running daemon's, "
    "/var/lib/healerd/healerd.db].",
)


def _last_daemon_db() -> Path | None:
    try:
        text = last_daemon_file().read_text().strip()
    except (OSError, RuntimeError):  # RuntimeError: no home directory to look in
        return None
    return Path(text) if text else None


def _running(db: Path) -> bool:
    from daemon.service.lock import daemon_running, lock_path

    try:
        return lock_path(db).exists() and daemon_running(db)
    except OSError:
        return False


def resolve_db_with_source(db_path: Path | None) -> tuple[Path, str]:
    """(the database, where that choice came from) following the order in this module's docstring."""
    if db_path is not None:
        return db_path, "--db"
    from_env = env_db_path()
    if from_env is not None:
        return from_env, "$HEALERD_DB" if os.environ.get("HEALERD_DB") else "$STATE_DIRECTORY"
    last = _last_daemon_db()
    # os.path.exists, not Path.exists: a non-root operator cannot see into /var/lib/healerd (0700), and
    # Path.exists raises PermissionError there; the verb then says "not readable (try sudo)" instead.
    if last is not None and os.path.exists(last) and _running(last):
        return last, f"your running daemon ({last_daemon_file()})"
    if _present(SYSTEM_DB) or last is None or not os.path.exists(last):
        return SYSTEM_DB, "the system default"
    return last, f"the last daemon you ran ({last_daemon_file()})"


def _present(path: Path) -> bool:
    """Exists, or exists behind a directory this user may not enter (the systemd install's 0700)."""
    try:
        path.stat()
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def resolve_db(db_path: Path | None) -> Path:
    return resolve_db_with_source(db_path)[0]


def note_last_db(db_path: Path) -> str | None:
    """Best effort (a systemd unit has a read-only home): remember the database `healerd run` uses.
    Returns what was remembered before ("" for nothing), None when nothing could be written."""
    try:
        target = last_daemon_file()
        try:
            before = target.read_text()
        except FileNotFoundError:
            before = ""
        _write_last_db(target, f"{Path(db_path).resolve()}\n")
    except (OSError, RuntimeError):
        return None
    return before


def forget_last_db(db_path: Path, previous: str) -> None:
    """Undo note_last_db for a daemon that failed to start, unless another run has noted since."""
    try:
        target = last_daemon_file()
        if target.read_text().strip() != str(Path(db_path).resolve()):
            return
        if previous:
            _write_last_db(target, previous)
        else:
            target.unlink(missing_ok=True)
    except (OSError, RuntimeError):
        pass


def _write_last_db(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)


def recorded_config_dir(db_path: Path) -> Path | None:
    """The config directory the daemon on `db_path` recorded, if it is readable and still exists."""
    from daemon.store import daemon_info_sql
    from daemon.store.sqlite import connect

    if not db_path.is_file():
        return None
    try:
        conn = connect(db_path, readonly=True)
        try:
            row = daemon_info_sql.read(conn)
        finally:
            conn.close()
    except Exception:  # not a healerd database: the verb that reads it will say so
        return None
    if row is None or not Path(row["config_dir"]).is_dir():
        return None
    return Path(row["config_dir"])


def daemon_environment(db_path: Path | None) -> tuple[dict[str, str], int] | None:
    """(environment, pid) of the daemon running on the database, when this user may read it.

    `${VAR}`s in config files are the daemon's environment (systemd's Environment=/EnvironmentFile=),
    which an operator's shell does not have: `check --run` and `config show` expanded their own and so
    could probe another port or path than the daemon does. /proc/PID/environ is the environment the
    daemon started with, readable by its user and root; the pid is the lock holder's, so it is the
    daemon on this database and not whatever process reused a recorded pid.
    """
    from daemon.service.lock import DaemonLock

    try:
        db = resolve_db(db_path)
        if not os.path.exists(db) or not _running(db):
            return None
        pid = DaemonLock(db).holder_pid()
        if pid is None:
            return None
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            env[os.fsdecode(name)] = os.fsdecode(value)
    return env, pid


def config_environment(db_path: Path | None) -> dict[str, str] | None:
    """The environment CLI verbs expand `${VAR}` with: the running daemon's (see daemon_environment),
    else None (this process's own), so the CLI reads the config exactly as the daemon does."""
    found = daemon_environment(db_path)
    return None if found is None else found[0]


def resolve_config(config_dir: Path | None, db_path: Path | None = None, *, use_daemon: bool = True) -> Path:
    if config_dir is not None:
        return config_dir
    from daemon.paths import default_config_dir

    env = os.environ
    if env.get("HEALERD_CONFIG") or env.get("CONFIGURATION_DIRECTORY") or not use_daemon:
        return default_config_dir()
    recorded = recorded_config_dir(resolve_db(db_path))
    return recorded if recorded is not None else default_config_dir()
