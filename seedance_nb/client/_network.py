"""The client's network layer: httpx's transport over httpcore's pool, made cheap per request (issue 25).

A sweep at concurrency 40 makes four requests a job (submit, status stream, result, download) and holds about
40 connections. What httpcore costs per request there, and what this module does instead:

- **The pool** (:class:`_Pool`): httpcore checks every idle connection for expiry each time a request joins or
  leaves the pool (a ``poll`` system call each), and counts the connections again for each idle one. Here the
  whole pool is checked at most once per :data:`EXPIRY_SWEEP_SECONDS`, and a connection is checked right
  before it is reused, so none is ever used expired.
- **Two pools** (:class:`SplitTransport`): the status streams, open for the whole generation, in one; the short
  exchanges in the other, which then looks through a few connections instead of C busy ones.
- **The connections** (:class:`_Stream`, :class:`_Backend`): on asyncio's own transport and protocol instead of
  httpcore's anyio backend, which wraps each read in a cancel scope, turns reading off and on around it (two
  ``epoll_ctl`` calls) and asks for the running loop several times (a ``getpid`` system call each on Python
  3.11). Whether an idle connection was closed by the server is read from what it received, without a call.
- **Connecting** (:func:`_connected_socket`): a host's addresses are tried in turn, the next one also after
  :data:`HAPPY_EYEBALLS_SECONDS` (RFC 8305), as anyio does. Not with asyncio's own race
  (``create_connection(happy_eyeballs_delay=...)``): on Python 3.11 a caller cancelled as its attempt connects
  leaves that socket to the garbage collector, which a fresh-clone CI run saw as a ResourceWarning when this
  backend first went in (and which made us withdraw it for a while). Here every socket an attempt opened is
  closed unless it is returned, through a cancel too.

With the other changes of issue 25's last step, the client's CPU per job at C = 40 went from 25 ms to 21 ms
(interleaved before/after runs, tests/benchmarks/RESULTS.md). httpx does not take a network backend, so
:func:`pooled_transport` builds its usual transports and gives each a pool made with this backend
(``httpx.AsyncHTTPTransport`` keeps its pool as ``_pool``; if a future httpx does not, its own pool is left
in place). Where the environment names a proxy, the client keeps httpx's default transport instead, which
honours it. Tested against real servers, plain and TLS, in tests/test_network.py.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import socket
import ssl
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


class _Protocol(asyncio.Protocol):
    """The bytes a connection received, and who waits for them: asyncio's transport reads as data arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.reader: asyncio.Future[bool] | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.drainers: list[asyncio.Future[bool]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()  # a slow reader: hold the rest in the kernel, as anyio does
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # close the transport: httpcore never writes after the server's end

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and not isinstance(exc, ssl.SSLEOFError):  # a TLS end without close_notify is an end
            self.error = exc
        self._wake()
        self.writing_paused = False
        self._wake_drainers()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drainers()

    def _wake(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(True)

    def _wake_drainers(self) -> None:
        for waiter in self.drainers:
            if not waiter.done():
                waiter.set_result(True)
        self.drainers.clear()

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what was received (at least one chunk's worth is there)."""
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            self.chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered <= _LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk


#: Received bytes held before the transport stops reading (and resumes at the low mark), as asyncio's streams.
_HIGH_WATER, _LOW_WATER = 256 * 1024, 64 * 1024


def _expire(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(False)


async def _until(future: asyncio.Future[bool], timeout: float | None) -> bool:
    """Wait for ``future``; False when ``timeout`` seconds passed first (it is then set to False)."""
    if timeout is None:
        return await future
    loop = asyncio.get_running_loop()
    timer = loop.call_later(timeout, _expire, future)
    try:
        return await future
    finally:
        timer.cancel()


class _Stream(httpcore.AsyncNetworkStream):
    """A connection on asyncio's own transport and protocol, without anyio's layers.

    httpcore's asyncio backend goes through anyio, which wraps every read in a cancel scope, turns the
    transport's reading off and on around it (two ``epoll_ctl`` system calls) and asks which event loop is
    running several times per call (a ``getpid`` system call each on Python 3.11). Here a read takes what the
    transport already received, or waits on one future with one timer; ``is_readable`` (httpcore's "has the
    server closed this idle connection?") is answered from what was received, without a system call.
    Exceptions are httpcore's, as its own backends raise them.
    """

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.chunks and not protocol.eof:
            waiter = protocol.reader = asyncio.get_running_loop().create_future()
            try:
                if not await _until(waiter, timeout) and not protocol.chunks and not protocol.eof:
                    raise httpcore.ReadTimeout(f"nothing received for {timeout} s")
            finally:
                protocol.reader = None
        if protocol.chunks:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.eof or self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        if protocol.writing_paused:
            waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            protocol.drainers.append(waiter)
            if not await _until(waiter, timeout):
                raise httpcore.WriteTimeout(f"could not send for {timeout} s")
            if protocol.error is not None:
                raise httpcore.WriteError(str(protocol.error) or type(protocol.error).__name__)

    async def aclose(self) -> None:
        # As anyio does: close, let the loop run the transport's connection_lost (which closes the socket; a loop
        # that ended first would leave it to the garbage collector), then abort whatever is left.
        if not self._transport.is_closing():
            self._transport.close()
            await asyncio.sleep(0)
        self._transport.abort()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except (TimeoutError, asyncio.TimeoutError) as exc:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"the TLS handshake took over {timeout} s") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection was lost during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle keep-alive connection that received anything (its end) is done
            return bool(self._protocol.chunks) or self._protocol.eof
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return self._transport.get_extra_info(names[info]) if info in names else None


#: How long a connection attempt to one address has before the next address is tried too (RFC 8305's 250 ms).
HAPPY_EYEBALLS_SECONDS = 0.25


def _interleaved(infos: list[Any]) -> list[Any]:
    """``getaddrinfo``'s answers with the address families taking turns (IPv6, IPv4, IPv6, ... as RFC 8305 says)."""
    families: dict[int, list[Any]] = {}
    for info in infos:
        families.setdefault(info[0], []).append(info)
    return [info for group in itertools.zip_longest(*families.values()) for info in group if info is not None]


async def _attempt(loop: asyncio.AbstractEventLoop, info: Any, local_address: str | None) -> socket.socket:
    """One address's connection: the connected socket, or closed and raised (cancelled included)."""
    family, kind, proto, _name, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if local_address:
            sock.bind((local_address, 0))
        await loop.sock_connect(sock, address)
        return sock
    except BaseException:
        sock.close()
        raise


def _close_unless(task: asyncio.Task[socket.socket], keep: socket.socket | None) -> None:
    """Close what ``task`` connected unless it is ``keep``: no socket is left to the garbage collector."""
    if task.done() and not task.cancelled() and task.exception() is None and task.result() is not keep:
        task.result().close()


async def _connected_socket(
    loop: asyncio.AbstractEventLoop, host: str, port: int, local_address: str | None
) -> socket.socket:
    """A connected socket to ``host``, its addresses tried in turn and raced after :data:`HAPPY_EYEBALLS_SECONDS`.

    Why not asyncio's own race (``create_connection(happy_eyeballs_delay=...)``): on Python 3.11 a caller cancelled
    as an attempt connects leaves that socket to the garbage collector (``staggered_race`` drops its winner), which
    the tests saw as a ResourceWarning; here every socket an attempt opened is closed unless it is returned, the
    caller's cancel included (tests/test_network.py cancels 500 connects at every stage).
    """
    infos = _interleaved(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    if not infos:
        raise OSError(f"no address found for {host}")
    attempts: list[asyncio.Task[socket.socket]] = []
    winner: socket.socket | None = None
    try:
        winner = await _race(loop, infos, local_address, attempts)
    finally:
        for task in attempts:
            if task.done():
                _close_unless(task, winner)
            else:
                task.cancel()  # it closes its own socket; one that connects all the same is closed when done
                task.add_done_callback(lambda late: _close_unless(late, None))
    if winner is None:
        errors = [str(task.exception()) for task in attempts if task.done() and not task.cancelled()]
        raise OSError("; ".join(errors) or f"could not connect to {host}:{port}")
    return winner


async def _race(
    loop: asyncio.AbstractEventLoop,
    infos: list[Any],
    local_address: str | None,
    attempts: list[asyncio.Task[socket.socket]],
) -> socket.socket | None:
    """Start attempts in ``attempts`` (the caller's, so that it can close them) until one connects; None when
    every address failed. The next address starts at once when the others failed, else after a while."""
    while True:
        if len(attempts) < len(infos):
            attempts.append(loop.create_task(_attempt(loop, infos[len(attempts)], local_address)))
        running = [task for task in attempts if not task.done()]
        if not running and len(attempts) == len(infos):
            return None
        if running:
            delay = None if len(attempts) == len(infos) else HAPPY_EYEBALLS_SECONDS
            await asyncio.wait(running, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        done = [task for task in attempts if task.done() and not task.cancelled() and task.exception() is None]
        if done:
            return done[0].result()


class _Backend(httpcore.AsyncNetworkBackend):
    """TCP connections as :class:`_Stream`; Unix sockets and socket options through httpcore's anyio backend."""

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
        if socket_options:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        loop = asyncio.get_running_loop()
        protocol = _Protocol()
        try:
            sock = await asyncio.wait_for(_connected_socket(loop, host, port, local_address), timeout)
            # TCP_NODELAY is asyncio's default for TCP transports. Cancelled here, asyncio closes the transport.
            transport, _ = await loop.create_connection(lambda: protocol, sock=sock)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise httpcore.ConnectTimeout(f"could not connect to {host}:{port} in {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return _Stream(transport, protocol)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


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
