"""Where healerd finds its bundled files and its default config and database.

`migrations/` and `schema/` sit at the top of the source tree, but an installed wheel carries them
inside the package as `daemon/_data/…` (see pyproject's force-include); both layouts must work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"healerd's {name}/ directory is missing (looked in {installed} and {checkout})")


def migrations_dir() -> Path:
    return _bundled("migrations")


def schema_dir() -> Path:
    return _bundled("schema")


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def default_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """$HEALERD_CONFIG, else systemd's $CONFIGURATION_DIRECTORY, else /etc/healerd."""
    env = _environ(env)
    if env.get("HEALERD_CONFIG"):
        return Path(env["HEALERD_CONFIG"])
    if env.get("CONFIGURATION_DIRECTORY"):
        # systemd may pass several colon-separated directories; healerd uses the first.
        return Path(env["CONFIGURATION_DIRECTORY"].split(":")[0])
    return Path("/etc/healerd")


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    """$HEALERD_DB, else $STATE_DIRECTORY/healerd.db (systemd), else /var/lib/healerd/healerd.db.
    (The CLI adds one step, the database of your running daemon: cli/options.py.)"""
    return env_db_path(env) or SYSTEM_DB


SYSTEM_DB = Path("/var/lib/healerd/healerd.db")


def env_db_path(env: Mapping[str, str] | None = None) -> Path | None:
    """$HEALERD_DB, else $STATE_DIRECTORY/healerd.db (systemd); None when neither is set."""
    env = _environ(env)
    if env.get("HEALERD_DB"):
        return Path(env["HEALERD_DB"])
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0]) / "healerd.db"
    return None


def last_daemon_file(env: Mapping[str, str] | None = None) -> Path:
    """Where `healerd run` notes the database it runs on, for this user's later commands without --db:
    $XDG_STATE_HOME/healerd/last-db (default ~/.local/state/healerd/last-db)."""
    env = _environ(env)
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    return base / "healerd" / "last-db"


def default_runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """$RUNTIME_DIRECTORY (systemd), else /run/healerd: where state.json is published."""
    env = _environ(env)
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0])
    return Path("/run/healerd")
