"""``connect()``: a ready client for fal (when a key is set) or the embedded emulator, said out loud."""

from __future__ import annotations

import html
import logging
import sys
import threading
from typing import Any

from . import _set_module
from .client import AsyncClient, resolve_key
from .errors import ConfigurationError

__all__ = ["connect", "embedded_emulator"]

logger = logging.getLogger("seedance_nb.connect")

_lock = threading.Lock()
_emulator: Any = None

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
    backend: str = "auto", *, quiet: bool = False, emulator_config: dict[str, Any] | None = None, **client_kwargs: Any
) -> AsyncClient:
    """A client for ``backend``: ``"fal"``, ``"emulator"`` or ``"auto"`` (fal when FAL_KEY is set).

    Shows a banner naming the backend (never the key) unless ``quiet``.

    Args:
        backend: ``"auto"``, ``"fal"`` or ``"emulator"``.
        quiet: no banner.
        emulator_config: settings for the embedded emulator (started on first use, then reconfigured).
        **client_kwargs: :class:`~seedance_nb.client.AsyncClient`'s options (``key``, ``timeout``, ...).

    Raises:
        ConfigurationError: an unknown backend, or ``"fal"`` without an API key.
    """
    if backend not in ("auto", "fal", "emulator"):
        raise ConfigurationError(f"backend must be 'auto', 'fal' or 'emulator', got {backend!r}")
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


_set_module(__name__)
