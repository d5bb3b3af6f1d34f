"""`healerd check`: validate a config directory the way `nginx -t` and `monit -t` do; `--run NAME` runs
one component's check once, now, the first thing an operator does after writing a policy.

Run before a reload (or in config management) so a bad edit is caught at the keyboard, not at 3 a.m.
It uses exactly the loader the daemon starts with, without `previous`, so "ok" here means `healerd run`
accepts the directory. Problems go to stderr one per line (grep- and CI-friendly); exit 1 on any.

`--run` exits like a Nagios plugin (0 healthy, 1 degraded, 2 unhealthy, 3 unknown), so it also drops
into an existing monitoring system. It runs the check exactly as the daemon would (same function,
timeout and working directory), without the breaker, the database or any recovery.
"""

from __future__ import annotations

import sys

import click

from daemon.cli.options import config_environment, config_option, db_option, resolve_config

#: Status → exit code, as Nagios plugins (and healerd's own exec checks) read them.
NAGIOS_EXIT = {"healthy": 0, "degraded": 1, "unhealthy": 2, "unknown": 3}


@click.command("check")
@config_option
@db_option
@click.option(
    "--run",
    "run_name",
    metavar="NAME",
    default=None,
    help="Run NAME's check once now and print status, latency, error class and message "
    "(exit 0/1/2/3 for healthy/degraded/unhealthy/unknown).",
)
@click.option(
    "--simulate",
    is_flag=True,
    help="Also run canned failures through each policy and report what a syntax check cannot see.",
)
@click.option(
    "--escalate-within",
    default="10m",
    show_default=True,
    help="With --simulate: a ladder must escalate a persistent failure within this.",
)
def check(config_dir, db_path, run_name, simulate, escalate_within) -> None:
    """Validate the whole config directory; print every problem, not just the first."""
    from daemon.config.loader import load_config, load_what_loads

    directory = resolve_config(config_dir, db_path)
    # --run: a bad file elsewhere must not hide the component asked for (it said "known: none").
    env = config_environment(db_path)  # ${VAR}s as the running daemon sees them
    loaded, problems = (load_config if run_name is None else load_what_loads)(directory, env=env)
    if run_name is not None:
        _run_one(directory, loaded, problems, run_name)
        return
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


def _run_one(directory, loaded, problems, name: str) -> None:
    import asyncio

    from daemon.engine.checks import run_check

    components = loaded.config.components if loaded is not None else {}
    component = components.get(name)
    if component is None:
        for problem in problems:
            click.echo(str(problem), err=True)
        known = ", ".join(sorted(components)) or "none"
        click.echo(f"healerd: no component named {name!r} in {directory} (known: {known})", err=True)
        sys.exit(NAGIOS_EXIT["unknown"])
    if problems:  # the component itself loaded; say the rest of the directory has problems, then run it
        click.echo(f"warning: {len(problems)} problem(s) elsewhere in {directory} (see `healerd check`)", err=True)
    result = asyncio.run(run_check(component, cwd=loaded.config.directory))
    error = f", {result.error_class}" if result.error_class else ""
    click.echo(f"{name}: {result.status.value}{error}, {result.latency_ms:.1f} ms: {result.message}".rstrip(": "))
    sys.exit(NAGIOS_EXIT[result.status.value])


COMMANDS = (check,)
