"""The emulator's HTTP surface: fal's hosts as path prefixes on one port, assembled from route modules.

- ``/queue/...`` stands for ``queue.fal.run`` (submit, status, status stream, result, cancel) and
  ``/run/...`` for ``fal.run`` (the sync route); ``/api/v1/models/requests/by-endpoint`` is
  ``api.fal.ai``'s request history: :mod:`.queue_routes`
- ``/rest/storage/...`` stands for ``rest.fal.ai``'s storage API (token, upload initiate, the JS
  client's multipart upload) and ``/cdn/...`` for ``v3.fal.media`` (uploads, fal-client's multipart
  upload, files with Range support): :mod:`.storage_routes`
- ``/api/fal/proxy`` is fal's server-proxy convention (``@fal-ai/server-proxy``): any method, the real
  target in ``x-fal-target-url``, fal's allow-list, the answer streamed back: :mod:`.proxy_routes`
- ``/_emulator/...`` are the emulator's own admin routes (stats, config, reset); the webhook JWKS of
  ``rest.alpha.fal.ai/.well-known/jwks.json`` and the endpoint's OpenAPI document
  (``/api/openapi/queue/openapi.json?endpoint_id=...``, ``fal.ai/api/...``): :mod:`.admin_routes`

What every route shares (the URLs, the key check, fault injection) is :mod:`.gateway`'s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette

from .admin_routes import AdminRoutes
from .engine import EmulatorConfig, Engine
from .gateway import Gateway
from .proxy_routes import ProxyRoutes, glob_matches
from .queue_routes import QueueRoutes
from .replay import Replay, ReplayRoutes
from .storage_routes import StorageRoutes
from .urls import EmulatorUrls

__all__ = ["create_app", "glob_matches"]


def create_app(config: EmulatorConfig, storage: Path, base_url: str, replay: str | Path | None = None) -> Starlette:
    """A starlette app serving the emulator; ``base_url`` is where clients reach it.

    Args:
        config: the emulator's behaviour; the app reads it on every request, so changes apply at once.
        storage: the folder uploads, parts and rendered videos are written to.
        base_url: ``http://host:port`` as clients reach the app (the URLs it answers with start there).
        replay: a cassette whose recorded answers the ``/queue`` routes give (:mod:`.replay`); None: live.

    The engine is ``app.state.engine``.
    """
    urls = EmulatorUrls(base_url)
    engine = Engine(config, storage, urls)
    gateway = Gateway(config, engine, urls)
    proxy = ProxyRoutes(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await proxy.close()
        await engine.close()

    replayed = [] if replay is None else ReplayRoutes(gateway, Replay(replay)).routes()
    routes = [
        *replayed,
        *AdminRoutes(gateway).routes(),
        *StorageRoutes(gateway).routes(),
        *proxy.routes(),
        *QueueRoutes(gateway).routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.engine = engine
    app.state.started = time.time()
    return app
