"""Where a video is served from (:class:`Sources`) and the player for one video."""

from __future__ import annotations

import base64
import io
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._names import set_public_module
from .._text import plural
from ._rows import _is_url
from ._text import esc, is_loopback_url, is_missing, safe_url, shorten

logger = logging.getLogger("seedance_nb.display")  # the name users configured before the split


#: Embedding more than this many bytes of media in one output warns (Colab caps outputs near 10 MB).
EMBED_WARN_BYTES = 10 * 1024 * 1024
_VIDEO_MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4"}
_IMAGE_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def embed_warn_bytes() -> int:
    """The threshold in force: :data:`EMBED_WARN_BYTES` as the package holds it (``seedance_nb.markup``), where
    users (and tests) set it."""
    package = sys.modules.get(__package__ or "")
    return int(getattr(package, "EMBED_WARN_BYTES", EMBED_WARN_BYTES))


class LargeOutputWarning(UserWarning):
    """Embedded media made an output larger than :data:`EMBED_WARN_BYTES`."""


# --------------------------------------------------------------------------- sources


#: Videos never shrink below this width (px) to fit; past it the grid scrolls inside its own box.
MIN_VIDEO_PX = 160
#: The same floor for :func:`compare`, whose videos are meant to be looked at closely.
MIN_COMPARE_PX = 240
_POSTER_THUMB_PX = 480


def thumbnail_data_uri(path: str | os.PathLike[str], px: int = _POSTER_THUMB_PX) -> str | None:
    """A JPEG thumbnail (at most ``px`` on its longer side) of an image file as a ``data:`` URI, or None."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            img = opened.convert("RGB")
            img.thumbnail((px, px))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=82)
    except (OSError, ValueError) as exc:
        logger.info("cannot read image %s for a thumbnail: %s", path, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_size(path: Path) -> tuple[int, int] | None:
    """An image file's (width, height) in pixels, or None when it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            size: tuple[int, int] = img.size  # annotated: Pillow's stubs give Any when mypy checks for Python 3.10
            return size
    except (OSError, ValueError):
        return None


class Sources:
    """Turns local files and URLs into ``src`` values for one output, counting what gets embedded.

    Only http(s) URLs, paths and ``data:`` URIs made here from local files ever come out (never ``javascript:``).
    ``report=True`` is for a file opened outside Jupyter: a loopback (emulator) URL is never used, posters are
    embedded as small thumbnails (they then show wherever the file is opened), and a video outside the report's
    folder is linked with a relative ``../`` path.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None,
        embed: bool,
        *,
        servable_only: bool = True,
        report: bool = False,
    ) -> None:
        self.base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
        self.embed = embed
        # Inside Jupyter a hidden folder answers 404; a report opened from disk can read it.
        self.servable_only = servable_only
        self.report = report
        self.embedded_bytes = 0
        self.file_urls: list[str] = []

    def _relative(self, path: Path) -> str | None:
        try:
            rel = path.resolve().relative_to(self.base)
        except ValueError:
            return None
        if self.servable_only and any(part.startswith(".") for part in rel.parts):
            logger.warning("%s lies in a hidden folder, which Jupyter does not serve", rel.as_posix())
            return None
        return quote(rel.as_posix(), safe="/")

    def _data_uri(self, path: Path, mime_table: Mapping[str, str], default: str) -> str:
        data = path.read_bytes()
        self.embedded_bytes += len(data)
        mime = mime_table.get(path.suffix.lower(), default)
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def video(self, path: Any, url: Any = None) -> str | None:
        local = Path(os.fspath(path)) if not is_missing(path) and str(path) else None
        if local is not None and not local.is_file():
            logger.info("video file %s is missing; falling back to its URL", local)
            local = None
        remote = safe_url(url, loopback=not self.report)
        if not is_missing(url) and remote is None and not is_loopback_url(url):
            logger.warning("not linking a video URL that is not http(s): %.60r", str(url))
        if local is not None and self.embed:
            return self._data_uri(local, _VIDEO_MIME, "video/mp4")
        if local is not None:
            rel = self._relative(local)
            if rel is not None:
                return rel
        if remote is not None:
            return remote
        if local is not None and self.report:
            return quote(Path(os.path.relpath(local.resolve(), self.base)).as_posix(), safe="/")
        if local is not None:
            self.file_urls.append(str(local))
            return local.resolve().as_uri()
        return None

    def poster(self, path: Any) -> str | None:
        if is_missing(path) or not str(path):
            return None
        text = str(path)
        if "://" in text or text.lower().startswith(("data:", "javascript:")):
            return safe_url(text, loopback=not self.report)
        local = Path(text)
        if not local.is_file():
            return None
        if self.embed:
            return self._data_uri(local, _IMAGE_MIME, "image/jpeg")
        if self.report:
            uri = thumbnail_data_uri(local)
            if uri:
                self.embedded_bytes += len(uri)
            return uri
        return self._relative(local)

    def finish(self) -> None:
        if self.file_urls:
            logger.warning(
                "%s outside %s and without a URL (first: %s); they are linked with file://, which "
                "browsers block inside Jupyter: move the run folder under the notebook folder, pass base_dir=, "
                "or pass embed=True",
                plural(len(self.file_urls), "video"),
                self.base,
                self.file_urls[0],
            )
        if self.embedded_bytes and self.embed:
            mb = self.embedded_bytes / 1e6
            logger.info("embedded %.1f MB of media as base64", mb)
            if self.embedded_bytes > embed_warn_bytes():
                warnings.warn(
                    f"embed=True wrote {mb:.1f} MB of base64 media into this output (and into the notebook); "
                    "show fewer videos, or reference them by file (embed=False)",
                    LargeOutputWarning,
                    stacklevel=3,
                )


def video_tag(
    src: str,
    *,
    poster: str | None = None,
    width: int | None = None,
    height: int | None = None,
    autoplay: bool = False,
    muted: bool = True,
    loop: bool = True,
    controls: bool = True,
    preload: str = "metadata",
) -> str:
    """The player: a box of the video's aspect ratio holding the poster as an ``<img>`` under the ``<video>``.

    JupyterLab rewrites a relative ``src`` (of the ``<img>`` and the ``<video>``) to ``/files/…`` but not a
    ``poster`` attribute, so the first frame is an image under a transparent video: it shows before anything
    plays, in JupyterLab, Notebook 7, VS Code and a report alike, and the video paints over it once loaded.
    """
    attrs = [f'src="{esc(src)}"', f'preload="{esc(preload)}"']
    if autoplay:
        muted = True  # browsers only autoplay muted videos
        attrs.append("autoplay")
    flags = [name for name, on in (("muted", muted), ("loop", loop), ("controls", controls)) if on]
    video = f"<video {' '.join(attrs + flags)} playsinline></video>"
    style = []
    if width and height:
        style.append(f"aspect-ratio:{int(width)} / {int(height)}")
    if width:
        style.append(f"max-width:{int(width)}px")
    img = f'<img class="sd-poster" src="{esc(poster)}" alt="" decoding="async">' if poster else ""
    cls = "sd-media sd-has-poster" if poster else "sd-media"
    return f'<div class="{cls}" style="{";".join(style)}">{img}{video}</div>'


# --------------------------------------------------------------------------- one video


def video_html(
    src: str | os.PathLike[str],
    *,
    poster: str | os.PathLike[str] | None = None,
    width: int | None = None,
    caption: str | None = None,
    autoplay: bool = False,
    muted: bool = True,
    loop: bool = True,
    controls: bool = True,
    preload: str = "metadata",
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """One ``<video>`` (in a ``<figure>`` when there is a caption). ``src`` is a path or a URL.

    A path under ``base_dir`` (default: the working directory) becomes a
    relative link; ``embed=True`` inlines it. ``autoplay`` implies ``muted``.
    """
    sources = Sources(base_dir, embed)
    text = os.fspath(src)
    if _is_url(text) or ":" in text.split("/", 1)[0] and not Path(text).exists():
        resolved = safe_url(text)
        if resolved is None:
            raise ValueError(f"only http(s) URLs and local files can be shown, got {shorten(text, 60)!r}")
    else:
        resolved = sources.video(text)
    if resolved is None:
        raise FileNotFoundError(f"no video at {text!r}")
    dims = image_size(Path(os.fspath(poster))) if poster is not None and Path(os.fspath(poster)).is_file() else None
    tag = video_tag(
        resolved,
        poster=sources.poster(poster),
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
        autoplay=autoplay,
        muted=muted,
        loop=loop,
        controls=controls,
        preload=preload,
    )
    sources.finish()
    box = f' style="max-width:{int(width)}px"' if width else ""
    if caption is None:
        return f'<div class="sd-fig"{box}>{tag}</div>'
    return f'<figure class="sd-fig"{box}>{tag}<figcaption>{esc(caption)}</figcaption></figure>'


set_public_module(__name__)
