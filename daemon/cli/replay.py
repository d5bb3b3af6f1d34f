"""`healerd replay --config NEWDIR`: what another policy set would have done with the recorded history.

The recorded check results stream, oldest first, through NEWDIR's breakers and ladders on a simulated
clock (engine/replay.py: the daemon's own breaker, decide() and ladder reducers). Per component and
incident it prints when the breaker would have opened, each action and when, escalations and
reminders, and how that differs from what the database says actually happened. Outcomes the history
cannot tell are estimated and labelled (engine/replay_outcomes.py states the rule); `--assume` makes
them explicit. Read-only: it never writes to the database, so it is safe on a live daemon's file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import click

from daemon.cli.options import db_option, resolve_db
from daemon.errors import ConfigError, HealerdError, NotFoundError


def parse_instant(text: str) -> float:
    """Unix seconds, or an ISO 8601 date/time (UTC unless it names its offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HealerdError(f"not a time: {text!r} (unix seconds or ISO 8601, e.g. 2026-11-30T03:00:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def load_policies(directory: Path):
    from daemon.config.loader import load_config

    loaded, problems = load_config(directory)
    if loaded is None:
        raise ConfigError(f"{directory}: not a valid config directory:\n" + "\n".join(str(p) for p in problems))
    return loaded.config


def replay_db(
    config,
    conn: sqlite3.Connection,
    start: float,
    end: float,
    names: Sequence[str] | None = None,
    assume: Literal["healed", "failed"] | None = None,
    *,
    with_recorded: bool = True,
    fold: bool = True,
) -> dict[str, Any]:
    """Replay [start, end) of the database on `config`; returns the summary (the JSON output).

    fold: quiet components' plain healthy results are folded (engine/replay_fold.py) rather than fed one
    by one; the result is the same (tests compare both), only the time differs.
    """
    from daemon.engine.decision import CheckpointView
    from daemon.engine.replay import Replay, closure
    from daemon.engine.replay_outcomes import Outcomes, RecordedAction
    from daemon.engine.replay_report import summarise
    from daemon.store import replay_sql

    shown = list(names) if names else None
    names = closure(config, names) if names else None
    events = replay_sql.recovery_events(conn, start, end, names)
    recorded_actions = [
        RecordedAction(
            e["component"],
            e["strategy"],
            e["step"],
            e["started_at"],
            e["finished_at"],
            e["status"],
            e["error_class"],
            e["candidate"],
            e["action"],
            e["incident_id"],
        )
        for e in events
    ]
    settings = config.settings.daemon
    tolerance = {
        n: max(c.check.every.total_seconds(), settings.fast_every.total_seconds()) for n, c in config.components.items()
    }
    outcomes = Outcomes(recorded_actions, assume, settings.fast_every.total_seconds(), tolerance)
    incidents = replay_sql.incidents(conn, start, end, names)
    acks: dict[str, list[float]] = defaultdict(list)
    for inc in incidents:
        if inc["acked_at"] is not None:
            acks[inc["component"]].append(inc["acked_at"])
    checkpoints = [
        CheckpointView(c["name"], c["id"], c["taken_at"], True) for c in replay_sql.verified_checkpoints(conn)
    ]
    if names:
        config = config.model_copy(update={"components": {n: c for n, c in config.components.items() if n in names}})
    replay = Replay(config, outcomes, checkpoints=checkpoints, acks=acks)
    if fold:
        from daemon.engine.replay_fold import run_folded

        with replay_sql.FoldSource(conn, start, end, list(config.components)) as source:
            result = run_folded(replay, source, until=end)
    else:
        result = replay.run(replay_sql.stream_results(conn, start, end, names), until=end)
    recorded: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    if with_recorded:
        for key, rows in (
            ("events", events),
            ("incidents", incidents),
            ("escalations", replay_sql.escalations(conn, start, end, names)),
            ("opens", replay_sql.breaker_opens(conn, start, end, names)),
            ("decisions", replay_sql.decisions(conn, start, end, names)),
        ):
            for row in rows:
                recorded[row["component"]][key].append(row)
    summary = summarise(result, recorded)
    if shown:
        summary["components"] = {n: v for n, v in summary["components"].items() if n in shown}
    return summary


@click.command("replay")
@click.option(
    "--config",
    "config_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The policy set to try (a config directory, like /etc/healerd).",
)
@db_option
@click.option("--since", default=None, help="How far back from the newest result (e.g. 7d, 12h) [default: 7d].")
@click.option("--from", "from_", default=None, help="Start (ISO 8601 or unix seconds); with --until.")
@click.option("--until", default=None, help="End (ISO 8601 or unix seconds) [default: the newest result].")
@click.option("--component", "components", multiple=True, help="Only these components (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--assume",
    type=click.Choice(["healed", "failed"]),
    default=None,
    help="Outcome of every action the history cannot tell, instead of the estimate.",
)
def replay(config_dir, db_path, since, from_, until, components, fmt, assume) -> None:
    """Replay the recorded check results through another policy set and compare with what happened."""
    from daemon.config.durations import parse_duration
    from daemon.engine.replay_report import table
    from daemon.store import replay_sql
    from daemon.store.sqlite import connect

    if since is not None and from_ is not None:
        raise click.UsageError("--since and --from exclude each other")
    config = load_policies(config_dir)
    missing = [n for n in components if n not in config.components]
    if missing:
        raise NotFoundError(f"not in {config_dir}: {', '.join(missing)}")
    db = resolve_db(db_path)
    if not db.exists():
        raise NotFoundError(f"no database at {db}")
    conn = connect(db, readonly=True)
    try:
        first, last = replay_sql.bounds(conn)
        if first is None or last is None:
            raise NotFoundError(f"{db}: no check results recorded")
        # past the newest result nothing is known: deadlines there would only be guesses (and reminders)
        end = min(parse_instant(until), last + 1e-3) if until is not None else last + 1e-3
        if from_ is not None:
            start = parse_instant(from_)
        else:
            start = end - parse_duration(since or "7d").total_seconds()
        began = time.process_time()
        summary = replay_db(config, conn, start, end, list(components) or None, assume)
        summary["cpu_s"] = round(time.process_time() - began, 3)
    finally:
        conn.close()
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        click.echo(table(summary))


COMMANDS = (replay,)
