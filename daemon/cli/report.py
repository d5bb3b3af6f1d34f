"""`healerd report`: print one of the SQL views, read-only, for a terminal or for another program."""

from __future__ import annotations

import csv
import io
import json
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
    if fmt == "json":
        return json.dumps([dict(zip(columns, row)) for row in rows], indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        return buffer.getvalue()
    return _table(columns, rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return " ".join(str(value).split())  # one line per row, whatever the message contained


def _is_numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, (int, float)) for v in present)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain padded columns (numbers right-aligned), so the output is the same on a TTY and in a pipe."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [_is_numeric([row[i] for row in rows]) for i in range(len(columns))]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        padded = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(padded).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    if not rows:
        out.append("(no rows)")
    return "\n".join(out) + "\n"


COMMANDS = (report,)
