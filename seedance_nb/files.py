"""Image inputs: a path, bytes, a PIL image, a numpy array or a URL becomes an ``image_url``.

Everything is checked before anything is sent: JPEG, PNG or WebP (other
readable images are converted to PNG), at most 30 MB, each side 300..6000 px,
width / height between 0.4 and 2.5::

    img = load_image("cat.png")                 # ImageData(mime='image/png', width=1024, ...)
    url = await to_image_url(img, client)       # a data URI when small, else uploaded to fal storage
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from PIL import Image, UnidentifiedImageError

from ._text import reason
from .errors import InputError, Problem
from .schema import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE
from .validation import image_size_problems

if TYPE_CHECKING:
    from .client import AsyncClient

__all__ = ["DATA_URI_LIMIT", "ImageData", "is_url", "load_image", "to_image_url"]

logger = logging.getLogger("seedance_nb.files")

#: Images up to this size go inline as data URIs; larger ones are uploaded (fal's body limit is 64 MB).
DATA_URI_LIMIT = 4 * 1024 * 1024
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: What an image input may be, as every "not an image" error says it.
_FORMATS = "a JPEG, PNG or WebP image (other formats Pillow reads, such as GIF, BMP or TIFF, are converted to PNG)"


@dataclass(frozen=True)
class ImageData:
    """Checked image bytes, ready to send."""

    data: bytes
    mime: str
    width: int
    height: int
    name: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def data_uri(self) -> str:
        """``data:<mime>;base64,...``, encoded once per image and kept: every grid and job built from this
        image shares the one string (a form rebuilt on each keystroke neither re-encodes nor re-checks it)."""
        uri = self.__dict__.get("_data_uri")
        if uri is None:
            uri = f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"
            object.__setattr__(self, "_data_uri", uri)  # a cache, not a field: equality and repr ignore it
        return uri

    def __repr__(self) -> str:
        size = f"{self.width}x{self.height}"
        return f"ImageData(name={self.name!r}, mime={self.mime!r}, size={size}, bytes={len(self.data)})"


def is_url(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("http://", "https://", "data:"))


def _fail(field: str, message: str, value: Any = None, allowed: str | None = None) -> InputError:
    return InputError([Problem(field, message, value, allowed)], context=f"bad {field}")


_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(;[\w-]+=[\w.-]+)*;base64,", re.I)


def load_image(image: Any, *, field: str = "image_url") -> ImageData:
    """Read and check an image from a path, bytes, a PIL image, a numpy array or a data URI.

    Every failure is an :class:`~seedance_nb.errors.InputError` naming ``field`` (never another exception).

    Args:
        image: a path (``str`` or :class:`~pathlib.Path`), ``bytes``, a PIL image, an HxW or HxWx3 ``uint8``
            numpy array, a ``data:image/...;base64,`` URI, or an :class:`ImageData` (returned as it is).
        field: the input field the image is for, named in every error (``image_url`` or ``end_image_url``).

    Returns:
        The image's bytes with its MIME type and size; formats other than JPEG, PNG and WebP become PNG.
    """
    if isinstance(image, ImageData):
        return image
    if isinstance(image, str) and image.startswith("data:"):
        return _from_data_uri(image, field)
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        raise _fail(field, "is a URL; it is sent as it is, not read here", image[:80], "a local image")
    if isinstance(image, str | Path):
        data, name = _read_path(image, field)
        return _from_bytes(data, name, field)
    if isinstance(image, bytes | bytearray | memoryview):
        return _from_bytes(bytes(image), "image", field)
    if isinstance(image, Image.Image):
        return _from_pil(image, field, "image")
    if type(image).__module__ == "numpy" and hasattr(image, "shape"):
        return _from_array(image, field)
    raise _fail(
        field,
        f"unsupported image type {type(image).__name__}",
        None,
        "a path, bytes, a PIL image, a numpy array or an http(s) URL",
    )


def _read_path(image: str | Path, field: str) -> tuple[bytes, str]:
    """The bytes and file name of an image file, checked to exist and to fit the size limit before reading."""
    text = str(image)
    if not text.strip() or "\x00" in text or not _encodable(text):
        raise _fail(field, "is not a file path", text[:80], "a path to a JPEG, PNG or WebP file, or a URL")
    try:
        path = Path(image).expanduser()
        exists = path.is_file()
        size = path.stat().st_size if exists else 0
    except (OSError, ValueError) as exc:  # a name too long, a bad path on this OS
        raise _fail(
            field, f"is not a usable file path ({type(exc).__name__})", text[:80], "a path to an image, or a URL"
        ) from exc
    if not exists:
        raise _fail(field, "file not found", text[:200], "a path to a JPEG, PNG or WebP file, or a URL")
    if size > MAX_IMAGE_BYTES:
        raise _fail(field, f"{path.name} is {size / 1e6:.1f} MB; the limit is 30 MB", None, "images up to 30 MB")
    try:
        return path.read_bytes(), path.name
    except OSError as exc:
        raise _fail(field, f"could not be read ({exc.strerror or exc})", text[:200], "a readable image file") from exc


def _from_array(image: Any, field: str) -> ImageData:
    shape = tuple(getattr(image, "shape", ()))
    if len(shape) not in (2, 3) or 0 in shape:
        raise _fail(field, f"an array of shape {shape} is not an image", None, "an HxWx3 or HxW uint8 array")
    try:
        pil = Image.fromarray(image)
    except (TypeError, ValueError, KeyError) as exc:
        raise _fail(
            field,
            f"cannot make an image of an array {image.shape} {image.dtype}: {reason(exc)}",
            None,
            "an HxWx3 or HxW uint8 array",
        ) from exc
    return _from_pil(pil, field, "array")


def _from_bytes(data: bytes, name: str, field: str) -> ImageData:
    """Encoded image bytes, checked: not empty, within the limits, decodable (dimensions checked before decoding)."""
    if not data:
        raise _fail(field, f"{name} is empty", None, "a JPEG, PNG or WebP image")
    if len(data) > MAX_IMAGE_BYTES:
        raise _fail(field, f"{name} is {len(data) / 1e6:.1f} MB; the limit is 30 MB", None, "images up to 30 MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
            _check_dimensions(pil.width, pil.height, field, name)  # before decoding a huge one
            pil.load()
    except InputError:  # the size check's own message, not wrapped in "not a readable image"
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _fail(
            field,
            f"{name} is far too large to be an input image ({reason(exc)})",
            None,
            f"sides up to {MAX_IMAGE_SIDE} px",
        ) from exc
    except UnidentifiedImageError as exc:
        raise _fail(
            field, f"{name} is not a readable image (not in any image format Pillow reads)", None, _FORMATS
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise _fail(field, f"{name} is not a readable image ({reason(exc)})", None, _FORMATS) from exc
    if pil.format not in _MIME:
        logger.info("%s is %s; converting it to PNG", name, pil.format)
        return _from_pil(pil, field, name)
    _check_dimensions(pil.width, pil.height, field, name)
    return ImageData(data, _MIME[pil.format], pil.width, pil.height, name)


def _from_data_uri(uri: str, field: str) -> ImageData:
    """A data URI, decoded and checked like a file (so the model never refuses it after it was sent)."""
    match = _DATA_URI.match(uri)
    if not match:
        raise _fail(field, "is not a base64 data URI", uri[:60], "data:image/png;base64,...")
    try:
        data = base64.b64decode(uri[match.end() :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(field, "data URI is not valid base64", f"<data URI, {len(uri)} chars>", None) from exc
    return load_image(data, field=field)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _from_pil(pil: Image.Image, field: str, name: str) -> ImageData:
    _check_dimensions(pil.width, pil.height, field, name)
    if pil.mode not in ("RGB", "RGBA", "L"):
        pil = pil.convert("RGBA" if "A" in pil.mode or "transparency" in pil.info else "RGB")
    buf = io.BytesIO()
    pil.save(buf, "PNG", optimize=False)
    data = buf.getvalue()
    if len(data) > MAX_IMAGE_BYTES:
        buf = io.BytesIO()
        pil.convert("RGB").save(buf, "JPEG", quality=92)
        return ImageData(buf.getvalue(), "image/jpeg", pil.width, pil.height, name)
    return ImageData(data, "image/png", pil.width, pil.height, name)


def _check_dimensions(width: int, height: int, field: str, name: str) -> None:
    """ByteDance's size rules (:func:`seedance_nb.validation.image_size_problems`), the field named as written."""
    problems = image_size_problems(field, width, height, name)
    if problems:
        raise InputError(problems, context=f"bad {field}")


async def to_image_url(image: Any, client: AsyncClient | None = None, *, field: str = "image_url") -> str:
    """An ``image_url`` for ``image``: URLs pass through; small images inline; large ones uploaded."""
    if is_url(image):
        return image
    img = load_image(image, field=field)
    if len(img.data) <= DATA_URI_LIMIT or client is None:
        if len(img.data) > DATA_URI_LIMIT:
            logger.warning(
                "%s is %d bytes; inlining it because no client was given to upload it", img.name, len(img.data)
            )
        return img.data_uri()
    return await client.upload(img.data, img.mime, img.name)
