"""tcp checks against real listeners on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

from daemon.engine.checks import run_check
from daemon.types import Status


async def test_listening_port_is_healthy_and_connection_is_closed(component):
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # returns b"" when the checker closes its side
        closed.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await run_check(component("tcp", port=port))
        assert (result.status, result.error_class) == (Status.HEALTHY, None)
        assert result.message == f"connected to 127.0.0.1:{port}"
        await asyncio.wait_for(closed.wait(), 10)


async def test_closed_port_is_refused(closed_port, component):
    result = await run_check(component("tcp", port=closed_port))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "refused")


async def test_invalid_host_name_is_dns(component):
    result = await run_check(component("tcp", host="bad..invalid", port=80))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "dns")


async def test_failed_name_lookup_is_dns(component, monkeypatch):
    # A real lookup could leave this machine, so the loop's resolver answers as a resolver would.
    async def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
    result = await run_check(component("tcp", host="db.internal.example", port=5432))
    assert (result.status, result.error_class) == (Status.UNHEALTHY, "dns")
    assert "db.internal.example" in result.message
