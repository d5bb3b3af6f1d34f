"""`tcp` check: a connection is accepted. Nothing is sent; the connection is closed cleanly."""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import os
import socket

from daemon.config.models import Component, TcpCheck
from daemon.engine.checks.base import CheckContext, Outcome, healthy, unhealthy


async def check_tcp(component: Component, ctx: CheckContext) -> Outcome:
    check = component.check
    assert isinstance(check, TcpCheck)
    where = _where(check.host, check.port)
    try:
        await _connect(check.host, check.port)
    except ConnectionRefusedError:
        return unhealthy("refused", f"connection refused by {where}")
    except socket.gaierror as exc:
        return unhealthy("dns", f"cannot resolve {check.host}: {exc}")
    except UnicodeError as exc:  # the IDNA codec refuses the name before any lookup
        return unhealthy("dns", f"cannot resolve {check.host}: not a valid host name ({exc})")
    except OSError as exc:  # unreachable network, no route, …: a failure we cannot name better
        return unhealthy("error", f"cannot connect to {where}: {exc}")
    return _CONNECTED[where]


@functools.lru_cache(maxsize=16384)
def _where(host: str, port: int) -> str:
    return f"{host}:{port}"


class _Connected(dict):
    """One shared healthy Outcome per target: 10,000 components kept 10,000 equal message strings."""

    def __missing__(self, where: str):
        outcome = self[where] = healthy(f"connected to {where}")
        return outcome


_CONNECTED = _Connected()


#: Linux (and the BSDs) create a socket non-blocking in the same call; elsewhere setblocking does it.
_NONBLOCK: int = getattr(socket, "SOCK_NONBLOCK", 0)


async def _connect(host: str, port: int) -> None:
    """Connect and close a bare non-blocking socket.

    No stream reader/writer or transport: nothing is exchanged, and at 1,000 checks a second that
    machinery was a quarter of the daemon's CPU. A second `connect` right after EINPROGRESS says
    whether the handshake already finished (it has, on loopback, almost always), which spares the
    selector round trip; otherwise the loop waits for it. Each resolved address is tried in turn (as
    open_connection does), so a host with an IPv6 and an IPv4 address still works.
    """
    # the loop is looked up only when the check has to wait: on Linux each get_running_loop() is a
    # getpid() system call (CPython checks the loop was not inherited across a fork)
    infos = _numeric(host, port) or await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    last: OSError | None = None
    for family, type_, proto, _name, address in infos:
        sock = socket.socket(family, type_ | _NONBLOCK, proto)  # non-blocking from birth: no ioctl per check
        try:
            if not _NONBLOCK:
                sock.setblocking(False)
            code = sock.connect_ex(address)
            if code == errno.EINPROGRESS:
                code = sock.connect_ex(address)
            if code in (errno.EINPROGRESS, errno.EALREADY):
                await asyncio.get_running_loop().sock_connect(sock, address)
            elif code not in (0, errno.EISCONN):
                raise OSError(code, os.strerror(code))  # the matching subclass: ConnectionRefusedError, …
            return
        except OSError as exc:
            last = exc
        finally:
            sock.close()
    raise last or OSError(f"no address for {host}")


@functools.lru_cache(maxsize=4096)
def _numeric(host: str, port: int) -> list | None:
    """An IP literal needs no lookup (loop.getaddrinfo would still go through a thread)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 4:
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]
