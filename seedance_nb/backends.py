"""``connect()``: a ready client for fal (when a key is set) or the embedded emulator, said out loud."""

from __future__ import annotations

import contextlib
import html
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._names import set_public_module
from .client import AsyncClient, resolve_key
from .errors import ConfigurationError

__all__ = ["client_or_connect", "connect", "embedded_emulator", "with_client"]

logger = logging.getLogger("seedance_nb.connect")

T = TypeVar("T")

_lock = threading.Lock()
_emulator: Any = None

#: The environment variable naming an emulator already running (``seedance-nb emulator`` prints it).
EMULATOR_URL_ENV = "SEEDANCE_EMULATOR_URL"

#: How the embedded emulator behaves: quick enough for notebooks, slow enough to watch the queue.
EMBEDDED_CONFIG: dict[str, Any] = {"slots": 4, "speed": 0.05}


def embedded_emulator(**config: Any) -> Any:
    """The process's embedded emulator, started on first use."""
    global _emulator
    with _lock:
        if _emulator is None:
            from .emulator import start

            _emulator = start(**{**EMBEDDED_CONFIG, **config})
        elif config:
            _emulator.configure(**config)
        return _emulator


def connect(
    backend: str = "auto",
    *,
    quiet: bool = False,
    emulator_config: dict[str, Any] | None = None,
    url: str | None = None,
    **client_kwargs: Any,
) -> AsyncClient:
    """A client for ``backend``: ``"fal"``, ``"emulator"`` or ``"auto"`` (fal when FAL_KEY is set).

    An emulator running elsewhere (``seedance-nb emulator --port 8787`` prints these lines) is reached with
    ``connect("emulator", url="http://127.0.0.1:8787")``, or by setting ``SEEDANCE_EMULATOR_URL`` to its
    address: then ``connect()`` itself (and every entry point that calls it: ``run_sweep``, the widgets,
    ``seedance-nb sweep``) uses it, even when FAL_KEY is set, since you asked for it; only ``"fal"`` reaches fal.
    Shows a banner naming the backend (never the key) unless ``quiet``.

    Args:
        backend: ``"auto"``, ``"fal"`` or ``"emulator"``.
        quiet: no banner.
        emulator_config: settings for the embedded emulator (started on first use, then reconfigured); an
            emulator at ``url`` keeps its own.
        url: the base URL of an emulator already running (default ``SEEDANCE_EMULATOR_URL``; neither: the
            embedded one).
        **client_kwargs: :class:`~seedance_nb.client.AsyncClient`'s options (``key``, ``timeout``, ...).

    Raises:
        ConfigurationError: an unknown backend, ``"fal"`` without an API key or with ``url``, a ``url`` that
            is not http(s), or one on another machine while FAL_KEY is set (the key would be sent there).
    """
    if backend not in ("auto", "fal", "emulator"):
        raise ConfigurationError(f"backend must be 'auto', 'fal' or 'emulator', got {backend!r}")
    if backend == "fal" and url:
        raise ConfigurationError("url= is an emulator's address; connect('fal') always reaches fal")
    external = url or (os.environ.get(EMULATOR_URL_ENV) if backend != "fal" else None)
    if external:
        return _external_emulator(external, quiet, client_kwargs)
    key = resolve_key(client_kwargs.get("key"))
    if backend == "fal" and not key:
        raise ConfigurationError(
            "backend='fal' needs an API key: set FAL_KEY to the 'key_id:key_secret' from fal.ai/dashboard/keys "
            "(or FAL_KEY_ID and FAL_KEY_SECRET), or use connect('emulator')"
        )
    if backend == "fal" or (backend == "auto" and key):
        client = AsyncClient(backend="fal", **client_kwargs)
        _banner("fal", client.queue_url, "every video is billed to your fal account", quiet)
        return client
    emu = embedded_emulator(**(emulator_config or {}))
    client_kwargs.setdefault("key", None)
    client = AsyncClient(
        queue_url=emu.queue_url,
        rest_url=emu.rest_url,
        cdn_url=emu.cdn_url,
        api_url=emu.api_url,
        backend="emulator",
        emulator=emu,
        **client_kwargs,
    )
    _banner("emulator", emu.base_url, "no FAL_KEY set; nothing is billed. Set FAL_KEY to use fal", quiet)
    return client


def _external_emulator(url: str, quiet: bool, client_kwargs: dict[str, Any]) -> AsyncClient:
    """A client for the emulator at ``url`` (``seedance-nb emulator``), named as the emulator (nothing billed)."""
    from urllib.parse import urlsplit

    from .emulator.urls import EmulatorUrls

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"the emulator's URL must be http(s)://HOST:PORT (what seedance-nb emulator prints), got {url!r} "
            f"(from url= or {EMULATOR_URL_ENV})"
        )
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") and not client_kwargs.get("key") and resolve_key():
        raise ConfigurationError(
            f"the emulator at {parts.scheme}://{parts.netloc} is on another machine and FAL_KEY is set: it would be "
            "sent there. Pass key= (the emulator's --api-key, or any text), or unset FAL_KEY"
        )
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    urls = EmulatorUrls(base)
    client = AsyncClient(
        queue_url=urls.queue,
        rest_url=urls.rest,
        cdn_url=urls.cdn,
        api_url=urls.api,
        backend="emulator",
        **client_kwargs,
    )
    _banner("emulator", base, "an emulator you started; nothing is billed", quiet)
    return client


def client_or_connect(client: AsyncClient | None) -> AsyncClient:
    """``client``, or :func:`connect`'s when it is None: the one place an entry point chooses a world.

    The runner (:meth:`seedance_nb.Sweep.run`) takes a client and never chooses; the entry points a user
    calls (``run_sweep``, ``resume``, ``retry_failed``, ``generate``, the widgets, the CLI) call this.

    Args:
        client: the client the user passed, or None for the default (fal with ``FAL_KEY``, else the emulator).
    """
    return client if client is not None else connect()


async def with_client(client: AsyncClient | None, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run ``body(client)`` (the default client when None) and close its connections for this loop afterwards.

    The sync wrappers (``run_sweep``, ``Sweep.resume``, ``generate``...) run on a fresh loop each time, so the
    client's pooled connections must not outlive it.

    Args:
        client: the client, or None for :func:`client_or_connect`'s default.
        body: what to run with it.
    """
    client = client_or_connect(client)
    try:
        return await body(client)
    finally:
        with contextlib.suppress(RuntimeError):
            await client.aclose()


def _banner(backend: str, url: str, note: str, quiet: bool) -> None:
    text = f"seedance-nb: using {backend} at {url} ({note})"
    logger.info(text)
    if quiet:
        return
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
            colour = "#b45309" if backend == "fal" else "#1d4ed8"
            display(
                HTML(
                    f'<div style="border-left:4px solid {colour};padding:4px 10px;font:13px sans-serif">'
                    f"<b>seedance-nb</b>: using <b>{html.escape(backend)}</b> at "
                    f"<code>{html.escape(url)}</code> — {html.escape(note)}</div>"
                )
            )
            return
    except ImportError:
        pass
    print(text, file=sys.stderr)


set_public_module(__name__)
