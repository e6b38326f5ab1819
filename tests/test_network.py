"""The client's own network layer (seedance_nb.client._network) against real servers on 127.0.0.1: plain HTTP
and TLS (a certificate made here), keep-alive reuse, a server that closes idle connections, timeouts, a body
larger than the receive buffer read slowly, and the status streams' separate pool."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from loopback import LoopbackApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from seedance_nb.client import AsyncClient
from seedance_nb.client._network import LONG_LIVED, SplitTransport, pooled_transport

BIG = bytes(range(256)) * 12 * 1024  # 3 MiB: over the 256 KiB the connection holds before it stops reading


async def _peer(request: Request) -> Response:
    assert request.client is not None
    return JSONResponse({"port": request.client.port})


async def _slow(request: Request) -> Response:
    await asyncio.sleep(2.0)
    return JSONResponse({})


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _events(request: Request) -> Response:
    async def lines() -> Any:
        for n in range(3):
            yield f"data: {n}\n\n".encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(lines(), media_type="text/event-stream")


async def _set_cookie(request: Request) -> Response:
    response = JSONResponse({})
    response.set_cookie("session", "abc")
    return response


async def _cookies(request: Request) -> Response:
    return JSONResponse(dict(request.cookies))


APP = Starlette(
    routes=[
        Route("/peer", _peer),
        Route("/slow", _slow),
        Route("/big", _big),
        Route("/events", _events),
        Route("/set-cookie", _set_cookie),
        Route("/cookies", _cookies),
    ]
)


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (a DNS name), its key: files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _server(keep_alive: float = 5.0, tls: tuple[Path, Path] | None = None) -> LoopbackApp:
    """uvicorn serving :data:`APP` on 127.0.0.1 (TLS when given a certificate), keep-alive ``keep_alive`` s."""
    extra = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    return LoopbackApp(APP, timeout_keep_alive=keep_alive, **extra)


def _client(context: ssl.SSLContext | None = None, **kw: Any) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    transport = pooled_transport(context or httpx.create_ssl_context(), limits)
    assert isinstance(transport, SplitTransport)
    return httpx.AsyncClient(transport=transport, **kw)


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_plain_http_reuses_one_connection_and_reads_a_large_body_slowly() -> None:
    async def go(base: str) -> None:
        async with _client() as http:
            ports = {(await http.get(f"{base}/peer")).json()["port"] for _ in range(5)}
            assert len(ports) == 1  # keep-alive: five requests, one connection
            got = bytearray()
            async with http.stream("GET", f"{base}/big") as response:
                async for chunk in response.aiter_raw():
                    got += chunk
                    await asyncio.sleep(0.001)  # a slow reader: the connection stops and resumes reading
            assert bytes(got) == BIG

    with _server() as server:
        asyncio.run(go(f"http://127.0.0.1:{server.port}"))


def test_tls_with_a_trusted_certificate_and_a_refused_one(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "localhost")

    async def go(port: int) -> None:
        async with _client(_trusting(cert)) as http:
            ports = {(await http.get(f"https://localhost:{port}/peer")).json()["port"] for _ in range(3)}
            assert len(ports) == 1
            response = await http.get(f"https://localhost:{port}/big")
            assert response.content == BIG
        async with _client() as http:  # the system's trust store: a self-signed certificate is refused
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(f"https://localhost:{port}/peer")
        async with _client(_trusting(cert)) as http:  # trusted, but not for this name
            with pytest.raises(httpx.ConnectError, match="match|mismatch"):
                await http.get(f"https://127.0.0.1:{port}/peer")

    with _server(tls=(cert, key)) as server:
        asyncio.run(go(server.port))


@pytest.mark.parametrize("tls", [False, True])
def test_a_connection_the_server_closed_while_idle_is_never_reused(tmp_path: Path, tls: bool) -> None:
    pair = _certificate(tmp_path, "localhost") if tls else None

    async def go(base: str) -> None:
        async with _client(_trusting(pair[0]) if pair else None) as http:
            first = (await http.get(f"{base}/peer")).json()["port"]
            await asyncio.sleep(0.6)  # the server closes the idle connection after 0.2 s
            second = await http.get(f"{base}/peer")  # no error: a new connection
            assert second.status_code == 200 and second.json()["port"] != first

    with _server(keep_alive=0.2, tls=pair) as server:
        asyncio.run(go(f"{'https://localhost' if tls else 'http://127.0.0.1'}:{server.port}"))


def test_timeouts_are_httpx_timeouts() -> None:
    async def go(base: str) -> None:
        async with _client(timeout=httpx.Timeout(5.0, read=0.3)) as http:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"{base}/slow")
            assert time.monotonic() - started < 1.5
            assert (await http.get(f"{base}/peer")).status_code == 200  # the pool goes on
        with socket.socket() as closed:  # a port nobody listens on
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        async with _client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/peer")

    with _server() as server:
        asyncio.run(go(f"http://127.0.0.1:{server.port}"))


def test_status_streams_use_their_own_pool() -> None:
    async def go(base: str) -> None:
        async with _client() as http:
            transport = http._transport  # noqa: SLF001 (the pools are what is tested)
            assert isinstance(transport, SplitTransport)
            async with http.stream("GET", f"{base}/events", extensions={LONG_LIVED: True}) as response:
                body = b"".join([chunk async for chunk in response.aiter_raw()])
                assert body.count(b"data:") == 3
                await http.get(f"{base}/peer")  # a short request meanwhile: the other pool
            long_pool = transport.long_lived._pool  # noqa: SLF001
            short_pool = transport.short._pool  # noqa: SLF001
            assert len(long_pool.connections) == 1 and len(short_pool.connections) == 1
            assert long_pool.connections[0] is not short_pool.connections[0]

    with _server() as server:
        asyncio.run(go(f"http://127.0.0.1:{server.port}"))


def test_the_clients_cookie_jar_still_keeps_a_cookie_a_server_sets() -> None:
    """The client's jar skips answers without Set-Cookie (a cost per request); one with it is kept as httpx does."""

    async def go(base: str) -> None:
        async with AsyncClient(queue_url=f"{base}/queue", rest_url=f"{base}/rest", cdn_url=f"{base}/cdn") as client:
            http = client.http
            assert (await http.get(f"{base}/cookies")).json() == {}
            await http.get(f"{base}/set-cookie")
            assert (await http.get(f"{base}/cookies")).json() == {"session": "abc"}

    with _server() as server:
        asyncio.run(go(f"http://127.0.0.1:{server.port}"))


def _resource_warnings(seen: list[Any], port: int) -> list[str]:
    """The ResourceWarnings among ``seen`` about a socket or transport connected to ``port``."""
    texts = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    return [text for text in texts if f"127.0.0.1', {port})" in text or "transport" in text]


def test_connects_cancelled_at_every_stage_leave_no_socket_behind() -> None:
    """A run cancelled while its connections are being made (a Ctrl-C, a cancelled cell, a job timeout): 500
    connects cancelled after 0 to 6 turns of the loop, that is before, during and just after the socket connects.
    Every socket an attempt opened is closed, none left to the garbage collector (Python 3.11's own
    happy-eyeballs race, ``create_connection(happy_eyeballs_delay=...)``, dropped about 40 % of them here)."""
    import gc
    import random
    import warnings

    from seedance_nb.client._network import _Backend

    async def go() -> int:
        server = await asyncio.start_server(lambda _r, writer: writer.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backend, rng = _Backend(), random.Random(7)
        for _ in range(500):
            connecting = asyncio.ensure_future(backend.connect_tcp("127.0.0.1", port, timeout=5))
            for _turn in range(rng.randint(0, 6)):
                await asyncio.sleep(0)
            connecting.cancel()
            try:
                await (await connecting).aclose()  # it connected before the cancel arrived: closed as usual
            except asyncio.CancelledError:
                pass
        server.close()
        await server.wait_closed()
        return port

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        port = asyncio.run(go())
        gc.collect()
    assert _resource_warnings(seen, port) == []


def test_an_address_that_does_not_answer_does_not_stop_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host with two addresses whose first one drops the connection attempt (a broken IPv6 route, say): after
    250 ms the next address is tried too, the connection is made there, and the hanging attempt is closed."""
    import gc
    import warnings

    from seedance_nb.client import _network
    from seedance_nb.client._network import _Backend

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(0)  # a full accept queue: further SYNs are dropped, so a connect there waits
    hanging_port = hanging.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(hanging.getsockname())
        fillers.append(filler)

    async def go() -> tuple[int, float]:
        server = await asyncio.start_server(lambda _r, writer: writer.close(), "127.0.0.1", 0)
        good = server.sockets[0].getsockname()
        loop = asyncio.get_running_loop()

        async def two_addresses(host: str, port: int, **kw: Any) -> list[Any]:
            stream = socket.SOCK_STREAM
            return [(socket.AF_INET, stream, 6, "", hanging.getsockname()), (socket.AF_INET, stream, 6, "", good)]

        monkeypatch.setattr(loop, "getaddrinfo", two_addresses)
        started = time.monotonic()
        stream = await _Backend().connect_tcp("example.invalid", 443, timeout=10)
        took = time.monotonic() - started
        peer = stream.get_extra_info("server_addr")
        await stream.aclose()
        server.close()
        await server.wait_closed()
        return peer[1], took

    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            (port, took) = asyncio.run(go())
            gc.collect()
    finally:
        for sock in [hanging, *fillers]:
            sock.close()
    assert port != hanging_port
    assert _network.HAPPY_EYEBALLS_SECONDS <= took < 5  # the second address was tried once the first hung
    assert _resource_warnings(seen, hanging_port) == []
