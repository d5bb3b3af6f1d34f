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

from daemon.cli.options import config_option, db_option, resolve_config


def _plain(value: Any) -> Any:
    """Durations back to the strings the config files use; everything else JSON-able."""
    if isinstance(value, timedelta):
        from daemon.config.durations import format_duration

        return format_duration(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def effective(config) -> dict[str, Any]:
    """healerd.toml's settings, then components, checkpoints and experiments, in one document."""
    settings = _plain(config.settings.model_dump(mode="python"))
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
    """The effective config of DIR with every default filled in (exit 1 if the directory has problems)."""
    from daemon.config.loader import load_config

    directory = resolve_config(config_dir, db_path)
    loaded, problems = load_config(directory)
    for problem in problems:
        click.echo(str(problem), err=True)
    if loaded is None:
        sys.exit(1)
    doc = effective(loaded.config)
    click.echo(f"# effective configuration of {directory}" if fmt == "toml" else "", nl=fmt == "toml")
    click.echo(_toml(doc) if fmt == "toml" else json.dumps(doc, indent=2, default=str))
    if problems:
        sys.exit(1)


COMMANDS = (config_group,)
