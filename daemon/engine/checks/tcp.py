"""`tcp` check: a connection is accepted. Nothing is sent; the connection is closed cleanly."""

from __future__ import annotations

import asyncio
import socket

from daemon.config.models import Component, TcpCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, unhealthy


async def check_tcp(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, TcpCheck)
    where = f"{check.host}:{check.port}"
    try:
        _reader, writer = await asyncio.open_connection(check.host, check.port)
    except ConnectionRefusedError:
        return unhealthy("refused", f"connection refused by {where}")
    except socket.gaierror as exc:
        return unhealthy("dns", f"cannot resolve {check.host}: {exc}")
    except UnicodeError as exc:  # the IDNA codec refuses the name before any lookup
        return unhealthy("dns", f"cannot resolve {check.host}: not a valid host name ({exc})")
    except OSError as exc:  # unreachable network, no route, …: a failure we cannot name better
        return unhealthy("error", f"cannot connect to {where}: {exc}")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer reset while we were closing: it did accept, which is what we asked
    return healthy(f"connected to {where}")
