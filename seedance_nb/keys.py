"""The API keys this process knows, and the one scrub that keeps them out of everything stored.

A server may echo the key in what it answers (a result body, a ``file_name``, an error). Whatever reaches a
file (the journal, ``sweep.json``, the cache index, the catalog) goes through :func:`scrub` first: the key
``FAL_KEY`` (or ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``) resolves to now, every key given to a client in this
process, and each half of an ``id:secret`` key, are replaced by ``***``. Only exact keys are scrubbed (a
pattern would also change prompts that merely look like one, and a journalled payload must stay what was sent).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from ._names import set_public_module

__all__ = ["env_key", "remember", "resolve_key", "scrub", "scrub_text"]

#: Replaces a key in stored text (as :func:`seedance_nb.errors.redact` does in messages).
MASK = "***"
#: A key, or a half of an ``id:secret`` key, shorter than this is not scrubbed (it would hit ordinary text, and a
#: journalled payload must stay what was sent; fal's keys are a UUID and 32 hex digits).
_MIN_PART = 8


class _Keys:
    """Keys given to clients in this process; shows none in a ``repr`` or ``vars()``."""

    __slots__ = ("_lock", "_values")

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._values.add(key)

    def all(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._values)

    def __repr__(self) -> str:
        return f"<{len(self._values)} key(s)>"


_given = _Keys()


def env_key() -> str | None:
    """The key the environment holds: ``FAL_KEY``, else ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``, else None."""
    if os.environ.get("FAL_KEY"):
        return os.environ["FAL_KEY"]
    key_id, secret = os.environ.get("FAL_KEY_ID"), os.environ.get("FAL_KEY_SECRET")
    return f"{key_id}:{secret}" if key_id and secret else None


def resolve_key(key: str | None = None) -> str | None:
    """The API key: the argument, else ``FAL_KEY``, else ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``.

    Args:
        key: a key given explicitly (it wins), or None to read the environment (read now, never at import).
    """
    return key or env_key()


def remember(key: str | None) -> None:
    """Keep ``key`` out of everything this process stores from now on (clients call this with their key).

    Args:
        key: an API key, or None (nothing to remember).
    """
    if key:
        _given.add(key)


def _needles() -> list[str]:
    """Every string to scrub, longest first (a whole key before its halves)."""
    keys = [k for k in (env_key(), *_given.all()) if k and len(k) >= _MIN_PART]  # no real key is shorter
    found = set(keys)
    for key in keys:
        found.update(part for part in key.split(":") if len(part) >= _MIN_PART)
    return sorted(found, key=len, reverse=True)


def scrub_text(text: str) -> str:
    """``text`` with every known key (and each long half of one) replaced by ``***``.

    Args:
        text: any text about to be stored.
    """
    for needle in _needles():
        if needle in text:
            text = text.replace(needle, MASK)
    return text


def scrub(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every known key scrubbed from its strings,
    keys of mappings included. The same object comes back when it holds no key (the common case, cheaply).

    Args:
        value: what is about to be stored.
    """
    needles = _needles()
    if not needles or not _holds(value, needles):
        return value
    return _scrubbed(value, needles)


def _holds(value: Any, needles: list[str]) -> bool:
    if isinstance(value, str):
        return any(needle in value for needle in needles)
    if isinstance(value, Mapping):
        return any(_holds(k, needles) or _holds(v, needles) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds(v, needles) for v in value)
    return False


def _scrubbed(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, MASK)
        return value
    if isinstance(value, Mapping):
        return {_scrubbed(k, needles): _scrubbed(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v, needles) for v in value]
    return value


set_public_module(__name__)
