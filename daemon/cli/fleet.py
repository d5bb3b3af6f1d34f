"""`healerd fleet migrate|status|report VIEW|hosts`: the fleet centre (PostgreSQL), read from anywhere.

`healerd report` keeps reading this host's SQLite file; these read the centre every host ships to, in
the same table/json/csv formats. The URL carries no password: it comes from `--password-file` (or
$HEALERD_FLEET_PASSWORD_FILE), checked like a config file. `--url` defaults to $HEALERD_FLEET_URL, and
on a host with `[fleet]` configured, to that section's url and password_file (`--config DIR`).
"""

from __future__ import annotations

import click
import sqlalchemy as sa

from daemon.cli.report import render
from daemon.errors import FleetError

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table is aligned for a terminal; json is a list of objects; csv has a header row.",
)


def _centre_options(fn):
    """--url/--password-file, else the environment, else this host's `[fleet]` (--config)."""
    import functools

    from daemon.cli.options import config_option

    @functools.wraps(fn)
    def wrapper(*args, url: str | None, password_file: str | None, config_dir, **kwargs):
        if url is None:
            url, password_file = _from_config(config_dir, password_file)
        return fn(*args, url=url, password_file=password_file, **kwargs)

    wrapper = config_option(wrapper)
    wrapper = click.option(
        "--password-file",
        envvar="HEALERD_FLEET_PASSWORD_FILE",
        default=None,
        help="File whose first line is the password [env: HEALERD_FLEET_PASSWORD_FILE].",
    )(wrapper)
    wrapper = click.option(
        "--url",
        envvar="HEALERD_FLEET_URL",
        default=None,
        help="postgresql+psycopg://USER@HOST:PORT/DB, no password [env: HEALERD_FLEET_URL; "
        "default: [fleet] url of --config].",
    )(wrapper)
    return wrapper


def _from_config(config_dir, password_file: str | None) -> tuple[str, str | None]:
    from daemon.cli.options import resolve_config
    from daemon.config.loader import load_what_loads

    directory = resolve_config(config_dir)
    loaded, _problems = load_what_loads(directory)
    fleet = loaded.config.settings.fleet if loaded is not None else None
    if fleet is None:
        raise click.UsageError(f"give --url (or $HEALERD_FLEET_URL): {directory} has no usable [fleet] section")
    return fleet.url, password_file or fleet.password_file


def _engine(url: str, password_file: str | None) -> sa.Engine:
    from daemon.store.fleet_central import make_engine

    return make_engine(url, password_file)


def _query(url: str, password_file: str | None, sql: str, params: dict | None = None):
    from daemon.store import fleet_central, fleet_migrate

    engine = _engine(url, password_file)
    try:
        with engine.connect() as conn:
            fleet_migrate.check_compatible(conn)
            return fleet_central.query(conn, sql, params)
    except sa.exc.OperationalError as exc:
        raise FleetError(
            f"cannot reach the fleet centre {fleet_central.safe_url(url)}: {' '.join(str(exc.orig).split())}"
        ) from None
    except sa.exc.ProgrammingError as exc:
        raise FleetError(f"the centre refused the query: {' '.join(str(exc.orig).split())}") from None
    finally:
        engine.dispose()


@click.group("fleet")
def fleet() -> None:
    """The fleet centre: migrate its schema, and read what every host shipped."""


@fleet.command("migrate")
@_centre_options
def migrate(url: str, password_file: str | None) -> None:
    """Create or upgrade the centre's schema (its own Alembic history, separate from the local one)."""
    from daemon.store import fleet_central, fleet_migrate

    engine = _engine(url, password_file)
    try:
        with engine.connect() as conn:
            before = fleet_migrate.current(conn)
        fleet_migrate.upgrade(engine)
    except sa.exc.OperationalError as exc:
        raise FleetError(
            f"cannot reach the fleet centre {fleet_central.safe_url(url)}: {' '.join(str(exc.orig).split())}"
        ) from None
    finally:
        engine.dispose()
    head = fleet_migrate.head()
    if before == head:
        click.echo(f"fleet centre already at revision {head}")
    else:
        click.echo(f"fleet centre migrated from {before or 'empty'} to {head}")


@fleet.command("report")
@click.argument("view", required=False)
@_centre_options
@_FORMAT
@click.option("--host", "host", default=None, help="Only this host's rows (views with a host column).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many rows.")
@click.option("--list", "list_views", is_flag=True, help="List the centre's views with a one-line description.")
def report(
    view: str | None,
    url: str,
    password_file: str | None,
    fmt: str,
    host: str | None,
    limit: int | None,
    list_views: bool,
) -> None:
    """Print the centre's view VIEW (see --list): every local view with a host column, and fleet_* views."""
    from daemon.store import fleet_views, schema_sql

    files = fleet_views.files()
    if list_views:
        width = max(len(n) for n in files)
        for name, path in sorted(files.items()):
            click.echo(f"{name.ljust(width)}  {schema_sql.summary(path.read_text(encoding='utf-8'))}".rstrip())
        return
    if view is None:
        raise click.UsageError("name a view, or use --list to see them")
    if view not in files:
        raise FleetError(f"no fleet view named {view!r}; `healerd fleet report --list` shows them")
    sql, params = f'SELECT * FROM "{view}"', {}
    if host is not None:
        sql += " WHERE host = :host"
        params["host"] = host
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    columns, rows = _query(url, password_file, sql, params)
    click.echo(render(columns, rows, fmt), nl=False)


@fleet.command("hosts")
@_centre_options
@_FORMAT
def hosts(url: str, password_file: str | None, fmt: str) -> None:
    """Every host that ships here: last seen, lag, version, schema, components, breakers not closed."""
    columns, rows = _query(url, password_file, "SELECT * FROM fleet_hosts")
    click.echo(render(columns, rows, fmt), nl=False)


@fleet.command("status")
@_centre_options
@_FORMAT
def status(url: str, password_file: str | None, fmt: str) -> None:
    """What is broken, where: per component across hosts, and the open incidents (fleet and host)."""
    columns, rows = _query(
        url,
        password_file,
        "SELECT * FROM fleet_current_status WHERE unhealthy + unknown + breakers_not_closed + open_incidents > 0",
    )
    hosts_cols, hosts_rows = _query(
        url,
        password_file,
        "SELECT count(*) AS hosts, count(*) FILTER (WHERE stale = 1) AS stale, "
        "max(lag_s) AS max_lag_s FROM fleet_hosts",
    )
    inc_cols, inc_rows = _query(url, password_file, "SELECT * FROM fleet_open_incidents")
    if fmt == "json":
        import json

        doc = {
            "hosts": dict(zip(hosts_cols, hosts_rows[0])),
            "failing": [dict(zip(columns, r)) for r in rows],
            "open_incidents": [dict(zip(inc_cols, r)) for r in inc_rows],
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    if fmt == "csv":
        click.echo(render(columns, rows, fmt), nl=False)
        return
    h = dict(zip(hosts_cols, hosts_rows[0]))
    click.echo(
        f"hosts    {h['hosts']} shipping ({h['stale']} not seen for 5 min), largest lag {h['max_lag_s'] or 0:g} s"
    )
    click.echo("\nfailing components\n" + render(columns, rows, "table"), nl=False)
    click.echo("\nopen incidents\n" + render(inc_cols, inc_rows, "table"), nl=False)


COMMANDS = (fleet,)
