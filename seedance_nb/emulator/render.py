"""The emulator's renderer: a real H.264/AAC MP4 from the input image, with PyAV and Pillow.

The clip has the model's true size (MODEL.md's table), 24 fps and 24*d+1
frames; the camera moves (a zoom and a drift chosen from the seed and the
prompt), cross-fades to ``end_image_url`` when one is given, and carries a soft
mono tone when audio is asked for. The same input and seed give the same bytes::

    img = load_image_bytes(png_bytes)
    render_mp4(img, path, width=864, height=496, seconds=4, seed=1, prompt="push in", audio=True)
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import Problem
from ..schema import (
    FPS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_RATIO,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_RATIO,
    MIN_IMAGE_SIDE,
    MIN_SECONDS,
    frame_count,
)

__all__ = ["RenderSpec", "auto_duration", "check_image", "render_mp4"]

AUDIO_RATE = 24_000
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def auto_duration(prompt: str) -> int:
    """The length ``duration="auto"`` picks: 4..15 s, fixed for a given prompt."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return MIN_SECONDS + digest[0] % 12


def check_image(data: bytes, field: str) -> tuple[Image.Image | None, Problem | None]:
    """Open and check an input image as fal does; returns the image or the 422 problem."""
    if len(data) > MAX_IMAGE_BYTES:
        return None, Problem(field, f"image is {len(data) / 1e6:.1f} MB; the limit is 30 MB", type="file_too_large")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return None, Problem(field, f"could not read the image: {exc}", type="image_load_error")
    if img.format not in _FORMATS:
        return None, Problem(
            field, f"unsupported image format {img.format}", allowed="JPEG, PNG, WebP", type="image_load_error"
        )
    width, height = img.size
    if min(width, height) < MIN_IMAGE_SIDE:
        return None, Problem(
            field, f"image is {width}x{height}; each side must be at least 300 px", type="image_too_small"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        return None, Problem(
            field, f"image is {width}x{height}; each side must be at most 6000 px", type="image_too_large"
        )
    ratio = width / height
    if not MIN_IMAGE_RATIO <= ratio <= MAX_IMAGE_RATIO:
        return None, Problem(
            field, f"image ratio {ratio:.2f} is outside 0.4..2.5 (width / height)", type="image_aspect_ratio_error"
        )
    img = ImageOps.exif_transpose(img).convert("RGB")
    return img, None


def _cover(img: Image.Image, width: int, height: int, scale: float = 1.0) -> Image.Image:
    """Centre-crop ``img`` to the target ratio and resize so it covers ``scale`` x the frame."""
    src_w, src_h = img.size
    target = width / height
    if src_w / src_h > target:
        crop_w, crop_h = round(src_h * target), src_h
    else:
        crop_w, crop_h = src_w, round(src_w / target)
    left, top = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    cropped = img.crop((left, top, left + crop_w, top + crop_h))
    return cropped.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)


@dataclass(frozen=True)
class RenderSpec:
    width: int
    height: int
    seconds: int
    seed: int
    prompt: str
    audio: bool


def _motion(seed: int, prompt: str) -> tuple[float, float, float]:
    """(zoom, dx, dy): a deterministic camera move from the seed and prompt."""
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    zoom = 0.06 + digest[0] / 255 * 0.12
    angle = digest[1] / 255 * 2 * math.pi
    return zoom, math.cos(angle), math.sin(angle)


def _frames(first: Image.Image, last: Image.Image | None, spec: RenderSpec):
    zoom, dx, dy = _motion(spec.seed, spec.prompt)
    margin = 1.0 + zoom
    big_first = np.asarray(_cover(first, spec.width, spec.height, margin))
    big_last = np.asarray(_cover(last, spec.width, spec.height, margin)) if last is not None else None
    big_h, big_w = big_first.shape[:2]
    n = frame_count(spec.seconds)
    for i in range(n):
        t = i / (n - 1)
        ease = t * t * (3 - 2 * t)
        # Zoom in from the full margin to the frame size while drifting.
        scale = margin - zoom * ease
        crop_w, crop_h = spec.width * scale / margin * margin, spec.height * scale / margin * margin
        crop_w, crop_h = min(big_w, round(crop_w)), min(big_h, round(crop_h))
        cx = (big_w - crop_w) / 2 + dx * (big_w - crop_w) / 2 * (ease - 0.5)
        cy = (big_h - crop_h) / 2 + dy * (big_h - crop_h) / 2 * (ease - 0.5)
        left, top = int(round(cx)), int(round(cy))
        left = max(0, min(big_w - crop_w, left))
        top = max(0, min(big_h - crop_h, top))
        window = big_first[top : top + crop_h, left : left + crop_w]
        if big_last is not None and t > 0.5:
            alpha = (t - 0.5) * 2
            other = big_last[top : top + crop_h, left : left + crop_w]
            window = (window * (1 - alpha) + other * alpha).astype(np.uint8)
        frame = Image.fromarray(np.ascontiguousarray(window)).resize(
            (spec.width, spec.height), Image.Resampling.BILINEAR
        )
        yield frame


def _tone(spec: RenderSpec) -> np.ndarray:
    """A soft two-note tone with fades, mono float32, exactly the video's length."""
    samples = round((frame_count(spec.seconds)) / FPS * AUDIO_RATE)
    t = np.arange(samples, dtype=np.float64) / AUDIO_RATE
    base = 220.0 * 2 ** ((spec.seed % 12) / 12)
    wave = 0.12 * np.sin(2 * np.pi * base * t) + 0.06 * np.sin(2 * np.pi * base * 1.5 * t)
    fade = np.minimum(1.0, np.minimum(t / 0.25, (t[-1] - t) / 0.25 + 1e-9))
    return (wave * fade).astype(np.float32)


def render_mp4(
    first: Image.Image,
    path: Path,
    *,
    width: int,
    height: int,
    seconds: int,
    seed: int,
    prompt: str,
    audio: bool,
    last: Image.Image | None = None,
    tiny: bool = False,
) -> int:
    """Write the clip to ``path`` (moov atom first) and return its size in bytes."""
    spec = RenderSpec(width, height, seconds, seed, prompt, audio)
    if tiny:
        spec = RenderSpec(64, 36, 1, seed, prompt, False)
        first = first.resize((64, 36))
        last = None
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        container.metadata.clear() if hasattr(container.metadata, "clear") else None
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = spec.width, spec.height
        video.pix_fmt = "yuv420p"
        # Fixed options and one thread: identical input gives identical bytes.
        video.options = {"preset": "ultrafast", "crf": "26", "threads": "1"}
        video.codec_context.thread_count = 1
        astream = None
        if spec.audio:
            astream = container.add_stream("aac", rate=AUDIO_RATE)
            astream.layout = "mono"
            astream.codec_context.thread_count = 1
        for index, image in enumerate(_frames(first, last, spec)):
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if astream is not None:
            pcm = _tone(spec)
            chunk = 1024
            for start in range(0, len(pcm), chunk):
                block = pcm[start : start + chunk]
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp", layout="mono")
                frame.sample_rate = AUDIO_RATE
                frame.pts = start
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path.stat().st_size
