"""`healerd report`: print one of the SQL views, read-only, for a terminal or for another program."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from daemon.cli.options import db_option, resolve_db
from daemon.store import views


@click.command("report")
@click.argument("view", required=False)
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table is aligned for a terminal; json is a list of objects; csv has a header row.",
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many rows.")
@click.option("--list", "list_views", is_flag=True, help="List the views with a one-line description.")
def report(view: str | None, db_path: Path | None, fmt: str, limit: int | None, list_views: bool) -> None:
    """Print the view VIEW of the database (see --list)."""
    path = resolve_db(db_path)
    if list_views:
        conn = views.open_readonly(path)
        try:
            described = views.describe_views(conn)
        finally:
            conn.close()
        width = max((len(name) for name, _ in described), default=0)
        for name, summary in described:
            click.echo(f"{name.ljust(width)}  {summary}".rstrip())
        return
    if view is None:
        raise click.UsageError("name a view, or use --list to see them")
    columns, rows = views.query_view(path, view, limit=limit)
    click.echo(render(columns, rows, fmt), nl=False)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    # json, csv and io only for the formats that need them: `report` and `status` print tables by
    # default, and a read verb imports nothing it does not use (issue 11: start-up is the cost).
    if fmt == "json":
        import json

        return json.dumps([dict(zip(columns, row)) for row in rows], indent=2) + "\n"
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        return buffer.getvalue()
    return _table(columns, rows)


def _cell(value: Any) -> str:
    kind = type(value)
    if kind is int:  # most cells are counts: no float format, no whitespace to fold
        return str(value)
    if value is None:
        return ""
    if kind is float or isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return " ".join(str(value).split())  # one line per row, whatever the message contained


def _is_numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) for v in present)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain padded columns (numbers right-aligned), so the output is the same on a TTY and in a pipe.

    Built column by column, then joined row by row: `healerd status` and the availability reports print
    a thousand rows, and this runs inside their start-up time (issue 11)."""
    by_column = list(zip(*rows)) if rows else [() for _ in columns]
    padded = []
    widths = []
    for name, values in zip(columns, by_column):
        cells = [_cell(v) for v in values]
        width = max(len(name), *map(len, cells)) if cells else len(name)
        widths.append(width)
        pad = str.rjust if _is_numeric(values) else str.ljust
        padded.append([pad(name, width), "-" * width, *(pad(c, width) for c in cells)])
    out = ["  ".join(line).rstrip() for line in zip(*padded)]
    if not rows:
        out.append("(no rows)")
    return "\n".join(out) + "\n"


COMMANDS = (report,)
