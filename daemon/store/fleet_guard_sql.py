"""The fleet-wide guard's SQL on the centre: shares of hosts per component, and its incidents.

Writers coordinate with `pg_try_advisory_lock(GUARD_LOCK)`: one host at a time opens or closes fleet
incidents, the others skip that round (they read the result on the next). It is a session lock, so a
host killed while holding it releases it with its connection; the partial unique index on open
incidents would refuse a second one anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from daemon.store import fleet_models

#: Arbitrary but fixed: the advisory lock key every healerd uses for the guard ("heal" in ASCII).
GUARD_LOCK = 0x6865616C

SHARES_SQL = """
WITH live AS (
    SELECT c.host, c.id, c.name
      FROM components AS c
      JOIN fleet_hosts_info AS h ON h.host = c.host
     WHERE c.removed_at IS NULL AND h.last_seen >= :since
),
opened AS (
    SELECT l.host, l.name
      FROM live AS l
     WHERE EXISTS (SELECT 1 FROM breakers AS b
                    WHERE b.host = l.host AND b.component_id = l.id AND b.state IN ('open', 'half_open'))
        OR EXISTS (SELECT 1 FROM breaker_transitions AS t
                    WHERE t.host = l.host AND t.component_id = l.id AND t.to_state = 'open' AND t.ts >= :since)
)
SELECT l.name, count(DISTINCT o.host) AS hosts_open, count(DISTINCT l.host) AS hosts_total
  FROM live AS l
  LEFT JOIN opened AS o ON o.host = l.host AND o.name = l.name
 GROUP BY l.name
HAVING count(DISTINCT o.host) > 0
"""


def shares(conn: Connection, since: float) -> list[tuple[str, int, int]]:
    """(component, hosts that opened its breaker, hosts running it) for components opened anywhere."""
    return [(n, o, t) for n, o, t in conn.execute(sa.text(SHARES_SQL), {"since": since})]


def open_incidents(conn: Connection) -> dict[str, tuple[int, str]]:
    t = fleet_models.fleet_incidents
    rows = conn.execute(sa.select(t.c.component, t.c.id, t.c.reason).where(t.c.status == "open"))
    return {c: (i, r) for c, i, r in rows}


def try_lock(conn: Connection) -> bool:
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": GUARD_LOCK}).scalar())


def unlock(conn: Connection) -> None:
    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": GUARD_LOCK})


def open_incident(
    conn: Connection, component: str, hosts_open: int, hosts_total: int, *, host: str, now: float, reason: str
) -> None:
    t = fleet_models.fleet_incidents
    stmt = (
        pg_insert(t)
        .values(
            component=component,
            opened_at=now,
            opened_by=host,
            hosts_open=hosts_open,
            hosts_total=hosts_total,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["component"], index_where=sa.text("status = 'open'"))
    )
    conn.execute(stmt)


def close_incident(conn: Connection, incident_id: int, now: float) -> None:
    t = fleet_models.fleet_incidents
    conn.execute(
        sa.update(t).where(t.c.id == incident_id, t.c.status == "open").values(status="resolved", closed_at=now)
    )


def opened_at(conn: Connection, ids: list[int]) -> dict[int, float]:
    if not ids:
        return {}
    t = fleet_models.fleet_incidents
    return dict(conn.execute(sa.select(t.c.id, t.c.opened_at).where(t.c.id.in_(ids))).all())
