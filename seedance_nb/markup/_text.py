"""Escaping, safe URLs, labels and formatters: the small pieces every view uses."""

from __future__ import annotations

import html
import json
import os
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .._names import set_public_module

_ROW_FIRST = ("prompt", "image", "end_image")
# --------------------------------------------------------------------------- small helpers


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    """A hashable, display-friendly version of a cell value (NaN becomes None, 5.0 becomes 5)."""
    if is_missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | dict | tuple | set):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


def as_text(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def safe_url(url: Any, *, loopback: bool = True) -> str | None:
    """``url`` if it may become an ``href`` or ``src``: http(s) only (never ``javascript:``, ``data:`` or others).

    ``loopback=False`` also refuses ``127.0.0.1``/``localhost`` URLs (an emulator's, dead once it stops).
    """
    if is_missing(url):
        return None
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if not loopback and (parts.hostname or "").lower() in _LOOPBACK:
        return None
    return text


def is_loopback_url(url: Any) -> bool:
    """True for an http(s) URL on this machine (the emulator's)."""
    text = safe_url(url)
    return text is not None and (urlsplit(text).hostname or "").lower() in _LOOPBACK


def distinct_labels(texts: Sequence[Any], limit: int = 60) -> list[str]:
    """Short labels that tell texts apart: a long prefix they all share is elided (``…``) before the part that differs.

    ``["a long shared opening, then red", "a long shared opening, then blue"]`` → ``["…then red", "…then blue"]``.
    Use the full text as a tooltip (``title=``) next to the label.
    """
    full = [as_text(t) for t in texts]
    distinct = list(dict.fromkeys(full))
    prefix = os.path.commonprefix(distinct) if len(distinct) > 1 else ""
    cut = 0
    if len(prefix) > 12:
        # Back up to a word boundary so the label starts with a whole word.
        cut = prefix.rstrip().rfind(" ") + 1
        if cut < 8:
            cut = 0
    out = []
    for text in full:
        if cut and len(text) > cut:
            out.append("…" + shorten(text[cut:], max(8, limit - 1)))
        else:
            out.append(shorten(text, limit))
    return out


def fmt_when(value: Any) -> str:
    """A timestamp (ISO text, datetime or epoch seconds) as ``2026-11-25 08:41 UTC``; an em dash when unknown."""
    if is_missing(value):
        return "—"
    try:
        stamp = pd.Timestamp(value, unit="s", tz="UTC") if isinstance(value, int | float) else pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    # annotated: pandas-stubs give Any when mypy checks for Python 3.10
    text: str = stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    return text


def fmt_seconds(seconds: Any) -> str:
    """``12.3 s``, ``2 min 05 s`` or ``1 h 02 min``; an em dash when unknown."""
    if is_missing(seconds):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_usd(usd: Any) -> str:
    """``$0.56``; four decimals below a cent; an em dash when unknown."""
    if is_missing(usd):
        return "—"
    x = float(usd)
    return f"${x:.4f}" if 0 < abs(x) < 0.01 else f"${x:.2f}"


def script_json(value: Any) -> str:
    """JSON safe to place inside an inline ``<script>`` (no ``</``, ``<!--`` or ``-->`` can close it)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def new_container_id(prefix: str = "sd") -> str:
    """A unique element id, so several grids in one notebook never drive each other's videos."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


set_public_module(__name__)
