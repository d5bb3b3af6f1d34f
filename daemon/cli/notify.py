"""`healerd notify test CHANNEL`: send a test message through a configured channel and say what happened.

A channel is otherwise first exercised by a real outage at 3 a.m.; this sends the same kind of message
(with the host name, through the same `deliver`, with the channel's own timeout) and reports whether it
was delivered, after how many attempts and how long, or the receiver's error. Nothing is recorded in the
database: it is not an escalation.
"""

from __future__ import annotations

import sys

import click

from daemon.cli.options import config_environment, config_option, db_option, resolve_config


@click.group("notify")
def notify_group() -> None:
    """Notification channels ([notify.NAME] in healerd.toml)."""


@notify_group.command("test")
@click.argument("channel")
@config_option
@db_option
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Retries after a failed attempt (the channel's own `retries` applies to real escalations).",
)
def test(channel: str, config_dir, db_path, retries: int) -> None:
    """Send a test message to CHANNEL now; exit 0 if it was delivered, 1 if not."""
    import asyncio

    from daemon.config.loader import load_what_loads
    from daemon.engine.notification import Notification
    from daemon.engine.notify import deliver

    directory = resolve_config(config_dir, db_path)
    # a bad policy file must not block testing a channel; ${VAR}s as the running daemon sees them
    loaded, problems = load_what_loads(directory, env=config_environment(db_path))
    channels = loaded.config.settings.notify if loaded is not None else {}
    if channel not in channels:
        for problem in problems:
            click.echo(str(problem), err=True)
        known = ", ".join(sorted(channels)) or "none"
        click.echo(f"healerd: no notify channel named {channel!r} in {directory} (known: {known})", err=True)
        sys.exit(1)
    assert loaded is not None  # no config, no channels: the branch above exited
    chosen = channels[channel].model_copy(update={"retries": retries})
    message = Notification(
        component="healerd",
        incident=None,
        kind="test",
        status="test",
        reason=f"test message sent by `healerd notify test {channel}`; no action needed",
    )
    outcome = asyncio.run(deliver(chosen, message, cwd=loaded.config.directory))
    tries = f"{outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}, {outcome.duration_ms:.0f} ms"
    if outcome.delivered:
        note = f" ({outcome.error})" if outcome.error else ""
        click.echo(f"delivered to {channel} ({chosen.kind}) from {message.host}: {tries}{note}")
        return
    click.echo(f"NOT delivered to {channel} ({chosen.kind}): {tries}: {outcome.error}", err=True)
    sys.exit(1)


COMMANDS = (notify_group,)
