"""`healerd check`: validate a config directory the way `nginx -t` and `monit -t` do.

Run before a reload (or in config management) so a bad edit is caught at the keyboard, not at 3 a.m.
It uses exactly the loader the daemon starts with, without `previous`, so "ok" here means `healerd run`
accepts the directory. Problems go to stderr one per line (grep- and CI-friendly); exit 1 on any.
"""

from __future__ import annotations

import sys

import click

from daemon.cli.options import config_option, resolve_config


@click.command("check")
@config_option
@click.option("--simulate", is_flag=True,
              help="Also run canned failures through each policy and report what a syntax check cannot see.")
@click.option("--escalate-within", default="10m", show_default=True,
              help="With --simulate: a ladder must escalate a persistent failure within this.")
def check(config_dir, simulate, escalate_within) -> None:
    """Validate the whole config directory; print every problem, not just the first."""
    from daemon.config.loader import load_config

    directory = resolve_config(config_dir)
    loaded, problems = load_config(directory)
    if loaded is None or problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        if not problems:  # cannot happen by the loader's contract; never print "ok" for a None config
            click.echo(f"{directory}: invalid", err=True)
        sys.exit(1)
    click.echo(f"ok: {loaded.summary()} in {directory}")
    if simulate:
        from daemon.cli.simulate import simulate_config
        from daemon.config.durations import parse_duration

        sys.exit(simulate_config(loaded.config, parse_duration(escalate_within).total_seconds()))


COMMANDS = (check,)
