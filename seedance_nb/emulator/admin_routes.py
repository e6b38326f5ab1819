"""The emulator's own admin routes, and the documents fal publishes beside its API.

- ``GET /_emulator/stats``, ``POST /_emulator/config`` (faults, latency, slots, ...: any
  :class:`~seedance_nb.emulator.config.EmulatorConfig` field), ``POST /_emulator/reset`` (the counters)
- ``GET /rest/.well-known/jwks.json`` (and ``/.well-known/jwks.json``): the key that verifies the
  emulator's webhooks, as ``rest.alpha.fal.ai`` publishes fal's
- ``GET /api/openapi/queue/openapi.json?endpoint_id=...``: the endpoint's OpenAPI document::

    admin = AdminRoutes(gateway)
    Starlette(routes=admin.routes())
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .gateway import Gateway, reply
from .models import other_endpoint
from .openapi import ENDPOINTS, openapi_document

__all__ = ["AdminRoutes"]


class AdminRoutes:
    """Stats, run-time configuration (faults included), the webhook JWKS and the OpenAPI document."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.engine = gateway.engine

    def routes(self) -> list[Route]:
        return [
            Route("/_emulator/stats", self.stats, methods=["GET"]),
            Route("/_emulator/config", self.configure, methods=["POST"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
            Route("/rest/.well-known/jwks.json", self.jwks, methods=["GET"]),
            Route("/.well-known/jwks.json", self.jwks, methods=["GET"]),
            Route("/api/openapi/queue/openapi.json", self.openapi, methods=["GET"]),
        ]

    async def stats(self, request: Request) -> Response:
        return reply(self.engine.snapshot())

    async def configure(self, request: Request) -> Response:
        """Change :class:`EmulatorConfig` fields (all or none); answers the whole config, secrets masked."""
        self.gateway.count("admin")
        try:
            self.engine.configure(**json.loads(await request.body() or b"{}"))
        except (ValueError, TypeError) as exc:
            return reply({"detail": str(exc)}, 400)
        return reply(self.gateway.config.as_dict())

    async def reset(self, request: Request) -> Response:
        self.engine.reset_stats()
        return reply(self.engine.snapshot())

    async def jwks(self, request: Request) -> Response:
        self.gateway.count("jwks")
        return reply(self.engine.jwks(), headers={"Cache-Control": "max-age=3600"})

    async def openapi(self, request: Request) -> Response:
        self.gateway.count("openapi")
        if self.gateway.config.openapi is not None:
            return reply(self.gateway.config.openapi)
        endpoint = request.query_params.get("endpoint_id", "")
        if endpoint in ENDPOINTS:
            return reply(openapi_document(endpoint, self.gateway.urls.queue))
        registered = other_endpoint(endpoint)  # Kling, Hailuo, Wan, added ones: the snapshot, as fal serves it
        if registered is None:
            return reply({"detail": f"Endpoint {endpoint[:200]!r} not found"}, 404)
        return reply({**registered.openapi_document(), "servers": [{"url": self.gateway.urls.queue}]})
