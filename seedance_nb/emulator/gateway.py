"""What every route of the emulator shares: its URLs, the key check, fault injection, JSON answers.

fal's gateway stands in front of every model: it checks the API key and, in the
emulator, is where injected faults happen (429, nginx 5xx pages, slow answers,
dropped connections). The route modules (``queue_routes``, ``storage_routes``,
``proxy_routes``, ``admin_routes``) all hold one :class:`Gateway`::

    gateway = Gateway(config, engine, EmulatorUrls("http://127.0.0.1:8787"))
    admitted = await gateway.admit(request, faults=True)   # inside a handler
    if isinstance(admitted, Response):
        return admitted                                     # 401, 429 or an nginx 5xx page
    return await admitted.deliver(answer)                   # cut halfway when a drop was drawn
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .engine import EmulatorConfig, Engine
from .urls import EmulatorUrls

__all__ = ["NGINX_BODY", "Admitted", "Dropped", "Gateway", "drop_halfway", "read_json_body", "reply"]

NGINX_BODY = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


class Dropped(Exception):
    """Raised inside a streaming body to cut the connection mid-response."""


def reply(
    body: Any, status: int = 200, request_id: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer, with ``x-fal-request-id`` when it concerns a request."""
    out = dict(headers or {})
    if request_id:
        out["x-fal-request-id"] = request_id
    return JSONResponse(body, status_code=status, headers=out)


async def read_json_body(request: Request) -> Any:
    """The request's JSON body (``{}`` when empty), or fal's 400 when it is not JSON."""
    try:
        return json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        return reply({"detail": "Request body is not valid JSON"}, 400)


async def drop_halfway(response: Response) -> Response:
    """``response`` with its headers and half its body sent, then the connection cut."""
    raw = bytes(response.body)
    half = raw[: max(1, len(raw) // 2)]

    async def body() -> AsyncIterator[bytes]:
        yield half
        await asyncio.sleep(0)
        raise Dropped("connection dropped by fault injection")

    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["content-length"] = str(len(raw))
    return StreamingResponse(body(), status_code=response.status_code, headers=headers)


@dataclass(frozen=True)
class Admitted:
    """A request the gateway let through; ``drop`` when its answer is to be cut halfway (an injected fault)."""

    drop: bool = False

    async def deliver(self, response: Response) -> Response:
        """``response`` as the client gets it (a stream is never cut: it has no body to halve)."""
        if self.drop and not isinstance(response, StreamingResponse):
            return await drop_halfway(response)
        return response


class Gateway:
    """The emulator's state as the routes see it, and the checks fal's gateway makes before a route runs."""

    def __init__(self, config: EmulatorConfig, engine: Engine, urls: EmulatorUrls) -> None:
        self.config = config
        self.engine = engine
        self.urls = urls

    def count(self, route: str) -> None:
        """Count one HTTP request to ``route`` (the emulator's stats)."""
        self.engine.routes[route] += 1

    def authorised(self, request: Request) -> bool:
        """True when no key is configured or the request carries it (``Key`` or ``Bearer``)."""
        if not self.config.api_key:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in ("key", "bearer") and value == self.config.api_key

    async def admit(self, request: Request, *, faults: bool = False) -> Response | Admitted:
        """fal's gateway: a 401 without the key; with ``faults``, one injected fault (reproducible from
        ``fault_seed``): a 429 or nginx 5xx answered here, a slow answer, or (GETs only) a dropped one."""
        if not self.authorised(request):
            return reply({"detail": "No user found for Key ID and Secret"}, 401)
        if not faults:
            return Admitted()
        injected = self.roll_fault(can_drop=request.method == "GET")
        if isinstance(injected, Response):
            return injected
        if injected == "slow":
            await asyncio.sleep(self.config.slow_seconds)
        return Admitted(drop=injected == "drop")

    def roll_fault(self, *, can_drop: bool) -> Response | str | None:
        """One draw of the fault dice: a refusal to answer, ``"slow"``, ``"drop"`` or None."""
        config, engine = self.config, self.engine
        roll = engine.rng.random()
        edge = config.rate_429
        if roll < edge:
            engine.stats["fault_429"] += 1
            return reply({"detail": "Too many requests, please slow down"}, 429, headers={"Retry-After": "0"})
        edge += config.rate_ingress
        if roll < edge:
            code = engine.rng.choice((502, 503, 504))
            engine.stats["fault_ingress"] += 1
            body = NGINX_BODY.format(code=code, reason=_REASONS[code])
            return Response(body, status_code=code, media_type="text/html")
        edge += config.rate_slow
        if roll < edge:
            engine.stats["fault_slow"] += 1
            return "slow"
        edge += config.rate_drop
        if can_drop and roll < edge:
            engine.stats["fault_drop"] += 1
            return "drop"
        return None

    def roll_file_drop(self, request: Request) -> bool:
        """Whether a CDN file download is cut halfway (GETs only; its own draw at ``rate_drop``)."""
        config, engine = self.config, self.engine
        if request.method == "GET" and config.rate_drop and engine.rng.random() < config.rate_drop:
            engine.stats["fault_drop"] += 1
            return True
        return False

    def token_refused(self, request: Request) -> Response | None:
        """fal's CDN wants a live token from ``/storage/auth/token``: 401 when it is unknown or expired."""
        problem = self.engine.token_problem(request.headers.get("authorization", ""))
        if problem is None:
            return None
        self.engine.stats["token_refused"] += 1
        return reply({"detail": problem}, 401)
