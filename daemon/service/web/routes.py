"""The HTTP endpoints. GET only; every one reads, none writes.

The JSON endpoints return what the CLI prints for the same database, built by the same functions:
`/api/v1/status` is `healerd status --json` (service/status_report.py), `/api/v1/incidents/ID` is
`healerd explain NAME --incident ID --json` (store/explain_sql.py), `/api/v1/views/NAME` is
`healerd report NAME --format json` (store/views.py). Each request has one deadline
(`[http] request_timeout`) for everything it does, database reads included.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from functools import partial

from aiohttp import web

from daemon.errors import NotFoundError, ReportError
from daemon.store.aioread import ReadTimeout

#: GET requests only: nothing legitimate sends a body.
MAX_BODY_BYTES = 16 << 10
MAX_VIEW_ROWS = 100_000
HEALTHZ_WRITER_S = 2.0
#: /healthz fails when the loop's 1 s ticker is this late (or has not ticked for this long)
HEALTHZ_LAG_S = 5.0

_dumps = partial(json.dumps, default=str)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    # the page has no script at all; inline styles only
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
}


def json_response(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _authorized(header: str | None, username: str, password: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, given = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # both compared, always, in constant time: no early exit tells which one was wrong
    ok_user = hmac.compare_digest(user.encode(), username.encode())
    ok_pass = hmac.compare_digest(given.encode(), password.encode())
    return ok_user and ok_pass


def build_app(svc, password: str | None) -> web.Application:
    from daemon.service.web import pages

    timeout = svc.http.request_timeout.total_seconds()
    auth = svc.http.basic_auth

    @web.middleware
    async def guard(request: web.Request, handler):
        if (
            auth is not None
            and request.path != "/healthz"
            and not _authorized(request.headers.get("Authorization"), auth.username, password or "")
        ):
            response = web.Response(
                status=401,
                text="authentication required\n",
                headers={"WWW-Authenticate": 'Basic realm="healerd", charset="UTF-8"'},
            )
        else:
            try:
                async with asyncio.timeout(timeout):
                    response = await handler(request)
            except TimeoutError:
                response = json_response({"error": f"no answer within {timeout:g}s"}, 503)
            except ReadTimeout as exc:
                response = json_response({"error": str(exc)}, 503)
            except NotFoundError as exc:
                response = json_response({"error": str(exc)}, 404)
            except ReportError as exc:
                response = json_response({"error": str(exc)}, 400)
        response.headers.update(SECURITY_HEADERS)
        return response

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    app["svc"] = svc
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/api/v1/status", api_status)
    app.router.add_get("/api/v1/components/{name}", api_component)
    app.router.add_get("/api/v1/incidents/{id:\\d+}", api_incident)
    app.router.add_get("/api/v1/views/{name}", api_view)
    app.router.add_get("/", pages.status_page)
    app.router.add_get("/incidents/{id:\\d+}", pages.incident_page)
    return app


# --- handlers ---------------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """The daemon's own liveness: the loop answers and is not lagging, and the writer commits."""
    svc = request.app["svc"]
    since_tick = time.monotonic() - svc.lag_checked_at
    loop_ok = svc.loop_lag_s < HEALTHZ_LAG_S and since_tick < HEALTHZ_LAG_S + 1.0
    writer = svc.daemon.writer
    stats = writer.stats()
    started = time.monotonic()
    try:
        # a no-op call through the writer's queue: it resolves once the writer has committed everything
        # queued before it, so a stuck writer (or a database that refuses writes) shows here
        await asyncio.wait_for(asyncio.shield(writer.flush()), HEALTHZ_WRITER_S)
        writer_ok, flush_s = True, time.monotonic() - started
    except Exception:
        writer_ok, flush_s = False, None
    ok = loop_ok and writer_ok
    body = {
        "status": "ok" if ok else "failing",
        "loop": {"ok": loop_ok, "lag_s": round(svc.loop_lag_s, 4)},
        "writer": {
            "ok": writer_ok,
            "flush_s": None if flush_s is None else round(flush_s, 4),
            "db_available": stats.db_available,
            "queued_results": stats.queued_results,
            "queued_calls": stats.queued_calls,
            "last_error": stats.last_error,
        },
    }
    return json_response(body, 200 if ok else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    svc = request.app["svc"]
    text = await svc.metrics_text(timeout=svc.http.request_timeout.total_seconds())
    return web.Response(body=text, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def api_status(request: web.Request) -> web.Response:
    from daemon.service.status_report import collect_from

    svc = request.app["svc"]
    return json_response(await svc.read(collect_from, svc.db_path))


async def api_component(request: web.Request) -> web.Response:
    """The component's entry of `status --json`."""
    from daemon.store import status_sql

    name = request.match_info["name"]
    rows = await request.app["svc"].read(status_sql.components)
    for row in rows:
        if row["component"] == name:
            return json_response(row)
    raise NotFoundError(f"no component named {name!r}")


def incident_data(conn, incident_id: int, now: float):
    """`explain --json` of one incident, found by its id alone."""
    from daemon.store import explain_sql

    row = conn.execute(
        "SELECT c.name FROM incidents AS i JOIN components AS c ON c.id = i.component_id WHERE i.id = ?", (incident_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}")
    return explain_sql.explain(conn, row[0], incident_id, now)


async def api_incident(request: web.Request) -> web.Response:
    data = await request.app["svc"].read(incident_data, int(request.match_info["id"]), time.time())
    return json_response(data)


async def api_view(request: web.Request) -> web.Response:
    """`report NAME --format json`: a list of row objects; `?limit=N` (default and cap 100,000)."""
    from daemon.store.views import query_view_on

    try:
        limit = int(request.query.get("limit", MAX_VIEW_ROWS))
    except ValueError:
        raise ReportError("limit must be a whole number") from None
    if not 0 <= limit <= MAX_VIEW_ROWS:
        raise ReportError(f"limit must be between 0 and {MAX_VIEW_ROWS}")
    columns, rows = await request.app["svc"].read(partial(query_view_on, limit=limit), request.match_info["name"])
    return json_response([dict(zip(columns, row)) for row in rows])
