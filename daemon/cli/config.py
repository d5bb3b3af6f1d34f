"""`healerd config show`: the effective configuration, every default filled in.

The README cannot list every default (an action's timeout, a breaker's window…) without drifting from
the code; this prints what the daemon would actually run with, after `${VAR}` expansion and with
relative paths resolved, in TOML (the format of healerd.toml) or JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import click

from daemon.cli.options import config_option, daemon_environment, db_option, resolve_config


def _plain(value: Any) -> Any:
    """Durations back to the strings the config files use; everything else JSON-able. None and empty
    tables are left out (TOML has no null; an empty `[notify.x.headers]` heading only adds noise):
    `unset_settings` names the settings left out that way."""
    if isinstance(value, timedelta):
        from daemon.config.durations import format_duration

        return format_duration(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def unset_settings(config) -> list[str]:
    """healerd.toml's optional settings that are not set (`daemon.incident_url`, `http.tls_cert`…): TOML
    cannot print them, and an operator looking for a setting must still learn that it exists."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if value is None:
            found.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))

    walk(config.settings.model_dump(mode="python"), "")
    return found


def effective(config, db_path=None) -> dict[str, Any]:
    """healerd.toml's settings, then components, checkpoints and experiments, in one document.

    `degradation.state_file`, when unset, is shown as the path the daemon on `db_path` would write
    (it depends on $RUNTIME_DIRECTORY and the database, which is why it has no fixed default)."""
    settings = _plain(config.settings.model_dump(mode="python"))
    if db_path is not None and not config.settings.degradation.state_file:
        import os

        from daemon.engine.publish import state_file_path

        path = state_file_path(config.settings.degradation, os.environ, db_path)
        settings.setdefault("degradation", {})["state_file"] = str(path)
    return {
        **settings,
        "component": [_plain(c.model_dump(mode="python")) for c in config.components.values()],
        "checkpoint": [_plain(c.model_dump(mode="python")) for c in config.checkpoints.values()],
        "experiment": [_plain(e.model_dump(mode="python")) for e in config.experiments.values()],
    }


def _toml(doc: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(doc)


@click.group("config")
def config_group() -> None:
    """Inspect the configuration the daemon runs with."""


@config_group.command("show")
@config_option
@db_option
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
def show(config_dir, db_path, fmt: str) -> None:
    """The effective config of DIR with every default filled in (exit 1 if the directory has problems:
    the files that load are still shown, the rejected ones are named on stderr)."""
    from daemon.config.loader import load_what_loads

    directory = resolve_config(config_dir, db_path)
    found = daemon_environment(db_path)  # ${VAR}s as the running daemon sees them
    loaded, problems = load_what_loads(directory, env=None if found is None else found[0])
    for problem in problems:
        click.echo(str(problem), err=True)
    if loaded is None:
        sys.exit(1)
    from daemon.cli.options import resolve_db

    doc = effective(loaded.config, resolve_db(db_path))
    unset = [name for name in unset_settings(loaded.config) if name != "degradation.state_file"]
    if fmt == "toml":
        header = f"# effective configuration of {directory}"
        if problems:
            header += f"\n# without the file(s) rejected above ({len(problems)} problem(s); see `healerd check`)"
        if unset:
            header += "\n# not set (no default): " + ", ".join(unset)
        if found is not None:
            header += f"\n# ${{VAR}}s filled from the environment of the daemon running on it (pid {found[1]})"
        click.echo(header)
        click.echo(_toml(doc))
    else:
        click.echo(json.dumps({**doc, "unset": unset}, indent=2, default=str))
    if problems:
        sys.exit(1)


COMMANDS = (config_group,)
