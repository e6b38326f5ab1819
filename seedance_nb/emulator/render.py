"""The emulator's renderer: a real H.264/AAC MP4 from the input image, with PyAV and Pillow.

The clip has the model's true size (MODEL.md's table), 24 fps and 24*d+1
frames, and content worth measuring (seedance_nb.quality):

- the first frame is the input image after fal's centre crop for the aspect ratio;
- the camera does what the prompt names (:data:`CAMERA_MOVES`: push in, pull out, pan and tilt
  left/right/up/down, orbit left/right, handheld shake, static), the ground truth of
  :func:`seedance_nb.camera_motion`'s classes; with none named, the seed picks a move; pans and pull-outs reveal a
  mirrored border around the image;
- seed-dependent details: a few soft discs drift across the picture (fading in after the first frame), so
  takes differ by seed and a static camera still shows something moving;
- with ``end_image_url`` the picture cross-fades over the last 40% and the last frame is the end image after
  the same crop;
- a soft mono tone (pitch from the seed) when audio is asked for;
- defects on request for ground truth (:data:`DEFECTS`; ``EmulatorConfig.defects`` or a phrase in the
  prompt): ``frozen`` (every frame the first), ``black`` ("black frames": 35-75% of the clip black),
  ``cut`` ("hard cut": one cut at the middle to another shot), ``silent`` (a silent audio track),
  ``short`` ("short clip": one second shorter than requested).

The same input and seed give the same bytes::

    img = load_image_bytes(png_bytes)
    render_mp4(img, path, width=864, height=496, seconds=4, seed=1, prompt="push in", audio=True)
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._text import reason
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

__all__ = [
    "CAMERA_MOVES",
    "DEFECTS",
    "RenderSpec",
    "auto_duration",
    "camera_move",
    "check_image",
    "defects_in",
    "render_mp4",
]

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
        img: Image.Image = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return None, Problem(field, f"could not read the image ({reason(exc)})", type="image_load_error")
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
    """Centre-crop ``img`` to the target ratio and resize so it covers ``scale`` x the frame (fal's crop)."""
    src_w, src_h = img.size
    target = width / height
    if src_w / src_h > target:
        crop_w, crop_h = round(src_h * target), src_h
    else:
        crop_w, crop_h = src_w, round(src_w / target)
    left, top = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    cropped = img.crop((left, top, left + crop_w, top + crop_h))
    return cropped.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)


#: Defects a test can ask for (``EmulatorConfig.defects`` or a phrase in the prompt), for ground truth.
DEFECTS: dict[str, tuple[str, ...]] = {
    "frozen": ("frozen",),  # every frame is the first
    "black": ("black frames",),  # frames from 35% to 75% of the clip are black
    "cut": ("hard cut",),  # one hard cut at the middle to another shot (mirrored, other colours)
    "silent": ("silent",),  # the audio track is digital silence
    "short": ("short clip", "cut short"),  # one second shorter than requested
}

#: Camera moves named in the prompt (first match wins); none named: the seed picks one of the moving ones.
CAMERA_MOVES: dict[str, tuple[str, ...]] = {
    "static": ("static", "locked-off", "locked off", "still camera", "tripod"),
    "handheld": ("handheld", "hand-held", "shaky", "camera shake"),
    "push": ("push in", "push-in", "zoom in", "dolly in"),
    "pull": ("pull out", "pull back", "zoom out", "dolly out"),
    "orbit": ("orbit", "arc shot", "circles around"),
    "pan": ("pan",),
    "tilt": ("tilt",),
}
_MOVING = ("push", "pull", "orbit", "pan", "tilt")
#: Mirrored border around the image (per side, as a share of the frame) that pans and pull-outs reveal.
_PAD = 0.3


def defects_in(prompt: str, configured: tuple[str, ...] | list[str] = ()) -> frozenset[str]:
    """The defects asked for by the emulator's config and by phrases in the prompt."""
    text = prompt.lower()
    found = {name for name, words in DEFECTS.items() if any(w in text for w in words)}
    return frozenset(found | set(configured))


def camera_move(prompt: str, seed: int) -> tuple[str, float, float]:
    """(move, amount, direction): the camera move named in the prompt (or picked by the seed)."""
    text = prompt.lower()
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    move = next((name for name, words in CAMERA_MOVES.items() if any(w in text for w in words)), None)
    if move is None:
        move = _MOVING[digest[0] % len(_MOVING)]
    amount = 0.18 + digest[1] / 255 * 0.12
    if "left" in text or " up" in text:
        direction = -1.0
    elif "right" in text or "down" in text:
        direction = 1.0
    else:
        direction = -1.0 if digest[2] % 2 else 1.0
    return move, amount, direction


@dataclass(frozen=True)
class RenderSpec:
    width: int
    height: int
    seconds: int
    seed: int
    prompt: str
    audio: bool
    defects: frozenset[str] = frozenset()


def _window(
    move: str, amount: float, direction: float, ease: float, width: int, height: int
) -> tuple[float, float, float, float]:
    """The camera's view of the padded canvas at ``ease`` (0..1) as a PIL box; at 0 it is exactly the image."""
    scale, cx, cy = 1.0, 0.0, 0.0  # window size (1 = the image) and centre offset, in frame units
    if move == "push":  # towards a point a little off centre (which side: the direction)
        scale = 1 - amount * ease
        cx, cy = direction * amount * 0.4 * ease, -amount * 0.25 * ease
    elif move == "pull":
        scale = 1 + amount * 1.5 * ease
    elif move == "pan":
        cx = direction * amount * ease
    elif move == "tilt":
        cy = direction * amount * ease
    elif move == "orbit":
        angle = 2 * math.pi * 0.75 * ease
        cx = direction * amount * math.sin(angle)
        cy = amount * 0.4 * (1 - math.cos(angle))
        scale = 1 - 0.08 * math.sin(math.pi * ease)
    return _box(scale, cx, cy, width, height)


def _pads(width: int, height: int) -> tuple[int, int]:
    """The mirrored border's whole pixels per side (x, y): :func:`_canvas` and :func:`_window` share them."""
    return round(_PAD * width), round(_PAD * height)


def _box(scale: float, cx: float, cy: float, width: int, height: int) -> tuple[float, float, float, float]:
    """A window ``scale`` frames wide, centred ``(cx, cy)`` frames off the image's centre, as a PIL box on the
    canvas :func:`_canvas` builds for a ``width`` x ``height`` frame, kept inside that canvas.

    The canvas is measured in its own whole pixels (the image plus :func:`_pads`' rounded border on each side),
    not in ``1 + 2 * _PAD`` frames: a border rounded down would leave a window at the far edge past the canvas,
    which PIL refuses ("box can't exceed original image size"). The window is shrunk to the canvas if it would
    not fit, pushed back inside it, and its far edges clamped, so that float rounding cannot cross them either.
    """
    pad_x, pad_y = _pads(width, height)
    canvas_w, canvas_h = width + 2 * pad_x, height + 2 * pad_y
    win_w, win_h = min(scale * width, canvas_w), min(scale * height, canvas_h)
    left = min(max(0.0, pad_x + (0.5 + cx) * width - win_w / 2), canvas_w - win_w)
    top = min(max(0.0, pad_y + (0.5 + cy) * height - win_h / 2), canvas_h - win_h)
    return left, top, min(float(canvas_w), left + win_w), min(float(canvas_h), top + win_h)


class _Motes:
    """Seed-dependent details: a few soft discs drifting across the picture, faded in after the first frame."""

    def __init__(self, seed: int, width: int, height: int) -> None:
        rng = np.random.default_rng(seed)
        count = 3 + seed % 4
        side = min(width, height)
        self.items = []
        for _ in range(count):
            radius = max(2, int(side * rng.uniform(0.05, 0.09)))
            yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
            mask = np.clip(1.6 * (1 - np.sqrt(xx * xx + yy * yy) / radius), 0, 1)[..., None].astype(np.float32)
            start = rng.uniform((0.1, 0.1), (0.9, 0.9))
            velocity = rng.uniform(0.25, 0.6, size=2) * rng.choice((-1, 1), size=2)
            colour = rng.integers(40, 255, size=3).astype(np.float32)
            self.items.append((radius, mask, start, velocity, colour))
        self.width, self.height = width, height

    def draw(self, frame: np.ndarray, t: float, strength: float) -> None:
        if strength <= 0:
            return
        for radius, mask, start, velocity, colour in self.items:
            x = int((start[0] + velocity[0] * t) % 1.0 * self.width)
            y = int((start[1] + velocity[1] * t) % 1.0 * self.height)
            x0, y0 = max(0, x - radius), max(0, y - radius)
            x1, y1 = min(self.width, x + radius + 1), min(self.height, y + radius + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            alpha = mask[y0 - y + radius : y1 - y + radius, x0 - x + radius : x1 - x + radius] * strength
            region = frame[y0:y1, x0:x1]
            region[:] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)


def _canvas(image: Image.Image, width: int, height: int) -> Image.Image:
    """The image after fal's crop, with a mirrored border of ``_PAD`` frames per side for the camera to reveal."""
    pad_x, pad_y = _pads(width, height)
    core = np.asarray(_cover(image, width, height))
    return Image.fromarray(np.pad(core, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect"))


def _view(
    spec: RenderSpec, camera: tuple[str, float, float], t: float
) -> tuple[bool, tuple[float, float, float, float]]:
    """Frame ``t``'s (0..1) view: whether it shows the other shot (the "cut" defect's second half), and its box
    on that shot's canvas (both canvases have :func:`_canvas`'s size)."""
    ease = t * t * (3 - 2 * t)
    cut = "cut" in spec.defects and t >= 0.5
    if cut:
        ease = 0.3 + 0.5 * ease
    if camera[0] == "handheld":
        return cut, _shake(camera[1], spec.seed, t * spec.seconds, spec.width, spec.height)
    return cut, _window(*camera, ease, spec.width, spec.height)


def _shake(amount: float, seed: int, seconds: float, width: int, height: int) -> tuple[float, float, float, float]:
    """A handheld camera at ``seconds``: the view jitters a couple of percent of the frame around the image, at
    1-4 Hz (phases from the seed), and breathes in and out a little."""
    phases = hashlib.sha256(f"shake:{seed}".encode()).digest()
    wobble = [2 * math.pi * (phases[i] / 255) for i in range(6)]
    size = amount * 0.08 * min(1.0, seconds / 0.3)  # from the first frame, the shake grows in over 0.3 s

    def wave(hz: float, phase: float) -> float:
        return math.sin(2 * math.pi * hz * seconds + phase) - math.sin(phase)

    cx = size * (wave(1.3, wobble[0]) + 0.8 * wave(2.9, wobble[1]))
    cy = size * (wave(1.7, wobble[2]) + 0.8 * wave(3.7, wobble[3]))
    scale = 1 - size * (0.5 + 0.3 * math.sin(2 * math.pi * 0.9 * seconds + wobble[4]))
    return _box(scale, cx, cy, width, height)


def _frames(first: Image.Image, last: Image.Image | None, spec: RenderSpec, every: int = 1) -> Iterator[np.ndarray]:
    """The clip's frames as RGB arrays: frame 0 is the input after fal's crop, the last is the end image's.

    ``every`` > 1 yields only every so many frames (0, every, 2 * every, ...): tests of the camera's move
    read only those, and skip the drawing of the others."""
    width, height, defects = spec.width, spec.height, spec.defects
    n = frame_count(spec.seconds)
    start = np.asarray(_cover(first, width, height))
    if "frozen" in defects:
        for _ in range(0, n, every):
            yield start
        return
    camera = camera_move(spec.prompt, spec.seed)
    canvas = _canvas(first, width, height)
    other = None
    if "cut" in defects:  # the other shot: mirrored, colours rotated, framed closer
        r, g, b = canvas.split()
        other = Image.merge("RGB", (b, r, g)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    end = _cover(last, width, height) if last is not None else None
    motes = _Motes(spec.seed, width, height)
    size = (width, height)
    for i in range(0, n, every):
        t = i / (n - 1) if n > 1 else 1.0
        if "black" in defects and 0.35 <= t < 0.75:
            yield np.zeros((height, width, 3), np.uint8)
            continue
        if i == 0:
            yield start
            continue
        cut, box = _view(spec, camera, t)
        source = other if cut and other is not None else canvas
        picture = source.resize(size, Image.Resampling.BILINEAR, box=box)
        fade_in = min(1.0, t / 0.15)
        if end is not None and t > 0.6:
            alpha = (t - 0.6) / 0.4
            picture = Image.blend(picture, end, alpha)
            fade_in *= 1 - alpha
        frame = np.array(picture)
        motes.draw(frame, t, fade_in)
        yield frame


def _tone(spec: RenderSpec) -> np.ndarray:
    """A soft two-note tone with fades, mono float32, exactly the video's length (zeros when "silent")."""
    samples = round((frame_count(spec.seconds)) / FPS * AUDIO_RATE)
    if "silent" in spec.defects:
        return np.zeros(samples, np.float32)
    t = np.arange(samples, dtype=np.float64) / AUDIO_RATE
    base = 220.0 * 2 ** ((spec.seed % 12) / 12)
    wave = 0.12 * np.sin(2 * np.pi * base * t) + 0.06 * np.sin(2 * np.pi * base * 1.5 * t)
    fade = np.minimum(1.0, np.minimum(t / 0.25, (float(t[-1]) - t) / 0.25 + 1e-9))
    return (wave * fade).astype(np.float32)


#: What ``tiny=True`` renders instead of the requested clip (fast tests and benchmarks): 64x36, one second.
_TINY = (64, 36)


def _spec(
    width: int,
    height: int,
    seconds: int,
    seed: int,
    prompt: str,
    audio: bool,
    *,
    tiny: bool = False,
    defects: tuple[str, ...] | list[str] = (),
) -> RenderSpec:
    """What :func:`render_mp4` renders for these arguments (the defects asked for, "short" applied, or tiny)."""
    if tiny:
        return RenderSpec(*_TINY, 1, seed, prompt, False)
    wanted = defects_in(prompt, defects)
    if "short" in wanted:
        seconds = max(1, seconds - 1)
    return RenderSpec(width, height, seconds, seed, prompt, audio, wanted)


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
    defects: tuple[str, ...] | list[str] = (),
) -> int:
    """Write the clip to ``path`` (moov atom first) and return its size in bytes.

    ``defects`` (and phrases in the prompt, see :data:`DEFECTS`) spoil the clip on purpose.
    """
    spec = _spec(width, height, seconds, seed, prompt, audio, tiny=tiny, defects=defects)
    if tiny:
        first = first.resize((spec.width, spec.height))
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
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
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
                sound = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="fltp", layout="mono")
                sound.sample_rate = AUDIO_RATE
                sound.pts = start
                for packet in astream.encode(sound):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path.stat().st_size
