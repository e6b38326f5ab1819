"""Measuring one take: :class:`VideoMetrics`, its flags and the streamed pass over frames and sound."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import io
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from .._names import set_public_module
from .._text import reason
from ..adherence import MISMATCH, CameraTracker, asked_camera_move, camera_adherence
from ..columns import METRIC_COLUMNS
from ..errors import InputError, Problem

logger = logging.getLogger("seedance_nb.quality")

#: Analysis frames: this many pixels of luma whatever the clip's size (128x72 at 16:9, 96x96 at 1:1).
ANALYSIS_AREA = 128 * 72
#: Fidelity frames (SSIM against the input images): 256x144 at 16:9.
FIDELITY_AREA = 256 * 144
#: ``motion`` compares frames this far apart (seconds): "a few fps".
MOTION_STEP_SECONDS = 1 / 6
#: freezedetect's noise tolerance: -60 dB of full range.
FREEZE_NOISE = 0.001
#: A take is frozen when at least this share of its frame steps are static.
FROZEN_SHARE = 0.8
#: blackdetect's thresholds, and a flat frame's luma spread.
BLACK_PIXEL = 0.10
BLACK_RATIO = 0.98
BLANK_STD = 0.01
#: AdaptiveDetector's defaults (content change in 0..255 luma units here).
CUT_MIN_CONTENT = 15.0
CUT_ADAPTIVE = 3.0
CUT_WINDOW = 2
CUT_MIN_SCENE_SECONDS = 0.5
#: silencedetect's noise floor, and the window it is measured on.
SILENCE_DBFS = -60.0
SILENCE_WINDOW_SECONDS = 0.1
#: BS.1770's absolute gate: quieter programmes report this floor.
LOUDNESS_FLOOR = -70.0

#: The flags a take can carry, in display order, with what raises each one.
FLAGS: dict[str, str] = {
    "frozen": "nearly nothing moves for most of the clip",
    "black": "at least 10% of the frames are black or blank",
    "cut": "at least one hard cut",
    "silent": "the audio track is silent for at least 90% of its length",
    "short": "at least 0.5 s shorter than requested",
    "ignored camera move": "the prompt asks for a camera move the take does not make",
}
_BLACK_FLAG = 0.10
_SILENT_FLAG = 0.90
_SHORT_FLAG = -0.5


@dataclass(frozen=True)
class VideoMetrics:
    """Cheap signals about one take. ``None`` means "not measurable here" (no audio, no image given, ...).

    Every image measure works on luma (brightness) scaled to a fixed area, so clips of any size and ratio compare.
    """

    #: Mean absolute luma difference (0..1) between frames 1/6 s apart, averaged over the clip. 0 is a still
    #: image; a slow push-in is ~0.01-0.03, a whip pan or busy action 0.05-0.15. Neither end is "good": sort by
    #: it to find the takes that actually move (or the calm ones).
    motion: float
    #: True when at least 80% of consecutive frame pairs differ by less than FFmpeg freezedetect's -60 dB
    #: noise tolerance: a take that (nearly) did not move. Good: False.
    frozen: bool
    #: Share of frames (0..1) that are black (blackdetect: 98% of pixels under 10% luma) or blank (one flat
    #: colour). Good: 0.
    black_fraction: float
    #: SSIM (-1..1, Wang et al. 2004; 0.8 of luma's + 0.1 of each chroma channel's) of the first frame to the
    #: input image after fal's centre crop and resize to the clip's aspect ratio. A faithful start is > 0.9 (0.96
    #: on the emulator's clips); a different picture < 0.5. None without an image.
    start_fidelity: float | None
    #: The same SSIM for the last frame and ``end_image`` (after the same crop). Good: > 0.9. None without one.
    end_fidelity: float | None
    #: Mean absolute second difference of each frame's mean luma (0..1): brightness pumping from frame to
    #: frame. Steady fades and camera moves stay near 0 (< 0.002); visible flicker is > 0.01. Good: low.
    flicker: float
    #: Hard scene cuts (PySceneDetect's adaptive rule on luma; transitions into or out of black are not
    #: counted, black_fraction has them). Image-to-video takes are one shot: good is 0.
    cuts: int
    #: Integrated loudness in LUFS (ITU-R BS.1770-4, pyloudnorm), -70 (silence) .. 0. Speech and music
    #: mixes sit near -14 to -23. None without an audio track.
    loudness_db: float | None
    #: Share (0..1) of 100 ms windows under -60 dBFS (silencedetect's floor). Good: low. None without audio.
    silent_fraction: float | None
    #: The file has an audio stream.
    has_audio: bool
    #: Actual minus requested seconds. A d-second clip has 24*d+1 frames (MODEL.md), so the clip's length is
    #: counted as (frames - 1) / fps. Good: 0; negative is shorter than paid for. None when nothing was requested
    #: (``duration="auto"``).
    duration_error: float | None
    #: The clip's length in seconds, (frames - 1) / fps.
    seconds: float
    #: Decoded video frames.
    frames: int
    #: The camera's move, measured from optical flow (:data:`seedance_nb.adherence.CAMERA_CLASSES`: "static",
    #: "pan left", "push in", "orbit right", "handheld", ...). None in metrics journalled before it existed.
    camera_move: str | None = None
    #: The share of the evidence (0..1) for ``camera_move`` (:class:`~seedance_nb.adherence.CameraMotion`).
    camera_confidence: float | None = None
    #: How fast the camera moves, in frame widths per second (its travel plus the zoom's at the frame's edge).
    camera_speed: float | None = None
    #: The move the prompt asks for (:func:`~seedance_nb.adherence.asked_camera_move`); None: it asks for none.
    camera_asked: str | None = None
    #: "match", "mismatch" or "no move asked": whether ``camera_move`` is what the prompt asked. Good: match.
    camera_adherence: str | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        """The defects this take shows, from :data:`FLAGS`: frozen, black, cut, silent, short."""
        out = []
        if self.frozen:
            out.append("frozen")
        if self.black_fraction >= _BLACK_FLAG:
            out.append("black")
        if self.cuts >= 1:
            out.append("cut")
        if self.silent_fraction is not None and self.silent_fraction >= _SILENT_FLAG:
            out.append("silent")
        if self.duration_error is not None and self.duration_error <= _SHORT_FLAG:
            out.append("short")
        if self.camera_adherence == MISMATCH:
            out.append("ignored camera move")
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        """The journal's form: every field, plus ``flags`` as one comma-separated string (a DataFrame column)."""
        out = asdict(self)
        out["flags"] = ", ".join(self.flags)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VideoMetrics:
        """Read :meth:`to_json`'s output back (unknown keys are ignored).

        Args:
            data: the measures by field name.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# The DataFrame columns metrics add (seedance_nb.columns.METRIC_COLUMNS) are one per field, and flags.
if METRIC_COLUMNS != (*(f.name for f in fields(VideoMetrics) if f.name != "has_audio"), "flags"):
    raise AssertionError("columns.METRIC_COLUMNS must list the VideoMetrics fields but has_audio, then flags")

#: Which way is better when ranking (True: higher first). ``duration_error`` ranks by closeness to 0.
HIGHER_IS_BETTER: dict[str, bool] = {
    "motion": True,
    "start_fidelity": True,
    "end_fidelity": True,
    "loudness_db": True,
    "rating": True,
    "seconds": True,
    "black_fraction": False,
    "flicker": False,
    "cuts": False,
    "silent_fraction": False,
    "duration_error": False,  # by its size: closest to 0 first
    "frozen": False,
    "camera_confidence": True,
    "camera_speed": True,
    "camera_adherence": True,  # match, then no move asked, then mismatch
    "queue_seconds": False,
    "generation_seconds": False,
    "est_cost_usd": False,
}


# --------------------------------------------------------------------------- inputs


def _fail(field: str, message: str, value: Any, allowed: str) -> InputError:
    return InputError([Problem(field, message, value, allowed)], context="cannot measure the video")


def _video_path(video: Any, field: str = "video") -> Path:
    """A path from a path, a generate() Result, a DataFrame row or a mapping with ``path``."""
    value = video
    if not isinstance(value, str | os.PathLike):
        path_attr = getattr(value, "path", None)
        if path_attr is None and isinstance(value, Mapping):
            path_attr = value.get("path")
        elif path_attr is None and hasattr(value, "get"):
            path_attr = value.get("path")
        value = path_attr
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise _fail(field, "no video file", None, "a path to an MP4, a generate() result or a sweep.df row")
    path = Path(os.fspath(value)).expanduser()
    if not path.is_file():
        raise _fail(
            field, "file not found", str(video if isinstance(video, str | os.PathLike) else path), "a path to an MP4"
        )
    return path


def _open_image(value: Any, field: str) -> Any:
    """A PIL RGB image from a path, bytes, PIL image, numpy array or data URI (None stays None)."""
    if value is None:
        return None
    from PIL import Image, UnidentifiedImageError

    if isinstance(value, Image.Image):
        return value if value.mode == "RGB" else value.convert("RGB")  # only read here: no copy needed
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        try:
            return Image.fromarray(value).convert("RGB")
        except (TypeError, ValueError) as exc:
            raise _fail(
                field, f"cannot make an image of an array {value.shape}: {reason(exc)}", None, "HxWx3 uint8"
            ) from exc
    decode: Callable[[], Any]
    if isinstance(value, bytes | bytearray | memoryview):
        decode = functools.partial(_decode, io.BytesIO(bytes(value)))
    elif isinstance(value, str) and value.startswith("data:"):
        try:
            data = base64.b64decode(value.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error) as exc:
            raise _fail(field, "not a base64 data URI", value[:40], "data:image/png;base64,...") from exc
        decode = functools.partial(_decode, io.BytesIO(data))
    elif isinstance(value, str | os.PathLike):
        if str(value).startswith(("http://", "https://")):
            raise _fail(field, "URLs are not fetched for metrics", str(value), "a local path, bytes or a PIL image")
        path = Path(os.fspath(value)).expanduser()
        if not path.is_file():
            raise _fail(field, "file not found", str(value), "a path to a JPEG, PNG or WebP file")
        stat = path.stat()
        # a sweep's clips share a few input images: each file is decoded once, not once per clip
        decode = functools.partial(_image_file, str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    else:
        raise _fail(field, f"cannot read a {type(value).__name__} as an image", None, "a path, bytes or a PIL image")
    try:
        return decode()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _fail(field, f"could not read the image ({reason(exc)})", None, "a JPEG, PNG or WebP image") from exc


def _decode(source: Any) -> Any:
    """The RGB image in ``source`` (a path or a file object), turned as its EXIF orientation says."""
    from PIL import Image, ImageOps

    with Image.open(source) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


@functools.lru_cache(maxsize=4)
def _image_file(path: str, mtime_ns: int, size: int) -> Any:
    """The RGB image in the file at ``path`` as it was at (``mtime_ns``, ``size``): shared, only ever read."""
    return _decode(path)


def _requested(value: Any) -> float | None:
    if value is None or value == "auto":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise _fail("requested_seconds", "not a number of seconds", value, "4 .. 15, or None") from exc
    if not math.isfinite(seconds) or seconds <= 0:
        raise _fail("requested_seconds", "must be a positive number of seconds", value, "4 .. 15, or None")
    return seconds


def _size_for(width: int, height: int, area: int) -> tuple[int, int]:
    """An even-sided size of about ``area`` pixels with the clip's aspect ratio."""
    ratio = width / height
    w = max(2, 2 * round(math.sqrt(area * ratio) / 2))
    h = max(2, 2 * round(math.sqrt(area / ratio) / 2))
    return w, h


def fal_crop(image: Any, width: int, height: int) -> Any:
    """fal's first-frame rule: centre-crop ``image`` to ``width``:``height`` (MODEL.md), then resize to it."""
    from PIL import Image

    src_w, src_h = image.size
    target = width / height
    if src_w / src_h > target:
        crop_w, crop_h = src_h * target, src_h
    else:
        crop_w, crop_h = src_w, src_w / target
    left, top = (src_w - crop_w) / 2, (src_h - crop_h) / 2
    return image.resize((width, height), Image.Resampling.BOX, box=(left, top, left + crop_w, top + crop_h))


# --------------------------------------------------------------------------- measuring


def metrics(
    video: Any,
    *,
    image: Any = None,
    end_image: Any = None,
    requested_seconds: float | int | str | None = None,
    prompt: str | None = None,
) -> VideoMetrics:
    """Measure one take (see :class:`VideoMetrics`).

    Args:
        video: a path, a ``generate()`` result or a df row.
        image: the start image (path, bytes, PIL image, array or data URI): gives ``start_fidelity``.
        end_image: the end image, in the same forms: gives ``end_fidelity``.
        requested_seconds: the duration asked for (e.g. the job's ``duration``): gives ``duration_error``.
        prompt: the prompt: gives ``camera_asked`` and ``camera_adherence`` (the move is measured anyway).
    """
    path = _video_path(video)
    first = _open_image(image, "image")
    last = _open_image(end_image, "end_image")
    if prompt is not None and not isinstance(prompt, str):
        raise _fail("prompt", f"not text but a {type(prompt).__name__}", None, "the prompt's text, or None")
    return _measure(path, first, last, _requested(requested_seconds), prompt)


@contextlib.contextmanager
def _video_stream(path: Path) -> Iterator[tuple[Any, Any]]:
    """The open container of ``path`` and its first video stream (decoded on one thread), closed after; a file
    that is not a video, or has no video stream, is an :class:`InputError` naming ``video``."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise _fail("video", f"{path.name} is not a readable video ({reason(exc)})", str(path), "an MP4") from exc
    with container:
        if not container.streams.video:
            raise _fail("video", f"{path.name} has no video stream", str(path), "an MP4 with a video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        yield container, stream


class _Frames:
    """What one pass keeps of the analysis frames: the last ``step`` of them, a number or two per frame, and the
    motion sums (so memory stays flat in the clip's length)."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.recent: list[Any] = []  # the last `step` analysis frames (float32, 0..1)
        self.means: list[float] = []
        self.dark: list[bool] = []
        self.diffs: list[float] = []  # consecutive frames, 0..1
        self.motion_sum, self.motion_n, self.static = 0.0, 0, 0
        self.frames = 0
        #: The frames that start a new shot (set by :meth:`result`): the camera's move is not read across them.
        self.cut_at: list[int] = []

    def add(self, luma: Any) -> None:
        """Take one analysis frame (8-bit luma)."""
        import numpy as np

        cur = luma.astype(np.float32) * (1 / 255)
        self.means.append(float(cur.mean()))
        black = float((cur < BLACK_PIXEL).mean()) >= BLACK_RATIO
        self.dark.append(black or float(cur.std()) < BLANK_STD)
        if self.recent:
            self.diffs.append(float(np.abs(cur - self.recent[-1]).mean()))
        if len(self.recent) >= self.step:
            moved = float(np.abs(cur - self.recent[-self.step]).mean())
            self.motion_sum += moved
            self.motion_n += 1
            self.static += moved < FREEZE_NOISE
            self.recent.pop(0)
        self.recent.append(cur)
        self.frames += 1

    def result(
        self, rate: float, start: float | None, end: float | None, audio: Any, requested: float | None
    ) -> VideoMetrics:
        """The measures, with the fidelities, the sound's ``(loudness, silent share)`` and the requested length."""
        motion_sum, motion_n, static, diffs = self.motion_sum, self.motion_n, self.static, self.diffs
        if motion_n == 0 and diffs:  # clips shorter than one motion step
            motion_sum, motion_n, static = sum(diffs), len(diffs), sum(d < FREEZE_NOISE for d in diffs)
        cut_at = _cuts([d * 255 for d in diffs], self.dark, max(1, round(CUT_MIN_SCENE_SECONDS * rate)))
        self.cut_at = cut_at
        seconds = round((self.frames - 1) / rate, 3) if self.frames > 1 else 0.0
        loudness, silent = audio if audio is not None else (None, None)
        return VideoMetrics(
            motion=round(motion_sum / motion_n, 5) if motion_n else 0.0,
            frozen=motion_n > 0 and static >= FROZEN_SHARE * motion_n,
            black_fraction=round(sum(self.dark) / self.frames, 4),
            start_fidelity=start,
            end_fidelity=end,
            flicker=round(_flicker(self.means, self.dark, cut_at), 5),
            cuts=len(cut_at),
            loudness_db=loudness,
            silent_fraction=silent,
            has_audio=audio is not None,
            duration_error=round(seconds - requested, 3) if requested is not None else None,
            seconds=seconds,
            frames=self.frames,
        )


def _measure(
    path: Path, image: Any, end_image: Any, requested: float | None, prompt: str | None = None
) -> VideoMetrics:
    import av
    from av.video.reformatter import VideoReformatter

    with _video_stream(path) as (container, stream):
        stream.thread_type = "SLICE"
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        aw, ah = _size_for(stream.codec_context.width, stream.codec_context.height, ANALYSIS_AREA)
        kept = _Frames(step=max(1, round(rate * MOTION_STEP_SECONDS)))
        camera = CameraTracker(rate)
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        sound = _Sound(audio_stream) if audio_stream is not None else None
        first_frame = last_frame = None
        scaler = VideoReformatter()  # one scaler for the pass: libswscale's context is set up once, not per frame
        # One pass over the file: video and audio packets in the order they are stored.
        for packet in container.demux(*(s for s in (stream, audio_stream) if s is not None)):
            if sound is not None and packet.stream is audio_stream:
                sound.feed(packet)
                continue
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame):  # the only other stream demuxed is the audio above
                    continue
                if first_frame is None:
                    first_frame = frame
                last_frame = frame
                luma = scaler.reformat(
                    frame, width=aw, height=ah, format="gray", interpolation="AREA", threads=1
                ).to_ndarray()
                kept.add(luma)
                camera.add(luma)
        if first_frame is None:
            raise _fail("video", f"{path.name} has no decodable frames", str(path), "an MP4 with frames")
        start = _fidelity(first_frame, image)
        end = _fidelity(last_frame, end_image)
        first_frame = last_frame = None
        audio = sound.result() if sound is not None else None
    measured = kept.result(rate, start, end, audio, requested)  # finds the hard cuts (kept.cut_at)
    moved = camera.result(cuts=kept.cut_at)  # a pair of frames across a hard cut is no camera move
    asked = asked_camera_move(prompt)
    return replace(
        measured,
        camera_move=moved.move,
        camera_confidence=moved.confidence[moved.move],
        camera_speed=moved.speed,
        camera_asked=asked,
        camera_adherence=camera_adherence(asked, moved.move),
    )


#: BT.601 RGB -> Y, Cb, Cr (rows), and the weights of Wang, Lu & Bovik's video SSIM for the three channels.
_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_YCBCR_WEIGHTS = (0.8, 0.1, 0.1)


def _fidelity(frame: Any, image: Any) -> float | None:
    """SSIM of a decoded frame and an input image after fal's crop, at the fidelity size: 0.8 of the luma's SSIM
    plus 0.1 of each chroma channel's (Wang, Lu & Bovik 2004, video SSIM), so a colour shift costs too."""
    if image is None:
        return None
    import numpy as np

    w, h = _size_for(frame.width, frame.height, FIDELITY_AREA)
    got = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA", threads=1).to_ndarray()
    want = np.asarray(fal_crop(image, w, h))
    matrix = np.asarray(_YCBCR, np.float32).T / 255
    per_channel = ssim_channels(got.astype(np.float32) @ matrix, want.astype(np.float32) @ matrix)
    return round(float(sum(weight * s for weight, s in zip(_YCBCR_WEIGHTS, per_channel, strict=True))), 4)


#: SSIM's Gaussian window: sigma 1.5, cut at 3.5 sigma (11 x 11), as scikit-image's ``gaussian_weights=True``.
_SSIM_SIGMA, _SSIM_RADIUS = 1.5, 5


def ssim_channels(a: Any, b: Any) -> list[float]:
    """The mean SSIM of each channel of two H x W x C float32 images in 0..1 (Wang et al. 2004, Gaussian window,
    population covariance): scikit-image's ``structural_similarity(..., data_range=1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)`` to within 1e-5 (tests/test_metrics.py checks it), with the five
    window sums made by OpenCV's separable filter on all channels at once (3x faster at 256x144, where SSIM was
    the largest share of measuring a short clip)."""
    import cv2
    import numpy as np

    kernel = cv2.getGaussianKernel(2 * _SSIM_RADIUS + 1, _SSIM_SIGMA, cv2.CV_32F)

    def window(x: Any) -> Any:  # scikit-image filters with mode="reflect" (d c b a | a b c d): BORDER_REFLECT
        out: Any = cv2.sepFilter2D(x, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)
        return out.reshape(x.shape)

    a, b = np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32)
    mu_a, mu_b = window(a), window(b)
    var_a, var_b, cov = window(a * a) - mu_a * mu_a, window(b * b) - mu_b * mu_b, window(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    inner = ssim[_SSIM_RADIUS:-_SSIM_RADIUS, _SSIM_RADIUS:-_SSIM_RADIUS].astype(np.float64)
    return [float(value) for value in inner.reshape(-1, inner.shape[-1] if inner.ndim == 3 else 1).mean(axis=0)]


def _flicker(means: Sequence[float], dark: Sequence[bool], cut_at: Sequence[int]) -> float:
    """Mean |m[t] - (m[t-1] + m[t+1]) / 2| over frames whose neighbours are neither black nor across a cut."""
    cuts = set(cut_at)
    terms = [
        abs(means[i] - (means[i - 1] + means[i + 1]) / 2)
        for i in range(1, len(means) - 1)
        if not (dark[i - 1] or dark[i] or dark[i + 1] or i in cuts or i + 1 in cuts)
    ]
    return sum(terms) / len(terms) if terms else 0.0


def _cuts(scores: Sequence[float], dark: Sequence[bool], min_gap: int) -> list[int]:
    """The frames that start a new shot, by PySceneDetect's AdaptiveDetector rule over consecutive-frame
    content scores (``scores[i]`` compares frame i+1 with frame i, in 0..255 luma units)."""
    found: list[int] = []
    for i, score in enumerate(scores):
        if dark[i] or dark[i + 1] or score < CUT_MIN_CONTENT:
            continue
        lo, hi = max(0, i - CUT_WINDOW), min(len(scores), i + CUT_WINDOW + 1)
        around = [scores[j] for j in range(lo, hi) if j != i]
        average = sum(around) / len(around) if around else 0.0
        if (average == 0 or score / average >= CUT_ADAPTIVE) and (not found or i + 1 - found[-1] >= min_gap):
            found.append(i + 1)
    return found


class _Sound:
    """The audio track, streamed: decoded packet by packet to mono, K-weighted with the filter state carried
    across packets, and reduced to two numbers per 100 ms (raw and K-weighted energy), so memory does not grow
    with the clip. BS.1770's 400 ms gating blocks with 75% overlap are four consecutive 100 ms steps."""

    def __init__(self, stream: Any) -> None:
        import av
        import numpy as np
        from pyloudnorm.iirfilter import IIRfilter

        self.rate = stream.codec_context.sample_rate or 48_000
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        # BS.1770's K-weighting as pyloudnorm designs it for any sample rate: a high shelf, then a high pass.
        self.stages = [
            (f.b, f.a, f.passband_gain, np.zeros(max(len(f.a), len(f.b)) - 1))
            for f in (
                IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, self.rate, "high_shelf"),
                IIRfilter(0.0, 0.5, 38.0, self.rate, "high_pass"),
            )
        ]
        self.step = max(1, round(self.rate * SILENCE_WINDOW_SECONDS))
        self.raw: list[float] = []  # sum of squares per 100 ms step
        self.weighted: list[float] = []
        self.cur_raw = self.cur_weighted = 0.0
        self.filled = 0
        self.broken = False

    def feed(self, packet: Any) -> None:
        import av

        if self.broken:
            return
        try:
            for frame in packet.decode():
                for out in self.resampler.resample(frame):
                    self.add(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            logger.info("could not decode the audio track: %s", exc)
            self.broken = True

    def add(self, samples: Any) -> None:
        import numpy as np
        from scipy.signal import lfilter

        raw = np.asarray(samples, np.float64)
        weighted = raw
        for i, (b, a, gain, state) in enumerate(self.stages):
            weighted, state = lfilter(b, a, weighted, zi=state)
            weighted = weighted * gain
            self.stages[i] = (b, a, gain, state)
        start = 0
        while start < len(raw):
            take = min(self.step - self.filled, len(raw) - start)
            r, w = raw[start : start + take], weighted[start : start + take]
            self.cur_raw += float(np.dot(r, r))
            self.cur_weighted += float(np.dot(w, w))
            self.filled += take
            start += take
            if self.filled == self.step:
                self.raw.append(self.cur_raw)
                self.weighted.append(self.cur_weighted)
                self.cur_raw = self.cur_weighted = 0.0
                self.filled = 0

    def result(self) -> tuple[float, float] | None:
        """(integrated loudness in LUFS, silent share), or None when the track could not be decoded."""
        if self.broken:
            return None
        for out in self.resampler.resample(None):
            self.add(out.to_ndarray().reshape(-1))
        full = len(self.raw)
        samples = full * self.step + self.filled
        steps = [*self.weighted, self.cur_weighted] if self.filled else list(self.weighted)
        floor = (10 ** (SILENCE_DBFS / 20)) ** 2 * self.step
        silent = sum(e < floor for e in self.raw) / full if full else 1.0
        return _gated_loudness(steps, samples, self.step, self.rate), round(silent, 4)


def _gated_loudness(steps: Sequence[float], samples: int, step: int, rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness of a mono signal from its K-weighted energy per 100 ms step: 400 ms
    blocks every 100 ms (eq. 1-4), the -70 LUFS absolute gate (eq. 5), the -10 LU relative gate (eq. 6-7);
    block count and edges as pyloudnorm's ``Meter.integrated_loudness``."""
    seconds = samples / rate
    if seconds < 0.4:
        return LOUDNESS_FLOOR
    count = int(round((seconds - 0.4) / 0.1)) + 1
    energy = [sum(steps[j : j + 4]) / (4 * step) for j in range(count)]

    def lufs(z: float) -> float:
        return -0.691 + 10 * math.log10(z) if z > 0 else -math.inf

    above = [z for z in energy if lufs(z) >= LOUDNESS_FLOOR]
    if not above:
        return LOUDNESS_FLOOR
    relative = lufs(sum(above) / len(above)) - 10.0
    gated = [z for z in above if lufs(z) >= relative]
    value = lufs(sum(gated) / len(gated)) if gated else -math.inf
    return round(max(LOUDNESS_FLOOR, value), 2) if math.isfinite(value) else LOUDNESS_FLOOR


# --------------------------------------------------------------------------- sweeps


def _job_image(run_dir: Path, job: Any, name: str) -> Any:
    """The job's input image ``name`` (image_url / end_image_url): the run folder's copy, else its data URI."""
    digest = (getattr(job, "images", None) or {}).get(name)
    if digest:
        for candidate in sorted((run_dir / "inputs").glob(f"{digest}.*")):
            return candidate
    value = getattr(job.input, name, None)
    if isinstance(value, str) and value.startswith("data:"):
        return value
    return None  # an http(s) URL: not fetched for metrics (start/end fidelity stay None)


def job_measure_args(sweep: Any, job: Any, path: str | os.PathLike[str] | None = None) -> tuple[Any, ...]:
    """What measuring ``job``'s video needs, as plain picklable values for :func:`measure_file` (which may run in
    another process): the video's path, its input images (a path in the run folder or a data URI, or None) and
    the requested seconds."""
    run_dir = Path(sweep.run_dir)
    video = Path(path) if path is not None else run_dir / job.path
    if not video.is_absolute() and not video.exists():
        video = run_dir / video
    prompt = getattr(job.input, "prompt", None)
    images = _job_image(run_dir, job, "image_url"), _job_image(run_dir, job, "end_image_url")
    return (video, *images, job.input.duration, prompt)


def measure_file(video: Any, image: Any, end_image: Any, requested: Any, prompt: str | None = None) -> VideoMetrics:
    """Measure one video (blocking; a module-level function, so a worker process can run it: the arguments of
    :func:`job_measure_args`; ``prompt`` is what the camera's move is checked against)."""
    return _measure(
        _video_path(video),
        _open_image(image, "image"),
        _open_image(end_image, "end_image"),
        _requested(requested),
        prompt,
    )


def measure_job(sweep: Any, job: Any, path: str | os.PathLike[str] | None = None) -> VideoMetrics:
    """Measure one job's video against its own inputs and prompt (blocking: call it in a worker thread)."""
    return measure_file(*job_measure_args(sweep, job, path))


async def measure_download(sweep: Any, job: Any, path: str | os.PathLike[str]) -> None:
    """Measure a just-downloaded video in a worker thread and journal the result; never fails the job.

    The event loop only appends one journal line (flushed, not fsynced); decoding and arithmetic run in the
    thread, and the GIL they hold between C calls stalled an otherwise idle loop by under 20 ms while 720p clips
    were measured (17.9 ms at most; tests/benchmarks/RESULTS.md). During a run the runner does not call this: the
    :class:`~seedance_nb.quality.MetricsHooks` hook queues each download to its worker process instead.
    """
    try:
        measured = await asyncio.to_thread(measure_job, sweep, job, path)
    except Exception as exc:  # a metric must never cost a paid video
        logger.warning("could not measure job %s (%s): %s", getattr(job, "job", "?"), Path(path).name, exc)
        return
    sweep.record_metrics(job, measured)  # the sweep owns its journal


def _direction(by: str, ascending: bool | None) -> bool:
    if ascending is not None:
        return ascending
    return not HIGHER_IS_BETTER.get(by, True)


def _check_metric(df: Any, by: str, field: str = "by") -> None:
    if by not in df.columns:
        known = ", ".join(c for c in (*METRIC_COLUMNS, "rating") if c in df.columns and c != "flags")
        raise InputError([Problem(field, f"no column {by!r}", by, known)], context="cannot rank or plot the takes")


set_public_module(__name__)
