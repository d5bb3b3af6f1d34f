"""The centre's tables: the local models (store/models.py) with a `host` column, plus the fleet's own.

Built from the local metadata rather than written again, so a column added to a local table shows up
here at once — and the fleet migrations test then fails until `migrations/fleet/` carries it, which is
the point: the centre's schema is migrated by its own Alembic history (`healerd fleet migrate`).

What changes on the way:
* the key is `(host, local key)`: every host numbers its rows from 1, and the shipper's
  `INSERT … ON CONFLICT (host, id)` makes a replayed batch a no-op instead of a duplicate;
* no foreign keys: rows of different tables arrive in separate batches, and the centre is a mirror
  of hosts that are already consistent, not a second source of truth;
* no CHECKs: they use SQLite functions (`json_valid`) and were enforced where the row was written;
* REAL becomes DOUBLE PRECISION (unix seconds need its 53 bits), booleans stay booleans.

`SHIPPED` says, per table, how the shipper finds what to send (see service/fleet_ship.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, Column, Double, Index, Integer, MetaData, Table, Text

from daemon.store import models
from daemon.store.columns import NAMING_CONVENTION


@dataclass(frozen=True)
class Shipped:
    """How one local table is shipped.

    mode:
      * "append": rows never change once written; a high-water mark on `id` is exact.
      * "window": rows change until they reach a final state; the mark on `id` finds new rows, and rows
        from `open_from` (the oldest not final at the last round) are re-read and re-sent if changed.
      * "snapshot": a small table keyed by something else (breakers by component); every round reads
        it and sends the rows that changed since the last round.
    """

    table: str
    mode: str
    #: SQL condition for "may still change" (window mode; `:now` is the shipper's wall clock). Its
    #: Python twin, evaluated on rows already read, is store/fleet_sql.py `is_open`.
    open_when: str = ""
    #: column holding the row's time, for the lag ("how old is the oldest row not shipped").
    time_column: str | None = None
    #: columns whose change alone does not make a row worth re-sending (see breakers below).
    volatile: tuple[str, ...] = ()


#: Raw results are shipped, not hourly rollups: a rollup row changes with every check of its hour, a
#: result never does, and the centre computes availability from results like the rollups would.
SHIPPED: tuple[Shipped, ...] = (
    Shipped("components", "snapshot"),
    Shipped("check_results", "append", time_column="ts"),
    # A breaker's success counter, outcome window and updated_at move with every check (flushed every
    # 250 ms); re-sending 1,000 breakers per host per round for that would cost the centre more than
    # the results do. A breaker is re-sent when its state, deadline or failure count changes; the
    # centre's copy of the volatile columns is as of that moment.
    Shipped("breakers", "snapshot", volatile=("consecutive_successes", "recent", "updated_at")),
    Shipped("breaker_transitions", "append", time_column="ts"),
    Shipped("incidents", "window", "status = 'open'", time_column="opened_at"),
    Shipped("decisions", "append", time_column="ts"),
    Shipped("recovery_events", "window", "status = 'started'", time_column="started_at"),
    Shipped("escalations", "window", "status = 'pending'", time_column="created_at"),
    # A window's occurrence never changes; a silence does once, when `healerd silence clear` sets
    # cleared_at, which it can only do before the silence ends (store/maintenance_sql.py). So a silence
    # is re-read until it is cleared or has ended (plus a grace, fleet_sql.SILENCE_GRACE_S).
    Shipped(
        "maintenance_periods",
        "window",
        "kind = 'silence' AND cleared_at IS NULL AND ends_at > :now - 60",
        time_column="created_at",
    ),
    # Shadow mode's decisions (issue 15) never change once written.
    Shipped("shadow_decisions", "append", time_column="ts"),
    Shipped("checkpoints", "snapshot"),
    Shipped("degradation_state", "snapshot"),
    Shipped("degradation_history", "append", time_column="ts"),
    Shipped("feature_flag_state", "snapshot"),
    Shipped("chaos_experiments", "snapshot"),
    Shipped("chaos_runs", "window", "verdict = 'running'", time_column="started_at"),
    Shipped("config_errors", "window", "resolved_at IS NULL", time_column="ts"),
)

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _central_type(column: Column) -> sa.types.TypeEngine:
    t = column.type
    if isinstance(t, Boolean):
        return Boolean(create_constraint=False)
    if isinstance(t, BigInteger):
        return BigInteger()
    if isinstance(t, Integer):
        return Integer()
    if isinstance(t, (sa.types.REAL, sa.Float)):
        return Double()
    return Text()


def _mirror(local: Table) -> Table:
    columns = [Column("host", Text, nullable=False)]
    for c in local.columns:
        columns.append(Column(c.name, _central_type(c), nullable=bool(c.nullable) and not c.primary_key))
    key = ["host", *(c.name for c in local.primary_key.columns)]
    return Table(local.name, metadata, *columns, sa.PrimaryKeyConstraint(*key))


for _spec in SHIPPED:
    _mirror(models.metadata.tables[_spec.table])

# Indexes the fleet views need (the key already serves "by host").
Index(None, metadata.tables["check_results"].c.ts)
Index(
    None,
    metadata.tables["check_results"].c.host,
    metadata.tables["check_results"].c.component_id,
    metadata.tables["check_results"].c.ts,
)
Index(None, metadata.tables["breaker_transitions"].c.ts)

# --- the fleet's own tables ----------------------------------------------------------------------------

fleet_hosts_info = Table(
    "fleet_hosts_info",
    metadata,
    # One row per host, upserted by its shipper every round it reaches the centre.
    Column("host", Text, primary_key=True),
    Column("first_seen", Double, nullable=False),
    Column("last_seen", Double, nullable=False),
    Column("version", Text, nullable=False),
    Column("local_revision", Text),
    Column("lag_s", Double),
    Column("rows_shipped", BigInteger, nullable=False, server_default=sa.text("0")),
)

fleet_incidents = Table(
    "fleet_incidents",
    metadata,
    # A shared cause: more than fleet.max_share of hosts opened this component's breaker at once.
    Column("id", BigInteger, sa.Identity(), primary_key=True),
    Column("component", Text, nullable=False),
    Column("opened_at", Double, nullable=False),
    Column("closed_at", Double),
    Column("status", Text, nullable=False, server_default=sa.text("'open'")),
    Column("opened_by", Text, nullable=False),
    Column("hosts_open", Integer, nullable=False),
    Column("hosts_total", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    sa.CheckConstraint("status IN ('open', 'resolved')", name="status"),
    Index(
        "uq_fleet_incidents_one_open_per_component",
        "component",
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    ),
)
