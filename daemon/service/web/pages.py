"""The status page (`/`) and an incident's timeline page (`/incidents/ID`), rendered on the server.

No JavaScript and no build step: Jinja2 templates with autoescaping, a `<meta http-equiv="refresh">`
for the auto-refresh, and CSS that turns the component table into cards on a phone. The data is the
same `status --json` document as the API, plus availability from the hourly rollups (24 one-hour
cells and 7 one-day cells per component) and the recent incidents; the incident page shows the same
timeline rows `healerd explain` prints.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from daemon.timefmt import iso_or

RECENT_INCIDENTS = 20
HOUR = 3600
_env = Environment(
    loader=PackageLoader("daemon.service.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ORDER = {"unhealthy": 0, "unknown": 1, "degraded": 2, "healthy": 3}


def _iso(ts: float | None) -> str:
    return iso_or(ts, "", sep=" ")


def _pct(up: int, total: int) -> float | None:
    return None if not total else round(100.0 * up / total, 2)


def availability(conn: sqlite3.Connection, now: float) -> dict[str, dict[str, Any]]:
    """name → 24 hourly cells, 7 daily cells (oldest first; each a % up or None), and the two totals."""
    this_hour = int(now // HOUR) * HOUR
    first = this_hour - (7 * 24 - 1) * HOUR
    rows = conn.execute(
        "SELECT c.name, h.hour, h.total, h.healthy + h.degraded FROM result_rollups_hourly AS h "
        "JOIN components AS c ON c.id = h.component_id WHERE c.removed_at IS NULL AND h.hour >= ?",
        (first,),
    )
    out: dict[str, dict[str, Any]] = {}
    for name, hour, total, up in rows:
        entry = out.setdefault(name, {"hours": [[0, 0] for _ in range(24)], "days": [[0, 0] for _ in range(7)]})
        back = int((this_hour - hour) // HOUR)  # 0 = this hour
        if back < 24:
            cell = entry["hours"][23 - back]
            cell[0] += up
            cell[1] += total
        day = entry["days"][6 - back // 24]
        day[0] += up
        day[1] += total
    for entry in out.values():
        entry["pct_24h"] = _pct(sum(c[0] for c in entry["hours"]), sum(c[1] for c in entry["hours"]))
        entry["pct_7d"] = _pct(sum(c[0] for c in entry["days"]), sum(c[1] for c in entry["days"]))
        entry["hours"] = [_pct(*c) for c in entry["hours"]]
        entry["days"] = [_pct(*c) for c in entry["days"]]
    return out


def page_data(conn: sqlite3.Connection, db_path, now: float) -> dict[str, Any]:
    from daemon.service.status_report import collect_from

    status = collect_from(conn, db_path)
    incidents = [
        {
            "id": i,
            "component": name,
            "opened_at": _iso(opened),
            "closed_at": _iso(closed),
            "status": st,
            "trigger": trig,
        }
        for i, name, opened, closed, st, trig in conn.execute(
            "SELECT i.id, c.name, i.opened_at, i.closed_at, i.status, i.trigger FROM incidents AS i "
            "JOIN components AS c ON c.id = i.component_id ORDER BY i.opened_at DESC, i.id DESC LIMIT ?",
            (RECENT_INCIDENTS,),
        )
    ]
    status["components"].sort(key=lambda c: (_ORDER.get(c["status"], 1), c["component"]))
    return {"status": status, "availability": availability(conn, now), "incidents": incidents}


def _bar(cells: list[float | None]) -> list[str]:
    """CSS class per cell: none (no checks), up (100 %), some (≥ 99 %), down (below)."""
    return ["none" if c is None else "up" if c >= 100 else "some" if c >= 99 else "down" for c in cells]


def _html(name: str, refresh: float | None, **context) -> web.Response:
    html = _env.get_template(name).render(refresh=None if refresh is None else int(refresh), bar=_bar, **context)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def status_page(request: web.Request) -> web.Response:
    svc = request.app["svc"]
    now = time.time()
    data = await svc.read(page_data, svc.db_path, now)
    return _html("status.html", svc.http.refresh.total_seconds(), generated=_iso(now), **data)


async def incident_page(request: web.Request) -> web.Response:
    from daemon.service.incident_timeline import at_time, timeline
    from daemon.service.web.routes import incident_data

    svc = request.app["svc"]
    now = time.time()
    data = await svc.read(incident_data, int(request.match_info["id"]), now)
    rows = [(at_time(ts, date=True), what, text) for ts, what, text in timeline(data)]
    inc = data["incident"]
    refresh = svc.http.refresh.total_seconds() if inc["status"] == "open" else None
    return _html(
        "incident.html",
        refresh,
        data=data,
        inc=inc,
        rows=rows,
        opened=_iso(inc["opened_at"]),
        closed=_iso(inc["closed_at"]),
        generated=_iso(now),
    )
