"""Input rules a local check can see before money is spent: field names the endpoint knows, image headers.

Used by :func:`seedance_nb.schema.check_payload` (and so :class:`~seedance_nb.schema.VideoInput` and the
emulator's 422s), :mod:`seedance_nb.files` (image inputs), :class:`~seedance_nb.grids.Grid`,
:func:`seedance_nb.generate` and the CLI. Pure but for :func:`current_schema`'s cached document.

A field the endpoint's schema does not list is refused with the nearest name it does list::

    >>> unknown_field_problems(["resolutoin"])[0].message
    "unknown field 'resolutoin' for bytedance/seedance-2.0/fast/image-to-video: did you mean 'resolution'?"

``seed`` keeps its documented treatment (docs/fal-fidelity.md): fal's published schema lacks it, so it is
accepted and the sweep warns before money is spent. ``allow_unknown=True`` (``--allow-unknown``) sends any other
unlisted field as it is, with the same warning.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import io
import json
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from ._names import set_public_module
from .errors import Problem
from .openapi_schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, InputSchema, current_schema, load_snapshot

__all__ = [
    "IMAGE_MIME_TYPES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_RATIO",
    "MAX_IMAGE_SIDE",
    "MIN_IMAGE_RATIO",
    "MIN_IMAGE_SIDE",
    "data_image_problem",
    "image_size_problems",
    "null_problems",
    "unknown_field_problems",
]

#: ByteDance's image rules: each side 300-6000 px, width/height between 0.4 and 2.5.
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 300, 6000
MIN_IMAGE_RATIO, MAX_IMAGE_RATIO = 0.4, 2.5

#: Fields accepted whatever the schema says: fal's model page lists ``seed`` but its published schema does not
#: (docs/fal-fidelity.md); the sweep warns about it before money is spent and compares the output seed after.
DOCUMENTED_UNLISTED = frozenset({"seed"})

#: How the opt-in is spelt, in Python and on the command line (named in every refusal).
OPT_IN = "allow_unknown=True (--allow-unknown on the command line)"


# --------------------------------------------------------------------------- field names


def unknown_field_problems(
    names: Iterable[Any],
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    aliases: Mapping[str, str] | None = None,
    suggest: Iterable[str] = (),
) -> list[Problem]:
    """One problem per name in ``names`` that ``endpoint``'s schema does not list, with the nearest it does.

    The shipped snapshot is asked first; a name it lacks is looked up in fal's latest document too
    (:func:`~seedance_nb.openapi_schema.current_schema`: a field fal added since is known). An endpoint
    without a snapshot cannot be checked here (an empty list). ``seed`` is never refused (see the module).

    Args:
        names: the field names as the user wrote them (non-text names are left to the payload check).
        endpoint: the fal endpoint id whose schema decides.
        aliases: names the caller takes for schema fields (``{"image": "image_url"}`` for a grid).
        suggest: more names offered as "did you mean" (a function's own options: ``progress``, ``takes``).
    """
    if endpoint not in SNAPSHOT_ENDPOINTS:
        return []
    aliases = aliases or {}
    wanted = [n for n in dict.fromkeys(names) if isinstance(n, str) and n not in DOCUMENTED_UNLISTED]
    schema: InputSchema = load_snapshot(endpoint)
    unknown = [n for n in wanted if aliases.get(n, n) not in schema.fields]
    if not unknown:
        return []
    schema = current_schema(endpoint)
    unknown = [n for n in unknown if aliases.get(n, n) not in schema.fields]
    listed = [*schema.fields, *sorted(DOCUMENTED_UNLISTED - set(schema.fields))]
    vocabulary = [*listed, *(a for a, real in aliases.items() if real in schema.fields), *suggest]
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, vocabulary, n=1, cutoff=0.6)
        hint = f": did you mean {close[0]!r}?" if close else ""
        problems.append(
            Problem(
                name,
                f"unknown field {name!r} for {endpoint}{hint}",
                None,
                f"{', '.join(listed)}; or {OPT_IN} to send it anyway",
                type="unknown_field",
            )
        )
    return problems


def null_problems(payload: Mapping[str, Any], schema: InputSchema, skip: Iterable[str] = ()) -> list[Problem]:
    """A problem per field set to None (JSON null) that ``schema`` declares without ``null`` in its type.

    ``bitrate_mode=None`` is sent as ``null``, which fal's schema (a string enum) does not allow.

    Args:
        payload: field name to value.
        schema: the endpoint's input schema.
        skip: fields checked elsewhere (where None means "not set").
    """
    skipped = set(skip)
    problems = []
    for name, value in payload.items():
        spec = schema.fields.get(name) if isinstance(name, str) else None
        if value is None and spec is not None and name not in skipped and spec.type and "null" not in spec.type:
            problems.append(
                Problem(name, "must not be None (null)", None, f"{spec.describe()}; leave it out for fal's default")
            )
    return problems


# --------------------------------------------------------------------------- images


def image_size_problems(field: str, width: int, height: int, name: str = "image") -> list[Problem]:
    """ByteDance's size rules for an input image of ``width`` x ``height`` px, as fal's 422 types.

    Args:
        field: the field named in each problem (as the user wrote it: ``image`` or ``image_url``).
        width: the image's width in pixels.
        height: the image's height in pixels.
        name: what the message calls the image (a file name, ``array``...).
    """
    size = f"{name} is {width}×{height} px"
    sides = f"sides {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px"
    if width <= 0 or height <= 0:
        return [Problem(field, f"{size}: it has no pixels", None, sides, type="image_load_error")]
    problems = []
    if min(width, height) < MIN_IMAGE_SIDE:
        message = f"{size}; each side must be at least {MIN_IMAGE_SIDE} px: upscale it or pick another"
        problems.append(Problem(field, message, None, sides, type="image_too_small"))
    if max(width, height) > MAX_IMAGE_SIDE:
        message = f"{size}; each side must be at most {MAX_IMAGE_SIDE} px: downscale it or pick another"
        problems.append(Problem(field, message, None, sides, type="image_too_large"))
    ratio = width / height
    if not MIN_IMAGE_RATIO <= ratio <= MAX_IMAGE_RATIO:
        message = (
            f"{size} (width / height {ratio:.2f}); the ratio must be between {MIN_IMAGE_RATIO} and "
            f"{MAX_IMAGE_RATIO}: crop it or pick another"
        )
        allowed = f"width / height {MIN_IMAGE_RATIO}..{MAX_IMAGE_RATIO}"
        problems.append(Problem(field, message, None, allowed, type="image_aspect_ratio_error"))
    return problems


def _header_reader(data: bytes) -> type[ImageFile.ImageFile] | None:
    """The PIL class that reads only the header of fal's three formats (no pixels decoded and no
    decompression-bomb warning: a thread-safe look at the size), or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PngImagePlugin.PngImageFile
    if data.startswith(b"\xff\xd8\xff"):
        return JpegImagePlugin.JpegImageFile
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WebPImagePlugin.WebPImageFile
    return None


def data_image_problem(field: str, data: bytes) -> Problem | None:
    """The first problem fal would find in the image bytes of a data URI, read from its header only.

    Args:
        field: the field named in the problem.
        data: the decoded bytes.
    """
    reader = _header_reader(data)
    if reader is not None:
        try:
            with reader(io.BytesIO(data)) as image:
                width, height = image.size
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error):
            reader = None
    if reader is None:
        return Problem(
            field,
            "the data URI does not hold a readable JPEG, PNG or WebP image",
            f"<{len(data)} bytes>",
            "a JPEG, PNG or WebP image (a path, bytes or PIL image is converted for you)",
            type="image_load_error",
        )
    problems = image_size_problems(field, width, height)
    return problems[0] if problems else None


# --------------------------------------------------------------------------- text and image URLs

#: fal's limit on an input image (30 MB); ByteDance says "< 30 MB".
MAX_IMAGE_BYTES = 30 * 1024 * 1024
IMAGE_MIME_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")


def _text_problem(name: str, value: str) -> Problem | None:
    """A problem when ``value`` cannot be sent as UTF-8 JSON (a lone surrogate, a NUL)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Problem(name, "contains characters that are not valid text (a lone surrogate)", None, "valid Unicode")
    if "\x00" in value:
        return Problem(name, "contains a NUL character", None, "text without NUL characters")
    return None


def _json_problem(name: str, value: Any) -> Problem | None:
    """A problem when ``value`` is not plain JSON (a set, NaN, infinity, bytes, invalid text...)."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return Problem(name, f"cannot be sent as JSON ({type(exc).__name__})", None, "text, numbers, booleans, lists")
    return _text_problem(name, text)


_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[\w-]+=[\w.-]+)*)(?P<b64>;base64)?,", re.I)


#: Data URIs at least this long (an inlined image) are remembered by identity, not content: a grid's jobs share
#: one string, and comparing two equal 8 MB strings in a content-keyed cache costs as much as checking one (and
#: such a cache would keep every image it saw alive).
_BIG_URL = 64 * 1024
_RECENT_BIG_URLS: dict[int, tuple[str, str, Problem | None]] = {}


def _image_url_problem(name: str, url: str) -> Problem | None:
    """:func:`_check_image_url`, remembered: short URLs by content, long data URIs by identity (the last few)."""
    if len(url) < _BIG_URL:
        return _check_image_url(name, url)
    seen = _RECENT_BIG_URLS.get(id(url))
    if seen is not None and seen[0] == name and seen[1] is url:
        return seen[2]
    problem = _image_url_check(name, url)
    if len(_RECENT_BIG_URLS) >= 4:
        _RECENT_BIG_URLS.clear()  # not popped one by one: another thread (the emulator's) may check too
    _RECENT_BIG_URLS[id(url)] = (name, url, problem)
    return problem


@functools.lru_cache(maxsize=64)
def _check_image_url(name: str, url: str) -> Problem | None:
    return _image_url_check(name, url)


def _image_url_check(name: str, url: str) -> Problem | None:
    text_problem = _text_problem(name, url)
    if text_problem:
        return text_problem
    if url.startswith(("http://", "https://")):
        if len(url) > 8192:
            return Problem(name, "URL is too long", url, "an http(s) URL under 8 KB")
        if re.search(r"\s", url) or url in ("http://", "https://"):
            return Problem(name, "not a valid URL", url, "an http(s) URL or a data:image/... URI")
        return None
    match = _DATA_URI.match(url)
    if not match:
        return Problem(
            name,
            "must be an http(s) URL or a data:image/{jpeg,png,webp};base64 URI",
            url,
            "https://..., data:image/png;base64,...",
            type="url_parsing",
        )
    mime = match["mime"].lower()
    if mime == "image/jpg":
        mime = "image/jpeg"
    if mime not in IMAGE_MIME_TYPES:
        return Problem(name, f"image type {mime} is not supported", url, "image/jpeg, image/png, image/webp")
    if not match["b64"]:
        return Problem(name, "data URI must be base64-encoded", url, "data:image/png;base64,...")
    payload = url[match.end() :]
    size = len(payload) * 3 // 4 - payload[-2:].count("=")
    if size > MAX_IMAGE_BYTES:
        return Problem(
            name,
            f"image is {size / 1e6:.1f} MB; the limit is {MAX_IMAGE_BYTES / 1024 / 1024:.0f} MB",
            f"<data URI, {size} bytes>",
            "images up to 30 MB",
            type="file_too_large",
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return Problem(name, "data URI is not valid base64", f"<data URI, {len(url)} chars>", None)
    if size == 0:
        return Problem(name, "data URI holds no image bytes", url, "a non-empty image")
    return data_image_problem(name, data)  # its header: the format and ByteDance's size rules


set_public_module(__name__)
