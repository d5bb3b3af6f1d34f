"""A lean HTTP/1.1 client for health checks: h11 on asyncio protocols, kept-alive connections per origin.

Why not httpx here: at 200 checks a second its pool and stream machinery cost ~2,300 µs of CPU per
request on the reference machine (semantics.md), 15× Monit's whole check. A health check needs one
request, the status, a bounded body and a few headers; h11 (the parser httpx itself is built on)
does the protocol, and this module does only the plumbing:

- one `asyncio.Protocol` per connection, so a kept-alive socket stays registered with the loop and a
  request costs one `write` and one `data_received`, not a connect, a close and selector churn;
- connections are reused per origin (scheme, host, port), at most one check at a time on each, like
  the shared httpx client did; a connection the server closed while idle is dropped, and a request
  that fails on a *reused* connection before any byte of an answer is retried once on a fresh one
  (the server's keep-alive timeout racing our request, as every pooling client does);
- TLS verifies the server against certifi's bundle (httpx's default), redirects are never followed,
  no proxy from the environment is used, the body is read up to a cap, and gzip/deflate bodies are
  decoded like httpx did.

The caller bounds every request with the check's timeout; a cancelled request closes its connection.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import h11

#: an idle connection older than this is closed instead of reused (servers time out idle ones anyway)
IDLE_MAX_S = 60.0
#: idle connections kept per origin; more concurrent checks than this open and close their own
IDLE_PER_ORIGIN = 32
USER_AGENT = "healerd"
_END = h11.EndOfMessage()


class ConnectionBroken(Exception):
    """The connection closed or spoke bad HTTP; `answered` says whether any response had started."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything about a request that depends only on the check's config, built once per config."""

    origin: tuple[str, str, int]
    #: built (and validated by h11) once per config, sent as is on every check
    request: h11.Request


@functools.lru_cache(maxsize=4096)
def plan(url: str, method: str, headers: tuple[tuple[str, str], ...]) -> Plan:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"cannot request {url!r} (an http:// or https:// URL with a host is needed)")
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        authority += f":{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    given = {name.lower() for name, _ in headers}
    out: list[tuple[bytes, bytes]] = [(b"host", authority.encode("idna" if not authority.isascii() else "ascii"))]
    if "accept" not in given:
        out.append((b"accept", b"*/*"))
    if "user-agent" not in given:
        out.append((b"user-agent", USER_AGENT.encode()))
    if parts.username is not None and "authorization" not in given:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        out.append((b"authorization", b"Basic " + base64.b64encode(token)))
    if method == "POST" and "content-length" not in given and "transfer-encoding" not in given:
        out.append((b"content-length", b"0"))
    out += [(name.encode(), value.encode()) for name, value in headers if name.lower() != "host"]
    if "host" in given:
        out[0] = (b"host", next(v for n, v in headers if n.lower() == "host").encode())
    return Plan((scheme, host, port), h11.Request(method=method, target=target.encode(), headers=out))


class _Connection(asyncio.Protocol):
    def __init__(self, origin: tuple[str, str, int], max_body: int) -> None:
        self.origin = origin
        self.max_body = max_body
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.uses = 0
        self._waiter: asyncio.Future | None = None
        self._status = 0
        self._encoding = b""
        self._body = bytearray()
        self._truncated = False

    # --- asyncio.Protocol ---

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted for reuse
            return
        try:
            self.h11.receive_data(data)
            self._drain()
        except h11.RemoteProtocolError as exc:
            self._fail(f"bad HTTP from the server: {exc}")

    def eof_received(self) -> bool:
        if self._waiter is not None and not self._waiter.done():
            try:
                self.h11.receive_data(b"")
                self._drain()
            except h11.RemoteProtocolError as exc:
                self._fail(f"connection closed mid-answer: {exc}")
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection closed by the server{f' ({exc})' if exc else ''}")

    # --- one exchange ---

    def _drain(self) -> None:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                self._status = event.status_code
                for name, value in event.headers:
                    if name == b"content-encoding":
                        self._encoding = value.lower()
            elif isinstance(event, h11.Data):
                room = self.max_body - len(self._body)
                self._body += event.data[:room]
                if len(event.data) >= room:
                    self._truncated = True
                    self._finish()
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._finish()
                return
            elif isinstance(event, h11.ConnectionClosed):
                self._fail("connection closed by the server before the answer ended")
                return
            # InformationalResponse (1xx): keep reading for the final answer

    def _finish(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, bytes(self._body), self._encoding))

    def _fail(self, message: str) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionBroken(message, answered=self._status != 0))
        self.close()

    async def exchange(self, p: Plan) -> tuple[int, bytes, bytes]:
        self._status, self._encoding, self._body, self._truncated = 0, b"", bytearray(), False
        self._waiter = asyncio.get_running_loop().create_future()
        self.uses += 1
        try:
            data = self.h11.send(p.request)
            data += self.h11.send(_END)
        except h11.LocalProtocolError as exc:
            self._waiter = None
            raise ValueError(f"cannot send this request: {exc}") from exc
        assert self.transport is not None, "send() before connection_made"
        self.transport.write(data)
        try:
            return await self._waiter
        except BaseException:
            self.close()  # cancelled (timeout) or broken: the connection's state is unknown
            raise

    def reusable(self) -> bool:
        if self.closed or self._truncated or self.transport is None or self.transport.is_closing():
            return False
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            try:
                self.h11.start_next_cycle()
            except h11.LocalProtocolError:
                return False
            return True
        return False

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Verify like httpx did by default: certifi's CA bundle, hostname checked."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


class HttpPool:
    """Kept-alive connections shared by every http check of one daemon."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self.connections_opened = 0
        self.is_closed = False

    async def request(self, p: Plan) -> tuple[int, bytes]:
        """(status, body) of one exchange; OSError when no connection, ConnectionBroken when cut."""
        conn = self._take(p.origin)
        if conn is not None:
            try:
                return self._done(conn, await conn.exchange(p))
            except ConnectionBroken as exc:
                if exc.answered:
                    raise
                # the server closed the idle connection as we reused it: one fresh try
        conn = await self._open(p.origin)
        return self._done(conn, await conn.exchange(p))

    def _take(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_MAX_S:
                return conn
            conn.close()
        return None

    async def _open(self, origin: tuple[str, str, int]) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = _tls_context() if scheme == "https" else None
        _, conn = await loop.create_connection(
            lambda: _Connection(origin, self.max_body),
            host,
            port,
            ssl=tls,
            server_hostname=host if tls is not None else None,
        )
        self.connections_opened += 1
        return conn

    def _done(self, conn: _Connection, answer: tuple[int, bytes, bytes]) -> tuple[int, bytes]:
        status, body, encoding = answer
        if conn.reusable() and not self.is_closed:
            idle = self._idle.setdefault(conn.origin, [])
            if len(idle) < IDLE_PER_ORIGIN:
                conn.idle_since = time.monotonic()
                idle.append(conn)
            else:
                conn.close()
        else:
            conn.close()
        return status, decode(body, encoding, self.max_body)

    def close(self) -> None:
        self.is_closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    async def aclose(self) -> None:
        self.close()


def decode(body: bytes, encoding: bytes, limit: int) -> bytes:
    """gzip / deflate bodies decoded (bounded), as httpx did; anything else is left as sent."""
    if encoding in (b"gzip", b"x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == b"deflate":
        wbits = zlib.MAX_WBITS
    else:
        return body
    try:
        return zlib.decompressobj(wbits).decompress(body, limit)
    except zlib.error:
        try:  # some servers send raw deflate without the zlib header
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, limit)
        except zlib.error as exc:
            raise ConnectionBroken(f"cannot decode the {encoding.decode()} body: {exc}", answered=True) from exc
