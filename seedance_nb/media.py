"""Videos on disk: streamed atomic downloads, probes and poster frames (PyAV).

::

    path = await download(http, output.video.url, run_dir / "videos" / "a.mp4", expected_size=output.video.file_size)
    info = probe(path)          # VideoInfo(width=864, height=496, fps=24.0, duration=5.04, has_audio=True, ...)
    poster(path, run_dir / "posters" / "a.jpg")

A download goes to ``<dest>.part``, is fsynced, checked against the promised
size, and only then renamed: a half-written file is never taken for a video.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import httpx

from ._names import set_public_module
from ._text import reason
from .errors import DownloadError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DownloadStalled", "VideoInfo", "download", "PosterError", "poster", "probe", "probe_with_poster"]

logger = logging.getLogger("seedance_nb.media")

#: Refuse downloads larger than this (a video of 15 s at 720p is a few MB).
MAX_DOWNLOAD_BYTES = 2 * 1024**3
#: A download may run this far past the ``file_size`` fal promised before it is stopped (it is refused anyway
#: unless it ends at exactly that size; the margin only keeps the message about the size, not the stop).
SIZE_MARGIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class VideoInfo:
    """What a probe of a video file found (:func:`probe`).

    Attributes:
        width: pixels.
        height: pixels.
        fps: frames per second.
        duration: seconds.
        frames: frames in the video stream.
        has_audio: whether there is an audio stream.
        video_codec: the video codec's name (``"h264"``).
        audio_codec: the audio codec's name, or None without audio.
        size_bytes: the file's size.
    """

    width: int
    height: int
    fps: float
    duration: float
    frames: int
    has_audio: bool
    video_codec: str
    audio_codec: str | None
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        """The fields as a plain dict (as the journal stores them)."""
        return asdict(self)


async def download(
    http: httpx.AsyncClient,
    url: str,
    dest: str | Path,
    *,
    expected_size: int | None = None,
    attempts: int = 3,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    stall_seconds: float = 60.0,
    min_bytes: int = 64 * 1024,
) -> Path:
    """Stream ``url`` to ``dest`` atomically; retries dropped connections from the start.

    A download that receives less than ``min_bytes`` in any ``stall_seconds`` (a trickle, or silence)
    raises :class:`DownloadStalled` at once rather than waiting on. The bytes written (after any
    ``Content-Encoding`` is decoded) are held, as they arrive, to the lower of ``max_bytes`` and
    ``expected_size`` (plus :data:`SIZE_MARGIN_BYTES`): a compressed body that would expand past the size
    fal promised is stopped there and its partial file removed. No API key is ever sent: ``http``
    carries none, and this is not one of fal's API hosts.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise DownloadError(f"refusing to download {str(url)[:80]!r}: only http(s) URLs are downloaded")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            await _download_once(http, url, part, expected_size, max_bytes, stall_seconds, min_bytes)
            os.replace(part, dest)
            return dest
        except (httpx.TransportError, DownloadError) as exc:
            last = exc
            part.unlink(missing_ok=True)
            if isinstance(exc, DownloadStalled) or (
                isinstance(exc, DownloadError) and not exc.args[0].startswith("incomplete")
            ):
                raise
            logger.debug("download of %s failed (%s), attempt %d", url, exc, attempt)
            await asyncio.sleep(0.2 * attempt)
    raise DownloadError(f"could not download {url} after {attempts} attempts: {last}") from last


class DownloadStalled(DownloadError):
    """A download made (almost) no progress for ``stall_seconds``: the video is still on fal."""


async def _download_once(
    http: httpx.AsyncClient,
    url: str,
    part: Path,
    expected_size: int | None,
    max_bytes: int,
    stall_seconds: float,
    min_bytes: int,
) -> None:
    timeout = httpx.Timeout(60.0, connect=30.0, read=stall_seconds)
    async with http.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code != 200:
            await response.aread()
            raise DownloadError(f"download of {url} answered {response.status_code}: {response.text[:200]!r}")
        length = response.headers.get("content-length")
        promised = int(length) if length and length.isdigit() else None
        # With a Content-Encoding, Content-Length counts the encoded bytes: it bounds the wire, not the file.
        encoded = response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")
        limit, what = _size_limit(expected_size, max_bytes)
        if promised is not None and not encoded and promised > limit:
            raise DownloadError(f"download of {url} is {promised} bytes, over {what}")
        written = 0
        loop = asyncio.get_running_loop()
        window_start, window_bytes = loop.time(), 0
        with part.open("wb") as fh:
            try:
                async for chunk in response.aiter_bytes():  # as it arrives (a chunk size would buffer)
                    written += len(chunk)
                    window_bytes += len(chunk)
                    if written > limit:  # decoded bytes, counted before they reach the disk
                        raise DownloadError(f"download of {url} went past {what}; stopped at {written} bytes")
                    fh.write(chunk)
                    if loop.time() - window_start >= stall_seconds:
                        if window_bytes < min_bytes and _on_wire(response, written, encoded) != promised:
                            raise DownloadStalled(
                                f"download of {url} stalled: {window_bytes} bytes in the last {stall_seconds:.0f} s"
                            )
                        window_start, window_bytes = loop.time(), 0
            except httpx.ReadTimeout as exc:
                raise DownloadStalled(f"download of {url} stalled: nothing received for {stall_seconds:.0f} s") from exc
            fh.flush()
            os.fsync(fh.fileno())
    if promised is not None and _on_wire(response, written, encoded) != promised:
        raise DownloadError(f"incomplete download of {url}: {_on_wire(response, written, encoded)} of {promised} bytes")
    if expected_size is not None and written != expected_size:
        raise DownloadError(f"download of {url} has {written} bytes but fal said file_size={expected_size}")


def _on_wire(response: httpx.Response, written: int, encoded: bool) -> int:
    """The body's bytes as sent (what Content-Length counts): the encoded bytes when a Content-Encoding was
    decoded, else the bytes written."""
    return response.num_bytes_downloaded if encoded else written


def _size_limit(expected_size: int | None, max_bytes: int) -> tuple[int, str]:
    """The most bytes a download may write, and how to name that bound in a message."""
    if expected_size is not None and expected_size + SIZE_MARGIN_BYTES < max_bytes:
        return expected_size + SIZE_MARGIN_BYTES, f"the {expected_size} bytes fal promised (file_size)"
    return max_bytes, f"the {max_bytes}-byte limit"


def probe(path: str | Path) -> VideoInfo:
    """Width, height, fps, duration, frame count and audio of an MP4 (raises DownloadError if unreadable)."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            return _info(container, path)
    except av.error.FFmpegError as exc:
        raise DownloadError(f"{path.name} is not a readable video ({reason(exc)})") from exc


def probe_with_poster(path: str | Path, dest: str | Path, *, max_width: int = 480) -> VideoInfo:
    """:func:`probe` and :func:`poster` with the file opened once (what the runner does with each download).

    Raises :class:`~seedance_nb.errors.DownloadError` when the file is not a readable video, and its subclass
    :class:`PosterError` when it is one but its first frame could not be drawn."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            info = _info(container, path)
            image = _first_frame(container, path)
    except av.error.FFmpegError as exc:
        raise DownloadError(f"{path.name} is not a readable video ({reason(exc)})") from exc
    _save_poster(image, Path(dest), max_width)
    return info


def _info(container: Any, path: Path) -> VideoInfo:
    if not container.streams.video:
        raise DownloadError(f"{path.name} has no video stream")
    video = container.streams.video[0]
    rate = video.average_rate or video.guessed_rate or Fraction(0)
    frames = video.frames or 0
    duration = float(container.duration / av.time_base) if container.duration else 0.0
    audio = container.streams.audio[0] if container.streams.audio else None
    return VideoInfo(
        width=video.codec_context.width,
        height=video.codec_context.height,
        fps=round(float(rate), 3),
        duration=round(duration, 3),
        frames=frames,
        has_audio=audio is not None,
        video_codec=video.codec_context.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
        size_bytes=path.stat().st_size,
    )


class PosterError(DownloadError):
    """A video that probes but whose first frame could not be drawn (the video itself is kept)."""


def _first_frame(container: Any, path: Path) -> Image.Image:
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # one frame: the decoder's thread pool would cost more than it
        frame = next(container.decode(stream))
        # libswscale on this thread: its default starts a thread pool per conversion (two threads a poster)
        image: Image.Image = frame.reformat(format="rgb24", threads=1).to_image()
        return image
    except (av.error.FFmpegError, StopIteration, IndexError) as exc:
        raise PosterError(f"could not read a frame of {path.name} ({reason(exc)})") from exc


def _save_poster(image: Image.Image, dest: Path, max_width: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    tmp = dest.with_name(dest.name + ".part")
    image.save(tmp, "JPEG", quality=82)
    os.replace(tmp, dest)


def poster(path: str | Path, dest: str | Path, *, max_width: int = 480) -> Path:
    """Write the first frame of a video as a JPEG (at most ``max_width`` wide)."""
    dest = Path(dest)
    try:
        with av.open(str(path)) as container:
            image = _first_frame(container, Path(path))
    except av.error.FFmpegError as exc:
        raise PosterError(f"could not read a frame of {Path(path).name} ({reason(exc)})") from exc
    _save_poster(image, dest, max_width)
    return dest


set_public_module(__name__)
