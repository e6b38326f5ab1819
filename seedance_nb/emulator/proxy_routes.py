"""fal's server proxy (``@fal-ai/server-proxy``) on ``/api/fal/proxy``, with fal's hosts mapped onto the emulator.

Any method; the real target in ``x-fal-target-url``, checked against fal's allow-list
(picomatch globs over ``host + path + query``); the proxy adds the key, the answer is
streamed back (an SSE status stream included)::

    proxy = ProxyRoutes(gateway)
    Starlette(routes=proxy.routes())   # and ``await proxy.close()`` at shutdown
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from urllib.parse import SplitResult, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .gateway import Gateway
from .urls import EmulatorUrls

__all__ = ["ProxyRoutes", "fal_target", "glob_matches", "proxied_url"]

#: Response headers the proxy does not copy (fal's proxy drops the first two; the server sets the rest).
_HOP_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


@functools.lru_cache(maxsize=64)
def _glob(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("\\", i) and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_matches(pattern: str, text: str) -> bool:
    """picomatch's glob as fal's proxy uses it: ``**`` any text, ``*`` / ``?`` within a segment, ``\\`` escapes."""
    return _glob(pattern).fullmatch(text) is not None


def fal_target(target: str) -> SplitResult | None:
    """The ``x-fal-target-url`` split, or None when it is not an absolute http(s) URL."""
    parts = urlsplit(target)
    if not target or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts


def proxied_url(target: SplitResult, allowed: tuple[str, ...], urls: EmulatorUrls) -> str | None:
    """The emulator's URL for a fal ``target`` the allow-list lets through, or None (refused)."""
    query = f"?{target.query}" if target.query else ""
    hosts = {"fal.run": urls.run, "queue.fal.run": urls.queue, "rest.fal.ai": urls.rest}
    prefix = hosts.get(target.hostname or "")
    if prefix is None or not any(glob_matches(p, target.netloc + target.path + query) for p in allowed):
        return None
    return prefix + target.path + query


class ProxyRoutes:
    """The server-proxy route; holds the one HTTP client it forwards with (closed by :meth:`close`)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.client: httpx.AsyncClient | None = None

    def routes(self) -> list[Route]:
        return [Route("/api/fal/proxy", self.proxy, methods=_METHODS)]

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def forwarded_headers(self, request: Request) -> dict[str, str]:
        """The caller's ``x-fal-*`` headers, the key, and what fal's proxy sets."""
        headers = {k: v for k, v in request.headers.items() if k.startswith("x-fal-")}
        # The proxy holds the key (fal's reads FAL_KEY); a caller's own Authorization header wins, as in fal's.
        api_key = self.gateway.config.api_key
        authorization = request.headers.get("authorization") or (f"Key {api_key}" if api_key else "")
        if authorization:
            headers["authorization"] = authorization
        headers.update(
            {
                "accept": "application/json",
                "content-type": "application/json",
                "user-agent": request.headers.get("user-agent", ""),
                "x-fal-client-proxy": "@fal-ai/server-proxy/seedance-nb-emulator",
            }
        )
        return headers

    async def proxy(self, request: Request) -> Response:
        """``@fal-ai/server-proxy`` as fal ships it, with fal's hosts mapped onto this emulator's routes."""
        gateway = self.gateway
        gateway.count("proxy")
        target = fal_target(request.headers.get("x-fal-target-url", ""))
        if target is None:
            return PlainTextResponse("Invalid request", 400)
        url = proxied_url(target, gateway.config.proxy_allowed_urls, gateway.urls)
        if url is None:
            gateway.engine.stats["proxy_refused"] += 1
            return PlainTextResponse("Invalid request", 400)
        body = None if request.method == "GET" else await request.body()
        if self.client is None:
            # Always this emulator on loopback: no environment proxy may sit in between.
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10), trust_env=False)
        client = self.client
        upstream = await client.send(
            client.build_request(request.method, url, headers=self.forwarded_headers(request), content=body),
            stream=True,
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_bytes():
                    yield chunk
            finally:  # also when the caller hangs up mid-stream (an SSE status stream)
                await upstream.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=out)
