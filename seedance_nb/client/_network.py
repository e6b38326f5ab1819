"""The client's connection pool, without its per-request cost in idle connections.

httpcore's pool checks every idle connection each time a request joins or leaves it ("has the server closed
it?"); under asyncio each check asks anyio for the raw socket, which builds the stream's whole attribute table
(a ``getpeername`` call included) before the one ``poll`` that answers. With the dozens of keep-alive
connections a sweep at concurrency 40 holds, that was the largest share of the client's CPU per job
(issue 25: a py-spy profile put about a third of the event loop's time in it). Here each connection's socket
is looked up once, when it is opened, and the check is the same non-blocking ``poll`` (``select`` on Windows)
that httpcore itself does (``httpcore._utils.is_socket_readable``).

httpx does not take a network backend, so :func:`pooled_transport` builds its usual transport and gives it a
pool made with this backend (``httpx.AsyncHTTPTransport`` keeps its pool as ``_pool``; if a future httpx does
not, its own pool is left in place). Where the environment names a proxy, the client keeps httpx's default
transport instead, which honours it.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["TAPS", "TappedTransport", "pooled_transport"]

#: Observers of every exchange the client's httpx transports make, a seam for wings the core never names (the
#: cassette recorder, :mod:`seedance_nb.cassettes`). Each is called as ``tap(owner, request, response)`` once
#: the answer's headers are in (``owner`` is the client's :class:`~seedance_nb.client._transport.Transport`) and
#: may wrap ``response.stream`` to see the body as it is read. Empty (the usual case), it costs one check.
TAPS: list[Any] = []


class TappedTransport(httpx.AsyncBaseTransport):
    """``inner`` with every exchange shown to the :data:`TAPS` registered when it happens."""

    def __init__(self, inner: httpx.AsyncBaseTransport, owner: Any) -> None:
        self.inner = inner
        self.owner = owner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not TAPS:  # the usual case: nothing is watching
            return await self.inner.handle_async_request(request)
        taps = list(TAPS)
        for tap in taps:
            tap.started(self.owner, request)
        response = await self.inner.handle_async_request(request)
        for tap in taps:
            tap.answered(self.owner, request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _readable(sock: socket.socket | None) -> bool:
    """Whether ``sock`` has something to read now (an idle keep-alive connection then holds only its end)."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True  # gone: treat it as closed, as httpcore does
    if sys.platform == "win32" or not hasattr(select, "poll"):
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that knows its socket (looked up once) and answers ``is_readable`` from it."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        if info == "socket":
            return self._socket
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's asyncio (anyio) backend, its streams wrapped in :class:`_Stream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's pool with its bookkeeping made linear in the connections.

    ``_assign_requests_to_connections`` runs each time a request joins or leaves the pool. httpcore 1.0 counts
    the pool's connections again for every idle one (``len([c.is_idle() for c in connections])``: every
    connection, idle or not), which at a sweep's few dozen connections was most of the client's CPU per request.
    This is the same method with that count read once per connection (``len(self._connections)``, the same
    number) and the first fitting connection found without building lists; the decisions are httpcore 1.0.9's,
    in its order. Used only with httpcore 1.0.x (read at import); any other version keeps its own pool.
    """

    def _assign_requests_to_connections(self) -> list[Any]:
        closing = []
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
            elif connection.is_idle() and len(self._connections) > self._max_keepalive_connections:
                self._connections.remove(connection)
                closing.append(connection)
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            available = next((c for c in self._connections if c.can_handle_request(origin) and c.is_available()), None)
            if available is not None:
                pool_request.assign_to_connection(available)
                continue
            if len(self._connections) >= self._max_connections:
                idle = next((c for c in self._connections if c.is_idle()), None)
                if idle is None:
                    continue
                self._connections.remove(idle)
                closing.append(idle)
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing


#: httpcore's pool class for this httpcore: :class:`_Pool` where it was written for it.
POOL = _Pool if httpcore.__version__.startswith("1.0.") else httpcore.AsyncConnectionPool


def pooled_transport(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport | None:
    """httpx's transport with the pool above; None where the environment names a proxy (httpx's default then).

    Args:
        ssl_context: the TLS settings.
        limits: the pool's limits.
    """
    if urllib.request.getproxies():
        return None
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    if isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        transport._pool = POOL(  # noqa: SLF001 (httpx takes no network backend)
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )
    return transport
