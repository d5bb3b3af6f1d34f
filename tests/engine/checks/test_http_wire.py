"""The lean HTTP client under the http check: kept-alive reuse, servers that close, framing, TLS.

A raw asyncio server on 127.0.0.1:0 decides each answer byte for byte, so keep-alive, chunked,
gzip and mid-answer closes are real on the wire.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import Callable

import pytest

from daemon.engine.checks import http_wire, make_client, run_check
from daemon.engine.checks.http import MAX_BODY
from daemon.types import Status


def answer(body: bytes = b"ok", status: int = 200, headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{headers}\r\n").encode() + body


class RawServer:
    """`respond(request_head, n)` returns the bytes to send, or None to close without answering."""

    def __init__(self, respond: Callable[[bytes, int], bytes | None], close_after: bool = False) -> None:
        self.respond = respond
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.requests.append(head)
                data = self.respond(head, len(self.requests))
                if data is None:
                    return
                writer.write(data)
                await writer.drain()
                if self.close_after:
                    return
        finally:
            writer.close()

    def url(self, path: str = "/health", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def close(self) -> None:
        self.server.close()


@pytest.fixture
async def raw_server():
    servers: list[RawServer] = []

    async def make(respond, ssl_context=None, **kw) -> RawServer:
        servers.append(await RawServer(respond, **kw).start(ssl_context))
        return servers[-1]

    yield make
    for s in servers:
        await s.close()


async def test_checks_share_one_kept_alive_connection(raw_server, component):
    server = await raw_server(lambda head, n: answer(b"ok"))
    pool = make_client()
    try:
        for _ in range(3):
            result = await run_check(component("http", url=server.url(), body_contains="ok"), client=pool)
            assert result.status is Status.HEALTHY
    finally:
        pool.close()
    assert (server.connections, len(server.requests), pool.connections_opened) == (1, 3, 1)


async def test_a_server_closing_after_each_answer_costs_a_new_connection_not_a_failure(raw_server, component):
    server = await raw_server(lambda head, n: answer(b"ok"), close_after=True)
    pool = make_client()
    try:
        for _ in range(3):
            assert (await run_check(component("http", url=server.url()), client=pool)).status is Status.HEALTHY
            await asyncio.sleep(0)  # (not synchronisation: the result above is already final)
    finally:
        pool.close()
    assert server.connections == 3


async def test_a_reused_connection_closed_before_answering_is_retried_once_on_a_fresh_one(raw_server, component):
    # the 2nd request arrives on the kept-alive connection and the server drops it unanswered (its
    # keep-alive timeout racing our reuse): the check must not report that as the service failing
    server = await raw_server(lambda head, n: None if n == 2 else answer(b"ok"))
    pool = make_client()
    try:
        results = [await run_check(component("http", url=server.url()), client=pool) for _ in range(3)]
    finally:
        pool.close()
    assert [r.status for r in results] == [Status.HEALTHY] * 3
    assert server.connections == 2 and len(server.requests) == 4


async def test_a_fresh_connection_cut_before_the_answer_is_an_error_not_retried(raw_server, component):
    server = await raw_server(lambda head, n: None)
    result = await run_check(component("http", url=server.url()), client=make_client())
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "error")
    assert "connection broken" in result.message and len(server.requests) == 1


async def test_an_answer_cut_mid_body_is_an_error(raw_server, component):
    server = await raw_server(lambda head, n: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close_after=True)
    result = await run_check(component("http", url=server.url()))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "error")


async def test_chunked_and_gzip_bodies_are_read_like_any_other(raw_server, component):
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nREAD\r\n1\r\nY\r\n0\r\n\r\n"
    zipped = answer(gzip.compress(b'{"a": {"ok": true}}'), headers="Content-Encoding: gzip\r\n")
    server = await raw_server(lambda head, n: chunked if b"/chunked" in head else zipped)
    pool = make_client()
    try:
        c = await run_check(component("http", url=server.url("/chunked"), body_contains="READY"), client=pool)
        z = await run_check(component("http", url=server.url("/gz"), json_path="a.ok", json_equals=True), client=pool)
    finally:
        pool.close()
    assert (c.status, z.status) == (Status.HEALTHY, Status.HEALTHY)
    assert server.connections == 1


async def test_the_body_is_read_up_to_the_cap_only(raw_server, component):
    big = b"x" * MAX_BODY + b"NEEDLE"
    server = await raw_server(lambda head, n: answer(big))
    result = await run_check(component("http", url=server.url(), body_contains="NEEDLE"))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "bad_body")


async def test_method_headers_and_host_are_sent_and_head_has_no_body(raw_server, component):
    server = await raw_server(
        lambda head, n: (
            answer(b"ignored") if head.startswith(b"GET") else b"HTTP/1.1 204 No\r\nContent-Length: 7\r\n\r\n"
        )
    )
    pool = make_client()
    try:
        get = await run_check(component("http", url=server.url("/p?q=1"), headers={"X-Token": "s3"}), client=pool)
        head = await run_check(component("http", url=server.url(), method="HEAD", expect_status=[204]), client=pool)
        again = await run_check(component("http", url=server.url()), client=pool)
    finally:
        pool.close()
    assert (get.status, head.status, again.status) == (Status.HEALTHY,) * 3
    first = server.requests[0].decode().lower()
    assert first.startswith("get /p?q=1 http/1.1") and "x-token: s3" in first
    assert f"host: 127.0.0.1:{server.port}" in first
    assert (
        server.requests[1].startswith(b"HEAD ") and server.connections == 1
    )  # HEAD's framing kept the connection usable


async def test_redirects_are_answers_not_followed(raw_server, component):
    server = await raw_server(lambda head, n: answer(b"", 302, "Location: /elsewhere\r\n"))
    result = await run_check(component("http", url=server.url(), expect_status=[200]))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "bad_status")
    assert len(server.requests) == 1


@pytest.fixture
def self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


async def test_tls_refuses_an_untrusted_certificate(raw_server, component, self_signed):
    server_ctx, _ = self_signed
    server = await raw_server(lambda head, n: answer(b"ok"), ssl_context=server_ctx)
    result = await run_check(component("http", url=server.url(scheme="https")))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "error")
    assert "CERTIFICATE_VERIFY_FAILED" in result.message and not server.requests


async def test_tls_to_a_trusted_certificate_is_checked_over_a_kept_alive_connection(
    raw_server, component, self_signed, monkeypatch
):
    # A certificate from a public CA cannot exist on this machine: trust the local one instead.
    server_ctx, cert = self_signed
    monkeypatch.setattr(http_wire, "_tls_context", lambda: ssl.create_default_context(cafile=str(cert)))
    server = await raw_server(lambda head, n: answer(b"secure ok"), ssl_context=server_ctx)
    pool = make_client()
    try:
        results = [
            await run_check(component("http", url=server.url(scheme="https"), body_contains="secure"), client=pool)
            for _ in range(2)
        ]
    finally:
        pool.close()
    assert [r.status for r in results] == [Status.HEALTHY] * 2 and server.connections == 1
