"""`http` check: status in `expect_status`, optionally a body substring and a JSON value.

JSON paths are deliberately tiny — dotted keys with `[i]` list indexes, an optional leading `$.`:
`status`, `checks.db.ok`, `items[0].name`, `$.data[2][1]`, `$` for the whole document. A key containing a dot or bracket cannot
be addressed; that keeps the syntax obvious in a config file and needs no dependency. The value must
equal `json_equals` exactly: `true` does not equal `1`, and `"1"` does not equal `1`.
"""

from __future__ import annotations

import functools
import json
import re
import socket
from typing import Any

from daemon.config.models import Component, HttpCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, short, unhealthy
from daemon.engine.checks.http_wire import ConnectionBroken, HttpPool, plan

#: Bytes of body read at most: enough for any health endpoint, bounded against a runaway one.
MAX_BODY = 1024 * 1024

_NAME = r"[^.\[\]]+"
_INDEX = r"\[\d+\]"
_PATH = re.compile(rf"(?:{_NAME}|{_INDEX})(?:\.{_NAME}|{_INDEX})*")
_SEGMENT = re.compile(rf"({_NAME})|\[(\d+)\]")


def make_client() -> HttpPool:
    """A client suited to health checks, to be shared by every http check of one daemon.

    No proxy from the daemon's environment sits between healerd and a local service it is judging,
    and redirects are not followed: a 302 from a health endpoint is an answer (engine/checks/http_wire.py).
    """
    return HttpPool(MAX_BODY)


@functools.lru_cache(maxsize=1024)
def parse_json_path(path: str) -> list[str | int]:
    """`a.b[0].c` → ["a", "b", 0, "c"], `$` → [] (the whole document); ValueError otherwise."""
    if path == "$":
        return []
    text = path[2:] if path.startswith("$.") else path[1:] if path.startswith("$[") else path
    if not _PATH.fullmatch(text):
        raise ValueError(f"bad JSON path {path!r} (write it like a.b[0].c)")
    return [name if name else int(index) for name, index in _SEGMENT.findall(text)]


_MISSING = object()


def lookup(document: Any, path: list[str | int]) -> Any:
    """The value at `path`, or _MISSING if any step does not exist."""
    node = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def json_equal(a: Any, b: Any) -> bool:
    """Equality without Python's bool/int mixing (True == 1) and with exact container shapes."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def classify_connect_error(exc: BaseException) -> Outcome:
    """refused / dns / error, from the OSError somewhere in the exception's cause chain."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, ConnectionRefusedError):
            return unhealthy("refused", f"connection refused: {node}")
        if isinstance(node, socket.gaierror):
            return unhealthy("dns", f"name resolution failed: {node}")
        node = node.__cause__ or node.__context__
    return unhealthy("error", f"cannot connect: {exc}")


def judge(check: HttpCheck, status_code: int, body: bytes) -> Outcome:
    """The verdict on one response (pure, so every rule is tested without a server)."""
    if status_code not in check.expect_status:
        expected = ", ".join(str(s) for s in check.expect_status)
        return unhealthy("bad_status", f"HTTP {status_code}, expected {expected}")
    if check.body_contains is not None:
        text = body.decode("utf-8", errors="replace")
        if check.body_contains not in text:
            return unhealthy("bad_body", f"HTTP {status_code}, body lacks {check.body_contains!r}")
    if check.json_path is not None:
        try:
            document = json.loads(body)
        except ValueError as exc:
            return unhealthy("bad_body", f"HTTP {status_code}, body is not JSON: {exc}")
        value = lookup(document, parse_json_path(check.json_path))
        if value is _MISSING:
            return unhealthy("bad_body", f"HTTP {status_code}, no {check.json_path} in the JSON body")
        if not json_equal(value, check.json_equals):
            return unhealthy(
                "bad_body",
                f"HTTP {status_code}, {check.json_path} is {json.dumps(value)[:60]}, "
                f"expected {json.dumps(check.json_equals)[:60]}",
            )
    return healthy(f"HTTP {status_code}")


async def _request(check: HttpCheck, client: HttpPool) -> Outcome:
    try:
        status, body = await client.request(plan(check.url, check.method, tuple(check.headers.items())))
    except ConnectionBroken as exc:
        return unhealthy("error", f"connection broken: {exc}")
    except OSError as exc:
        return classify_connect_error(exc)
    return judge(check, status, body)


async def _request_httpx(check: HttpCheck, client) -> Outcome:
    """Through a caller's own httpx.AsyncClient (kept for callers that pass one)."""
    import httpx

    timeout = check.timeout.total_seconds()
    try:
        async with client.stream(check.method, check.url, headers=check.headers, timeout=timeout) as response:
            body = bytearray()
            if check.method != "HEAD":
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        break
    except httpx.TimeoutException as exc:
        return unhealthy("timeout", short(f"no answer within {timeout:g}s ({type(exc).__name__})"))
    except httpx.ConnectError as exc:
        return classify_connect_error(exc)
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        return unhealthy("error", f"connection broken: {exc}")
    return judge(check, response.status_code, bytes(body[:MAX_BODY]))


async def check_http(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, HttpCheck)
    if check.json_path is not None:
        parse_json_path(check.json_path)  # a bad path is a config problem: unknown, not unhealthy
    if isinstance(ctx.client, HttpPool):
        return await _request(check, ctx.client)
    if ctx.client is not None:
        return await _request_httpx(check, ctx.client)
    pool = make_client()
    try:
        return await _request(check, pool)
    finally:
        pool.close()
