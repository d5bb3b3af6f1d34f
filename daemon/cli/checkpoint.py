"""`healerd checkpoint list|create|restore`: operator access to checkpoints, with or without a daemon.

These commands act directly on the files and on the database (short BEGIN IMMEDIATE transactions of
their own; SQLite's locking and busy_timeout arbitrate with the daemon's writer), rather than queueing
work for the daemon: an operator restoring a config is often doing it because things are broken,
perhaps healerd included, and must not depend on it. Versions live next to the database
(`<db_dir>/checkpoints/<name>/<id>/`), so `--db` decides where they are.

`create` takes a checkpoint even if its component is unhealthy (the "only while healthy" rule is the
scheduler's; an operator asking explicitly knows better). `restore` verifies checksums first, replaces
the files atomically, and records itself in `operator_commands` with its outcome; `--then` also runs
the restore step's `then` action (e.g. a restart) as the healer would.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import structlog

from daemon.cli.options import config_environment, config_option, db_option, resolve_config, resolve_db
from daemon.cli.report import render
from daemon.errors import ConfigError, HealerdError, NotFoundError
from daemon.timefmt import iso


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@contextmanager
def _engine_logs_to_stderr() -> Iterator[None]:
    """The command prints its own result on stdout; the engine's events go to stderr, warnings and up.

    Restored afterwards, so an in-process caller (tests, a future shell) keeps its own configuration.
    """
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)


def _existing_db(db_path: Path | None) -> Path:
    from daemon.store.probe import require_healerd_db

    return require_healerd_db(resolve_db(db_path))


def _config(config_dir: Path | None, db_path: Path | None = None):
    from daemon.config.loader import load_what_loads

    directory = resolve_config(config_dir, db_path)
    # A restore at 3 a.m. must not wait for someone's typo in another policy file to be fixed.
    loaded, problems = load_what_loads(directory, env=config_environment(db_path))
    if loaded is None:
        shown = "; ".join(str(p) for p in problems[:3]) or "invalid"
        raise ConfigError(f"config {directory} has problems (see `healerd check`): {shown}", problems)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    return loaded.config


@click.group("checkpoint")
def checkpoint_group() -> None:
    """List, take and restore checkpoints (copies of files a restore step puts back)."""


@checkpoint_group.command("list")
@click.argument("name", required=False)
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def list_(name: str | None, db_path: Path | None, fmt: str) -> None:
    """Every version of every checkpoint (or of NAME), newest first."""
    from daemon.store import checkpoints_sql
    from daemon.store.views import open_readonly

    conn = open_readonly(_existing_db(db_path))
    try:
        versions = checkpoints_sql.list_versions(conn, name)
    finally:
        conn.close()
    if name is not None and not versions:
        raise NotFoundError(f"no checkpoint named {name!r} has been taken")
    columns = ("id", "name", "taken_at", "files", "size", "status")
    rows = [
        (
            v["id"],
            v["name"],
            iso(v["taken_at"]),
            len(v["files"]),
            human_size(v["size_bytes"]) if fmt == "table" else v["size_bytes"],
            v["status"],
        )
        for v in versions
    ]
    click.echo(render(columns, rows, fmt), nl=False)


@checkpoint_group.command("create")
@click.argument("name")
@config_option
@db_option
def create(name: str, config_dir: Path | None, db_path: Path | None) -> None:
    """Take checkpoint NAME now, as declared in the config (its paths and keep)."""
    from daemon.engine.checkpoints import checkpoints_root, take_checkpoint
    from daemon.store import oneshot

    path = _existing_db(db_path)
    config = _config(config_dir, path)
    declared = config.checkpoints.get(name)
    if declared is None:
        known = ", ".join(sorted(config.checkpoints)) or "none"
        raise NotFoundError(f"no checkpoint named {name!r} in the config (declared: {known})")
    with _engine_logs_to_stderr():
        result = asyncio.run(
            take_checkpoint(
                declared, db=oneshot.runner(path), root=checkpoints_root(path), component=config.checkpoint_owner(name)
            )
        )
    if not result.ok:
        raise HealerdError(result.message)
    click.echo(f"{result.message} in {result.location}")
    if result.pruned:
        click.echo(f"pruned (keep = {declared.keep}): {', '.join(f'#{i}' for i in result.pruned)}")


@checkpoint_group.command("restore")
@click.argument("name")
@click.option("--id", "checkpoint_id", type=int, default=None, help="This version instead of the newest verified one.")
@click.option(
    "--then", "run_then", is_flag=True, help="Afterwards run the restore step's `then` action (needs the config)."
)
@config_option
@db_option
def restore(
    name: str, checkpoint_id: int | None, run_then: bool, config_dir: Path | None, db_path: Path | None
) -> None:
    """Verify checkpoint NAME and put its files back; recorded in operator_commands."""
    path = _existing_db(db_path)
    then = _then_action(name, config_dir, path) if run_then else None
    with _engine_logs_to_stderr():
        ok, outcome = asyncio.run(_restore(path, name, checkpoint_id, then))
    if not ok:
        raise HealerdError(outcome)
    click.echo(outcome)


def _then_action(name: str, config_dir: Path | None, db_path: Path | None = None):
    from daemon.config.models import RestoreStep

    config = _config(config_dir, db_path)
    owner = config.checkpoint_owner(name)
    component = config.components.get(owner) if owner else None
    for step in component.recovery if component else ():
        if isinstance(step, RestoreStep) and step.checkpoint == name and step.then is not None:
            return component, step.then, config.directory
    raise NotFoundError(f"no restore step with a `then` action uses checkpoint {name!r}")


async def _restore(path: Path, name: str, checkpoint_id: int | None, then) -> tuple[bool, str]:
    from daemon.engine.checkpoints import restore_checkpoint
    from daemon.store import checkpoints_sql, oneshot

    db = oneshot.runner(path)
    args = {"id": checkpoint_id, "then": then is not None}
    command_id = await db(lambda conn: checkpoints_sql.record_restore_started(conn, name, args, time.time()))
    ok, outcome = False, checkpoints_sql.UNFINISHED
    try:
        result = await restore_checkpoint(name, db=db, checkpoint_id=checkpoint_id)
        ok, outcome = result.ok, result.message
        if result.ok and then is not None:
            ok, outcome = await _run_then(then, outcome)
    except Exception as exc:  # recorded, then shown as the command's error
        outcome = f"restore failed: {type(exc).__name__}: {exc}"
    finally:
        await db(lambda conn: checkpoints_sql.record_restore_finished(conn, command_id, ok, outcome, time.time()))
    return ok, outcome


async def _run_then(then, restored: str) -> tuple[bool, str]:
    from daemon.engine.actions import ActionContext, describe, run_action

    component, action, directory = then
    result = await run_action(action, context=ActionContext.for_component(component, cwd=directory))
    outcome = f"{restored}; then {describe(action)}: {result.message}"
    if result.output and not result.ok:
        outcome += f"\n{result.output}"
    return result.ok, outcome


COMMANDS = (checkpoint_group,)
