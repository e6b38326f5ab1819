"""The client's network layer: httpx's transport over httpcore's pool, made cheap per request (issue 25).

A sweep at concurrency 40 makes four requests a job (submit, status stream, result, download) and holds about
40 connections. What httpcore costs per request there, and what this module does instead:

- **The pool** (:class:`_Pool`): httpcore checks every idle connection for expiry each time a request joins or
  leaves the pool (a ``poll`` system call each), and counts the connections again for each idle one. Here the
  whole pool is checked at most once per :data:`EXPIRY_SWEEP_SECONDS`, and a connection is checked right
  before it is reused, so none is ever used expired.
- **Two pools** (:class:`SplitTransport`): the status streams, open for the whole generation, in one; the short
  exchanges in the other, which then looks through a few connections instead of C busy ones.
- **The idle check** (:class:`_Stream`): under asyncio each "has the server closed it?" check asked anyio for the
  raw socket, which builds the stream's whole attribute table (a ``getpeername`` call included) before the one
  ``poll`` that answers. Here each connection's socket is looked up once, when it is opened, and the check is
  the same non-blocking ``poll`` (``select`` on Windows) httpcore itself does. (A backend on asyncio's own
  transport, without anyio, was tried on 2026-12-07 and withdrawn: a fresh-clone CI run found a socket left
  unclosed to the garbage collector.)

httpx does not take a network backend, so :func:`pooled_transport` builds its usual transports and gives each a
pool made with this backend (``httpx.AsyncHTTPTransport`` keeps its pool as ``_pool``; if a future httpx does
not, its own pool is left in place). Where the environment names a proxy, the client keeps httpx's default
transport instead, which honours it. Tested against real servers, plain and TLS, in tests/test_network.py.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["LONG_LIVED", "TAPS", "SplitTransport", "TappedTransport", "pooled_transport"]

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


#: How often the pool checks all its idle keep-alive connections for expiry (past their keep-alive time, or closed
#: by the server). Between two sweeps an idle connection is checked when it is about to be reused, so none is ever
#: used expired; what the sweep adds is only that an expired connection nobody reuses is closed within a second.
EXPIRY_SWEEP_SECONDS = 1.0


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's pool with its bookkeeping made cheap in the number of connections.

    ``_assign_requests_to_connections`` runs each time a request joins or leaves the pool, and a sweep at
    concurrency 40 holds about 40 connections (one status stream per job, and the short requests'). httpcore 1.0
    checks every idle one for expiry each time (a ``poll`` system call each) and counts the pool's connections
    again for every idle one (``len([c.is_idle() for c in connections])``: every connection, idle or not): about
    300 µs a call, 5 ms of the client's CPU per job (issue 25). Here:

    - the expiry of every connection is checked at most once per :data:`EXPIRY_SWEEP_SECONDS`, and the idle
      connection a request is about to take is checked right before it is assigned (an expired one is closed
      and the next is tried), so an expired connection is never reused, as in httpcore;
    - the count is read once per connection (``len(self._connections)``, the same number), and the first fitting
      connection is found without building lists;
    - closing nothing costs nothing (httpcore enters a shielded cancel scope even for an empty list).

    The other decisions are httpcore 1.0.9's, in its order. Used only with httpcore 1.0.x (read at import); any
    other version keeps its own pool.
    """

    _next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + EXPIRY_SWEEP_SECONDS
        connections = self._connections
        for connection in list(connections):
            if connection.is_closed():
                connections.remove(connection)
            elif sweep and connection.has_expired():
                connections.remove(connection)
                closing.append(connection)
            elif connection.is_idle() and len(connections) > self._max_keepalive_connections:
                connections.remove(connection)
                closing.append(connection)
        for pool_request in self._requests:
            if pool_request.connection is not None:  # httpcore's is_queued(), without the call
                continue
            origin = pool_request.request.url.origin
            available = self._reusable(origin, closing)
            if available is not None:
                pool_request.assign_to_connection(available)
                continue
            if len(connections) >= self._max_connections:
                idle = next((c for c in connections if c.is_idle()), None)
                if idle is None:
                    continue
                connections.remove(idle)
                closing.append(idle)
            connection = self.create_connection(origin)
            connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing

    def _reusable(self, origin: Any, closing: list[Any]) -> Any:
        """The first connection that can take a request to ``origin`` now, checked for expiry first."""
        connections = self._connections
        while True:
            found = next((c for c in connections if c.can_handle_request(origin) and c.is_available()), None)
            if found is None or not found.has_expired():
                return found
            connections.remove(found)
            closing.append(found)

    async def _close_connections(self, closing: list[Any]) -> None:
        if closing:
            await super()._close_connections(closing)


#: httpcore's pool class for this httpcore: :class:`_Pool` where it was written for it.
POOL = _Pool if httpcore.__version__.startswith("1.0.") else httpcore.AsyncConnectionPool


#: The request extension that sends a request to the pool of long-lived exchanges (a job's status stream, open
#: for the whole generation): ``client.stream(..., extensions={LONG_LIVED: True})``.
LONG_LIVED = "seedance_nb.long_lived"


class SplitTransport(httpx.AsyncBaseTransport):
    """Two pools: one for the long-lived status streams, one for every short exchange.

    A sweep at concurrency C holds C status streams open, one per job, for the whole generation. In one pool,
    every short request (submit, result, download) would look through those C busy connections and C waiting
    exchanges each time it joins or leaves (httpcore's pool is linear in both); in its own pool it sees only
    the few connections short requests use.
    """

    def __init__(self, short: httpx.AsyncHTTPTransport, long_lived: httpx.AsyncHTTPTransport) -> None:
        self.short = short
        self.long_lived = long_lived

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self.long_lived if request.extensions.get(LONG_LIVED) else self.short
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        try:
            await self.short.aclose()
        finally:
            await self.long_lived.aclose()


def _pooled(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
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


def pooled_transport(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> SplitTransport | None:
    """httpx's transports with the pool above, split in two (:class:`SplitTransport`); None where the environment
    names a proxy (httpx's default then).

    Args:
        ssl_context: the TLS settings.
        limits: each pool's limits.
    """
    if urllib.request.getproxies():
        return None
    return SplitTransport(_pooled(ssl_context, limits), _pooled(ssl_context, limits))
