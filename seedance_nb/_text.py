"""Plain words for users, spelled once: counts with their noun (``1 video``, ``2 videos``), and the reason an
exception gives without the Python object reprs some libraries put in it.

::

    plural(1, "video")              # '1 video'
    plural(3, "entry", "entries")   # '3 entries'
    reason(exc)                     # 'cannot identify image file' (Pillow said '... <_io.BytesIO object at 0x...>')
    checked(int, lambda v: v >= 1, "--slots takes a whole number", "--slots must be at least 1")  # argparse type

Pure and dependency-free (the ground floor): the CLI, estimates, budgets and rounds all count with it, and
both command lines (``seedance-nb`` and the emulator's) refuse a bad value with :func:`checked`'s words.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

__all__ = ["checked", "plural", "reason"]

#: ``<_io.BytesIO object at 0x7f...>``, ``<PIL.PngImagePlugin.PngImageFile ... at 0x...>``: reprs, not words.
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")
#: PyAV's ``[Errno 1094995529] `` prefix: FFmpeg's error code, meaningless to a reader.
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` with ``noun`` in the number it takes: ``1 video``, ``0 videos``, ``2 videos``.

    Args:
        count: how many.
        noun: the singular (``"video"``, ``"job"``, ``"take"``, ``"request"``).
        plural_form: the plural when it is not ``noun + "s"`` (``"entries"``).
    """
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def reason(exc: BaseException) -> str:
    """What ``exc`` says, fit for a user: no object reprs (``<_io.BytesIO object at 0x...>``), no FFmpeg error
    numbers, no trailing ``: '/path'`` PyAV appends (the caller names the file), and never empty.

    Args:
        exc: the exception a library raised (Pillow, PyAV, the OS).
    """
    strerror = getattr(exc, "strerror", None)
    text = strerror if isinstance(strerror, str) and strerror else str(exc)
    text = _ERRNO.sub("", _OBJECT_REPR.sub("", text)).strip().rstrip(":").strip()
    return text or type(exc).__name__


def checked(
    convert: Callable[[str], Any], fits: Callable[[Any], bool], wrong: str, outside: str
) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert(text)``, refused with ``wrong`` when it does not convert and with
    ``outside`` when the value does not ``fit`` (each followed by what was given).

    Args:
        convert: text to value (``int``, ``float``); a ValueError means "not this kind of value".
        fits: whether a converted value is allowed.
        wrong: the message when the text does not convert.
        outside: the message when the value does not fit.
    """

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{wrong}, got {text!r}") from None
        if not fits(value):
            raise argparse.ArgumentTypeError(f"{outside}, got {text}")
        return value

    return parse
