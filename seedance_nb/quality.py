"""Rank takes on the CPU: cheap per-video metrics, flags, filmstrips, contact sheets and previews that travel.

::

    m = sd.metrics("sweeps/demo/videos/000-1a2b3c4d.mp4", image="cat.png", requested_seconds=5)
    m.motion, m.frozen, m.start_fidelity, m.flags      # 0.031, False, 0.93, ()
    sweep.best(by="motion", n=3)                       # the three liveliest takes with no flag
    sweep.contact_sheet()                              # one PNG of the whole sweep, labelled by what varies
    sweep.export_previews("previews")                  # animated WebP + GIF per take and a Markdown grid

A sweep measures every video as it downloads (in a worker thread, off the event loop) and journals the result
as its own ``metrics`` event, so the numbers are DataFrame columns (``sweep.df.motion``) and survive a reload;
``run_sweep(..., metrics=False)`` turns that off. ``sweep.compute_metrics()`` fills them in for takes served from
the cache, run folders made before, or sweeps run with ``metrics=False`` (``best``/``rank`` call it for you).

What is measured (see :class:`VideoMetrics` for each field's definition, range and what "good" looks like):
one streamed pass over the decoded frames, each scaled by FFmpeg's area filter to a fixed analysis area of
128x72 = 9,216 pixels of luma whatever the clip's size or ratio (so numbers compare across 480p/720p and 16:9/9:16);
the first and last frames once more in colour at 256x144 for SSIM against the input images; and the audio track.
Memory is flat in the clip's length: frames and audio packets are decoded one at a time; what is kept is the
last few small luma arrays, a number or two per frame and two numbers per 100 ms of audio.

Libraries, and why:

- **PyAV** decodes (as everywhere in seedance-nb); its ``reformat`` runs libswscale's area scaler in C, so a
  frame costs ~0.5 ms to reduce. Decoding every frame is unavoidable with H.264 (inter frames need their
  references) and is most of the cost: a 5 s 480p clip measures in ~0.2 s of one core here
  (tests/benchmarks/RESULTS.md).
- **scikit-image** ``structural_similarity`` for start/end fidelity: the reference SSIM of Wang et al. (2004) with
  their Gaussian window (sigma 1.5, population covariance), on Y, Cb and Cr weighted 0.8/0.1/0.1 as in Wang, Lu &
  Bovik, "Video quality assessment based on structural distortion measurement" (Signal Processing: Image
  Communication 19(2), 2004); ~15 ms at 256x144.
- **pyloudnorm** for ``loudness_db``: its design of BS.1770's K-weighting filters for any sample rate (the part
  that is easy to get subtly wrong), run here with SciPy's ``lfilter`` carrying the filter state from packet to
  packet, so the track is streamed like the frames. The gating (400 ms blocks every 100 ms, the -70 LUFS
  absolute and -10 LU relative gates, ITU-R BS.1770-4 eq. 1-7) is a dozen lines over one number per 100 ms;
  a test checks it against pyloudnorm's own ``Meter.integrated_loudness`` on whole signals. pyloudnorm needs
  only SciPy, which scikit-image already brings.
- Not used: **OpenCV** (Farneback optical flow gives motion in pixels, but a 60 MB wheel for a number that the
  mean absolute frame difference ranks the same way on these clips); **PySceneDetect** (it needs OpenCV, decodes
  the video a second time, and its adaptive content detector is the few lines of ``cuts`` below).

Hand-written measures and their definitions:

- ``frozen`` follows FFmpeg's ``freezedetect`` filter (libavfilter/vf_freezedetect.c): two frames are the same
  when their mean absolute frame difference is below the noise tolerance, default -60 dB = 0.001 of full range.
- ``black_fraction`` follows FFmpeg's ``blackdetect`` (libavfilter/vf_blackdetect.c): a pixel is black below
  10 % of the luma range (``pixel_black_th=0.10``) and a frame is black when 98 % of its pixels are
  (``picture_black_ratio_th=0.98``); frames of one flat colour (luma standard deviation under 1 % of range) count
  as blank.
- ``cuts`` follows PySceneDetect's ``AdaptiveDetector`` (scenedetect/detectors/adaptive_detector.py): a frame
  starts a new shot when its content change is at least ``min_content_val`` and at least ``adaptive_threshold``
  (3.0) times the average change of the ``window_width`` (2) frames on each side, with ``min_scene_len`` between
  cuts; the content change here is the mean absolute luma difference (0..255) of the analysis frames.
- ``flicker`` is a second-difference measure of brightness: first differences mistake a steady fade or camera
  move for instability, second differences do not (the argument of the "mean scaled absolute second difference"
  temporal metric, Proc. SPIE 7744, VCIP 2010). Here it is global: the mean over frames of
  |m[t] - (m[t-1] + m[t+1]) / 2| for the frame's mean luma m in 0..1.
- ``silent_fraction`` follows FFmpeg's ``silencedetect`` (libavfilter/af_silencedetect.c): audio under -60 dBFS
  (the ``noise`` default) is silence; measured on 100 ms windows of RMS level.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import html
import io
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from . import _set_module
from .errors import InputError, Problem

__all__ = [
    "FLAGS",
    "METRIC_COLUMNS",
    "MetricsMixin",
    "VideoMetrics",
    "contact_sheet",
    "export_previews",
    "filmstrip",
    "filmstrip_html",
    "flags_html",
    "measure_download",
    "metrics",
    "metrics_section_html",
]

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


#: The DataFrame columns metrics add: one per :class:`VideoMetrics` field (``has_audio`` is already a column,
#: from the download's probe) and ``flags``.
METRIC_COLUMNS: tuple[str, ...] = (*(f.name for f in fields(VideoMetrics) if f.name != "has_audio"), "flags")

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
        return value.convert("RGB")
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        try:
            return Image.fromarray(value).convert("RGB")
        except (TypeError, ValueError) as exc:
            raise _fail(field, f"cannot make an image of an array {value.shape}: {exc}", None, "HxWx3 uint8") from exc
    data: bytes
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str) and value.startswith("data:"):
        try:
            data = base64.b64decode(value.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error) as exc:
            raise _fail(field, "not a base64 data URI", value[:40], "data:image/png;base64,...") from exc
    elif isinstance(value, str | os.PathLike):
        if str(value).startswith(("http://", "https://")):
            raise _fail(field, "URLs are not fetched for metrics", str(value), "a local path, bytes or a PIL image")
        path = Path(os.fspath(value)).expanduser()
        if not path.is_file():
            raise _fail(field, "file not found", str(value), "a path to a JPEG, PNG or WebP file")
        data = path.read_bytes()
    else:
        raise _fail(field, f"cannot read a {type(value).__name__} as an image", None, "a path, bytes or a PIL image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            from PIL import ImageOps

            return ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _fail(field, f"could not read the image: {exc}", None, "a JPEG, PNG or WebP image") from exc


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
) -> VideoMetrics:
    """Measure one take (see :class:`VideoMetrics`).

    Args:
        video: a path, a ``generate()`` result or a df row.
        image: the start image (path, bytes, PIL image, array or data URI): gives ``start_fidelity``.
        end_image: the end image, in the same forms: gives ``end_fidelity``.
        requested_seconds: the duration asked for (e.g. the job's ``duration``): gives ``duration_error``.
    """
    path = _video_path(video)
    first = _open_image(image, "image")
    last = _open_image(end_image, "end_image")
    return _measure(path, first, last, _requested(requested_seconds))


def _measure(path: Path, image: Any, end_image: Any, requested: float | None) -> VideoMetrics:
    import av
    import numpy as np

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise _fail("video", f"{path.name} is not a readable video: {exc}", str(path), "an MP4") from exc
    with container:
        if not container.streams.video:
            raise _fail("video", f"{path.name} has no video stream", str(path), "an MP4 with a video stream")
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        width, height = stream.codec_context.width, stream.codec_context.height
        aw, ah = _size_for(width, height, ANALYSIS_AREA)
        step = max(1, round(rate * MOTION_STEP_SECONDS))
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        sound = _Sound(audio_stream) if audio_stream is not None else None
        recent: list[Any] = []  # the last `step` analysis frames (float32, 0..1)
        means: list[float] = []
        dark: list[bool] = []
        diffs: list[float] = []  # consecutive frames, 0..1
        motion_sum, motion_n, static = 0.0, 0, 0
        first_frame = last_frame = None
        frames = 0
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
                luma = frame.reformat(width=aw, height=ah, format="gray", interpolation="AREA").to_ndarray()
                cur = luma.astype(np.float32) * (1 / 255)
                means.append(float(cur.mean()))
                black = float((cur < BLACK_PIXEL).mean()) >= BLACK_RATIO
                dark.append(black or float(cur.std()) < BLANK_STD)
                if recent:
                    diffs.append(float(np.abs(cur - recent[-1]).mean()))
                if len(recent) >= step:
                    moved = float(np.abs(cur - recent[-step]).mean())
                    motion_sum += moved
                    motion_n += 1
                    static += moved < FREEZE_NOISE
                    recent.pop(0)
                recent.append(cur)
                frames += 1
        if first_frame is None:
            raise _fail("video", f"{path.name} has no decodable frames", str(path), "an MP4 with frames")
        start = _fidelity(first_frame, image)
        end = _fidelity(last_frame, end_image)
        first_frame = last_frame = None
        audio = sound.result() if sound is not None else None

    if motion_n == 0 and diffs:  # clips shorter than one motion step
        motion_sum, motion_n, static = sum(diffs), len(diffs), sum(d < FREEZE_NOISE for d in diffs)
    cut_at = _cuts([d * 255 for d in diffs], dark, max(1, round(CUT_MIN_SCENE_SECONDS * rate)))
    seconds = round((frames - 1) / rate, 3) if frames > 1 else 0.0
    loudness, silent = audio if audio is not None else (None, None)
    return VideoMetrics(
        motion=round(motion_sum / motion_n, 5) if motion_n else 0.0,
        frozen=motion_n > 0 and static >= FROZEN_SHARE * motion_n,
        black_fraction=round(sum(dark) / frames, 4),
        start_fidelity=start,
        end_fidelity=end,
        flicker=round(_flicker(means, dark, cut_at), 5),
        cuts=len(cut_at),
        loudness_db=loudness,
        silent_fraction=silent,
        has_audio=audio is not None,
        duration_error=round(seconds - requested, 3) if requested is not None else None,
        seconds=seconds,
        frames=frames,
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
    from skimage.metrics import structural_similarity

    w, h = _size_for(frame.width, frame.height, FIDELITY_AREA)
    got = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    want = np.asarray(fal_crop(image, w, h))
    matrix = np.asarray(_YCBCR, np.float32).T / 255
    a, b = got.astype(np.float32) @ matrix, want.astype(np.float32) @ matrix
    score = 0.0
    for channel, weight in enumerate(_YCBCR_WEIGHTS):
        score += weight * structural_similarity(
            a[..., channel],
            b[..., channel],
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    return round(float(score), 4)


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

#: Statuses whose job has a video file to measure.
_HAS_VIDEO = frozenset({"completed", "cached"})


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


def measure_job(sweep: Any, job: Any, path: str | os.PathLike[str] | None = None) -> VideoMetrics:
    """Measure one job's video against its own inputs (blocking: call it in a worker thread)."""
    run_dir = Path(sweep.run_dir)
    video = Path(path) if path is not None else run_dir / job.path
    if not video.is_absolute() and not video.exists():
        video = run_dir / video
    image = _open_image(_job_image(run_dir, job, "image_url"), "image")
    end_image = _open_image(_job_image(run_dir, job, "end_image_url"), "end_image")
    return _measure(_video_path(video), image, end_image, _requested(job.input.duration))


async def measure_download(sweep: Any, job: Any, path: str | os.PathLike[str]) -> None:
    """Measure a just-downloaded video in a worker thread and journal the result; never fails the job.

    The event loop only appends one journal line (flushed, not fsynced); decoding and arithmetic run in the
    thread, and the GIL they hold between C calls stalled an otherwise idle loop by under 20 ms while 720p clips
    were measured (17.9 ms at most; tests/benchmarks/RESULTS.md). The runner awaits this after each download unless
    ``run_sweep(..., metrics=False)``.
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


def rank_frame(
    df: Any,
    by: str | Sequence[str] = "motion",
    *,
    ascending: bool | Sequence[bool] | None = None,
    within: str | Sequence[str] | None = None,
    flagged: bool = True,
) -> Any:
    """The takes with a video, best first by ``by`` (one column or several), with a ``rank`` column (1 = best).

    ``within`` ranks inside groups (e.g. ``within="prompt"``); ``flagged=False`` leaves out takes with flags.
    Each metric has a natural direction (:data:`HIGHER_IS_BETTER`); ``duration_error`` ranks by closeness to 0.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise InputError([Problem("by", "name at least one column", by, "motion, start_fidelity, ...")])
    for key in keys:
        _check_metric(df, key)
    if ascending is None or isinstance(ascending, bool):
        directions = [_direction(k, ascending) for k in keys]
    else:
        directions = list(ascending)
    groups = [] if within is None else ([within] if isinstance(within, str) else list(within))
    for group in groups:
        _check_metric(df, group, "within")
    out = df[df["status"].isin(_HAS_VIDEO)] if "status" in df.columns else df
    if not flagged and "flags" in out.columns:
        out = out[out["flags"].fillna("").astype(str) == ""]
    out = out.copy()
    sort_cols = []
    for key in keys:
        values = pd.to_numeric(out[key], errors="coerce")
        if key == "duration_error":
            values = values.abs()
        out[f"_sort_{key}"] = values
        sort_cols.append(f"_sort_{key}")
    out = out.sort_values(sort_cols, ascending=directions, na_position="last", kind="stable")
    if groups:
        out["rank"] = out.groupby(groups, sort=False, dropna=False).cumcount() + 1
        order = {key: i for i, key in enumerate(dict.fromkeys(map(tuple, df[groups].astype(str).values.tolist())))}
        out["_group"] = [order.get(tuple(v), 0) for v in out[groups].astype(str).values.tolist()]
        out = out.sort_values(["_group", "rank"], kind="stable").drop(columns=["_group"])
    else:
        out["rank"] = range(1, len(out) + 1)
    return out.drop(columns=sort_cols)


class MetricsMixin:
    """What a :class:`~seedance_nb.sweep.Sweep` gains from metrics: measuring, ranking, contact sheets, previews.

    Written against the sweep's public surface: ``jobs``, ``run_dir``, ``df``, ``close()`` and
    ``record_metrics()`` (which journals a measure).
    """

    def compute_metrics(self, *, force: bool = False, workers: int | None = None) -> Any:
        """Measure every downloaded video that has no metrics yet, journal the results, and return the sweep
        (so ``sweep.compute_metrics().best()`` reads well).

        Args:
            force: measure every video again.
            workers: threads measuring at once (default: 2, or 1 on a one-core machine).
        """
        sweep: Any = self
        todo = [
            job
            for job in sweep.jobs
            if job.status in _HAS_VIDEO and job.path and (force or not getattr(job, "metrics", None))
        ]
        if not todo:
            return self
        count = workers or min(2, os.cpu_count() or 1)
        with concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="seedance-metrics") as pool:
            futures = {job.job: pool.submit(measure_job, sweep, job) for job in todo}
            for job in todo:
                try:
                    sweep.record_metrics(job, futures[job.job].result())
                except (InputError, OSError) as exc:
                    logger.warning("could not measure job %s: %s", job.job, exc)
        task = getattr(sweep, "task", None)
        if task is None or task.done():
            sweep.close()
        return self

    def _measured_df(self) -> Any:
        sweep: Any = self
        if any(job.status in _HAS_VIDEO and job.path and not getattr(job, "metrics", None) for job in sweep.jobs):
            self.compute_metrics()
        return sweep.df

    def rank(
        self,
        by: str | Sequence[str] = "motion",
        *,
        ascending: bool | Sequence[bool] | None = None,
        within: str | Sequence[str] | None = None,
        flagged: bool = True,
    ) -> Any:
        """Every take with a video, best first by ``by``, with a ``rank`` column (see :func:`rank_frame`).

        Missing metrics are measured first.

        Args:
            by: a metric or column, or several (ties broken by the next).
            ascending: the direction, one for all or one per ``by`` (default: each metric's natural one,
                :data:`HIGHER_IS_BETTER`).
            within: rank inside groups, e.g. ``within="prompt"`` ranks the takes of each prompt separately.
            flagged: keep takes with flags (frozen, black, ...).
        """
        return rank_frame(self._measured_df(), by, ascending=ascending, within=within, flagged=flagged)

    def best(
        self, by: str | Sequence[str] = "motion", n: int = 1, *, ascending: bool | None = None, flagged: bool = False
    ) -> Any:
        """The ``n`` best takes by ``by`` (a DataFrame), leaving out flagged takes unless ``flagged=True``.

        Args:
            by: a metric or column, or several (see :meth:`rank`).
            n: how many takes.
            ascending: the direction (default: the metric's natural one).
            flagged: keep takes with flags.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError([Problem("n", "must be a whole number of at least 1", n, "1, 2, 3, ...")])
        return self.rank(by, ascending=ascending, flagged=flagged).head(n)

    def contact_sheet(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """One PNG of the whole sweep (see :func:`contact_sheet`); returns the PIL image, which a notebook shows.

        Args:
            path: where to write it (default ``<run_dir>/contact_sheet.png``).
            **kwargs: :func:`contact_sheet`'s options (``rows``, ``cols``, ``sort_by``, ``frames``, ...).
        """
        sweep: Any = self
        target = Path(path) if path is not None else Path(sweep.run_dir) / "contact_sheet.png"
        return contact_sheet(self._measured_df(), target, **kwargs)

    def export_previews(self, folder: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Animated WebP (and GIF) previews of every take and a Markdown grid of them (see
        :func:`export_previews`); returns the Markdown page's path.

        Args:
            folder: where to write them.
            **kwargs: :func:`export_previews`'s options (``width``, ``fps``, ``gif``, ...).
        """
        return export_previews(self._measured_df(), folder, **kwargs)


# --------------------------------------------------------------------------- frames as pictures


def _sample(path: Path, *, count: int | None = None, fps: float | None = None, width: int) -> list[Any]:
    """Decoded frames as RGB PIL images ``width`` wide: ``count`` evenly spaced (first and last included) or one
    every 1/``fps`` s. Only the picked frames are converted and kept."""
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise _fail("video", f"{path.name} is not a readable video: {exc}", str(path), "an MP4") from exc
    with container:
        if not container.streams.video:
            raise _fail("video", f"{path.name} has no video stream", str(path), "an MP4 with a video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        total = stream.frames or round(float(container.duration or 0) / av.time_base * rate) or 1
        w, h = stream.codec_context.width, stream.codec_context.height
        size = (max(2, width), max(2, round(width * h / w)))
        if count is not None:
            wanted = {round(k * (total - 1) / max(1, count - 1)) for k in range(count)}
        else:
            every = max(1.0, rate / (fps or rate))
            wanted = {round(k * every) for k in range(int(total / every) + 1)}
        picked, last = [], None
        for index, frame in enumerate(container.decode(stream)):
            last = frame
            if index in wanted:
                picked.append(frame.reformat(width=size[0], height=size[1], format="rgb24").to_image())
        # A header that over-counts frames: make sure the last frame is in an evenly spaced strip.
        if count is not None and last is not None and len(picked) < count:
            picked.append(last.reformat(width=size[0], height=size[1], format="rgb24").to_image())
    if not picked:
        raise _fail("video", f"{path.name} has no decodable frames", str(path), "an MP4 with frames")
    return picked


def filmstrip(video: Any, n: int = 6, *, height: int = 120, gap: int = 2) -> Any:
    """``n`` evenly spaced frames of a take side by side (first and last included), as a PIL image ``height`` tall.

    A notebook shows the image as it is.

    Args:
        video: a path, a ``generate()`` result or a sweep.df row.
        n: how many frames.
        height: the strip's height in pixels.
        gap: pixels between frames.
    """
    from PIL import Image

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 48:
        raise InputError([Problem("n", "must be a whole number of frames from 1 to 48", n, "1 .. 48")])
    if isinstance(height, bool) or not isinstance(height, int) or not 16 <= height <= 1080:
        raise InputError([Problem("height", "must be a whole number of pixels from 16 to 1080", height, "16 .. 1080")])
    path = _video_path(video)
    import av

    with av.open(str(path)) as probe:
        if not probe.streams.video:
            raise _fail("video", f"{path.name} has no video stream", str(path), "an MP4 with a video stream")
        cc = probe.streams.video[0].codec_context
        width = max(2, round(height * cc.width / cc.height))
    frames = _sample(path, count=n, width=width)
    strip = Image.new("RGB", (len(frames) * width + (len(frames) - 1) * gap, frames[0].height), (20, 20, 20))
    for i, frame in enumerate(frames):
        strip.paste(frame, (i * (width + gap), 0))
    return strip


def filmstrip_file(video: str | os.PathLike[str], dest: str | os.PathLike[str], n: int = 6, height: int = 72) -> Path:
    """Write (once) a take's filmstrip as a JPEG at ``dest``; an existing one newer than the video is reused."""
    video, dest = Path(video), Path(dest)
    if dest.is_file() and dest.stat().st_mtime >= video.stat().st_mtime:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    filmstrip(video, n, height=height).save(part, "JPEG", quality=80)
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------- labels


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text(value: Any, limit: int = 60) -> str:
    value = _plain(value)
    text = "—" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _axes(df: Any, rows: Any, cols: Any) -> tuple[list[str], list[str], list[str]]:
    """(row columns, column columns, other varying columns) as the notebook grid would lay the sweep out."""
    from .markup import auto_axes, varying_columns

    if rows is None and cols is None:
        rows, cols = auto_axes(df)
    row_cols = [rows] if isinstance(rows, str) else list(rows or ())
    col_cols = [cols] if isinstance(cols, str) else list(cols or ())
    for c in (*row_cols, *col_cols):
        if c not in df.columns:
            raise InputError([Problem("rows/cols", f"no column {c!r}", c, ", ".join(map(str, df.columns[:12])))])
    vary = [c for c in varying_columns(df) if c not in row_cols and c not in col_cols]
    return row_cols, col_cols, vary


def _layout(df: Any, row_cols: Sequence[str], col_cols: Sequence[str], sort_by: str | None) -> list[Any]:
    """[(row key, [record, ...])]: rows in the data's order, takes in column order (or by ``sort_by``)."""
    records = df.to_dict("records")
    rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rec in records:
        rows.setdefault(tuple(_plain(rec.get(c)) for c in row_cols), []).append(rec)
    col_order = {
        key: i for i, key in enumerate(dict.fromkeys(tuple(_plain(r.get(c)) for c in col_cols) for r in records))
    }
    out = []
    for key, members in rows.items():
        if sort_by is not None:
            members = _sorted_records(members, sort_by)
        else:
            members = sorted(members, key=lambda r: col_order[tuple(_plain(r.get(c)) for c in col_cols)])
        out.append((key, members))
    return out


def _sorted_records(records: Sequence[Mapping[str, Any]], by: str) -> list[Any]:
    """Best first by ``by`` (its natural direction); takes without a value last."""
    higher = HIGHER_IS_BETTER.get(by, True)

    def key(rec: Mapping[str, Any]) -> tuple[int, float]:
        value = _plain(rec.get(by))
        if not isinstance(value, int | float):
            return (1, 0.0)
        value = abs(value) if by == "duration_error" else float(value)
        return (0, -value if higher else value)

    return sorted(records, key=key)


def _flag_list(value: Any) -> list[str]:
    value = _plain(value)
    if value is None:
        return []
    words = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    return [w for w in FLAGS if w in set(map(str, words))]


# --------------------------------------------------------------------------- contact sheet


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the bitmap font, one size
        return ImageFont.load_default()


def _wrap(draw: Any, text: str, font: Any, width: int, lines: int) -> list[str]:
    out, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not current:
            current = trial
        else:
            out.append(current)
            current = word
        if len(out) == lines:
            break
    if current and len(out) < lines:
        out.append(current)
    if len(out) == lines and draw.textlength(out[-1], font=font) > width:
        out[-1] = out[-1][: max(1, int(len(out[-1]) * width / draw.textlength(out[-1], font=font)) - 1)] + "…"
    return out


def contact_sheet(
    df: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    sort_by: str | None = None,
    frames: int = 3,
    height: int = 90,
    label: str | None = None,
) -> Any:
    """One PNG of a sweep: a line per row of the grid (labelled on the left), each take as ``frames`` frames
    (start, middle, end) captioned with what varies, its flags and (with ``sort_by``/``label``) a metric.

    Rows and columns follow the notebook grid (long text such as the prompt down the side) unless given;
    ``sort_by="motion"`` orders the takes of each row best first. Returns the PIL image; writes it to ``path``.
    """
    from PIL import Image, ImageDraw

    if "path" not in df.columns:
        raise InputError([Problem("df", "has no path column", None, "a sweep or its DataFrame")])
    if sort_by is not None:
        _check_metric(df, sort_by, "sort_by")
    shown = df[df["status"].isin(_HAS_VIDEO)] if "status" in df.columns else df
    shown = shown[[isinstance(p, str) and Path(p).is_file() for p in shown["path"]]]
    if shown.empty:
        raise InputError([Problem("sweep", "has no downloaded video yet", None, "run the sweep first")])
    row_cols, col_cols, vary = _axes(shown, rows, cols)
    metric = label or sort_by
    layout = _layout(shown, row_cols, col_cols, sort_by)
    font, small = _font(13), _font(11)
    ratio = max(
        float(_plain(r.get("width")) or 16) / float(_plain(r.get("height")) or 9) for r in shown.to_dict("records")
    )
    thumb_w = max(8, round(height * ratio))
    tile_w = frames * thumb_w + (frames - 1) * 2
    caption_h = 4 + 15 * 3
    row_head = 220 if row_cols else 0
    per_row = max(len(members) for _, members in layout)
    pad = 10
    sheet_w = pad + row_head + per_row * (tile_w + pad)
    sheet_h = pad + len(layout) * (height + caption_h + pad)
    sheet = Image.new("RGB", (sheet_w, sheet_h), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    y = pad
    for key, members in layout:
        if row_cols:
            text = " · ".join(
                f"{c} {_text(v, 200)}" if len(row_cols) > 1 else _text(v, 300)
                for c, v in zip(row_cols, key, strict=True)
            )
            for i, line in enumerate(_wrap(draw, text, font, row_head - 12, (height + caption_h) // 16)):
                draw.text((pad, y + i * 16), line, fill=(30, 30, 30), font=font)
        x = pad + row_head
        for rec in members:
            strip = filmstrip(rec["path"], frames, height=height)
            sheet.paste(strip.resize((tile_w, height)), (x, y))
            parts = [f"{c} {_text(rec.get(c), 24)}" for c in (*col_cols, *vary)]
            flags = _flag_list(rec.get("flags"))
            lines = _wrap(draw, " · ".join(parts) or f"job {_text(rec.get('job'))}", small, tile_w, 2)
            extra = []
            if metric is not None and metric in rec:
                extra.append(f"{metric} {_text(rec.get(metric), 12)}")
            if flags:
                extra.append("flags: " + ", ".join(flags))
            if extra:
                lines.append(" · ".join(extra))
            for i, line in enumerate(lines[:3]):
                colour = (190, 30, 45) if flags and i == len(lines) - 1 and extra else (60, 60, 60)
                draw.text((x, y + height + 3 + i * 15), line, fill=colour, font=small)
            x += tile_w + pad
        y += height + caption_h + pad
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        sheet.save(part, "PNG", optimize=True)
        os.replace(part, target)
    return sheet


# --------------------------------------------------------------------------- previews that travel

#: GitHub refuses images over 10 MB in issues and READMEs.
PREVIEW_LIMIT = 10 * 1024 * 1024
_MARKDOWN_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "|": "&#124;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "*": "&#42;",
    "_": "&#95;",
    "`": "&#96;",
    "\\": "&#92;",
    "#": "&#35;",
    "~": "&#126;",
    "!": "&#33;",
}


def markdown_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell: no markup, links, HTML or line breaks survive."""
    return "".join(_MARKDOWN_ESCAPES.get(ch, " " if ch in "\r\n\t" else ch) for ch in str(text))


def _save_animation(frames: list[Any], path: Path, fmt: str, fps: float, quality: int) -> int:
    part = path.with_name(path.name + ".part")
    duration = max(20, round(1000 / fps))
    if fmt == "WEBP":
        frames[0].save(
            part, "WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=quality, method=4
        )
    else:
        from PIL import Image

        palette = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in frames]
        palette[0].save(part, "GIF", save_all=True, append_images=palette[1:], duration=duration, loop=0, optimize=True)
    os.replace(part, path)
    return path.stat().st_size


def preview(
    video: Any,
    dest: str | os.PathLike[str],
    *,
    width: int = 320,
    fps: float = 8,
    quality: int = 60,
    max_bytes: int = PREVIEW_LIMIT,
    frames: list[Any] | None = None,
) -> Path:
    """Write one take as an animated WebP (``.webp``) or GIF (``.gif``) under ``max_bytes``; if a first try is
    too large, smaller and slower versions are tried (at most four). ``frames`` reuses an earlier sampling."""
    dest = Path(dest)
    fmt = {".webp": "WEBP", ".gif": "GIF"}.get(dest.suffix.lower())
    if fmt is None:
        raise InputError([Problem("dest", "must end in .webp or .gif", str(dest), "previews/001.webp")])
    path = _video_path(video)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(4):
        if frames is None:
            frames = _sample(path, fps=fps, width=width)
        if _save_animation(frames, dest, fmt, fps, quality) <= max_bytes:
            return dest
        width, fps, frames = max(64, int(width * 0.7)), max(2.0, fps * 0.75), None
    dest.unlink(missing_ok=True)
    raise _fail(
        "max_bytes", f"even a {width} px, {fps:g} fps preview is over {max_bytes} bytes", max_bytes, "a larger limit"
    )


def export_previews(
    df: Any,
    folder: str | os.PathLike[str],
    *,
    width: int = 320,
    fps: float = 8,
    gif: bool = True,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    sort_by: str | None = None,
    max_bytes: int = PREVIEW_LIMIT,
) -> Path:
    """Animated WebP (and GIF with ``gif=True``) previews of every take in ``folder`` and a ``README.md``
    laying them out as the grid, for places where ``<video>`` does not play (GitHub, issues, chats).

    Defaults (320 px, 8 fps) keep a 5 s take near 0.2-0.5 MB as WebP and 1-2 MB as GIF, far under GitHub's
    10 MB. File names are job numbers; captions (what varies, flags) are escaped for Markdown.
    """
    if isinstance(width, bool) or not isinstance(width, int) or not 32 <= width <= 1280:
        raise InputError([Problem("width", "must be a whole number of pixels from 32 to 1280", width, "32 .. 1280")])
    if not 1 <= float(fps) <= 24:
        raise InputError([Problem("fps", "must be between 1 and 24 frames per second", fps, "1 .. 24")])
    if sort_by is not None:
        _check_metric(df, sort_by, "sort_by")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    shown = df[df["status"].isin(_HAS_VIDEO)] if "status" in df.columns else df
    shown = shown[[isinstance(p, str) and Path(p).is_file() for p in shown["path"]]]
    if shown.empty:
        raise InputError([Problem("sweep", "has no downloaded video yet", None, "run the sweep first")])
    row_cols, col_cols, vary = _axes(shown, rows, cols)
    layout = _layout(shown, row_cols, col_cols, sort_by)

    def col_key(rec: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(_plain(rec.get(c)) for c in col_cols)

    # Columns as in the notebook grid (one per value of what varies across; several takes share a cell), or
    # with ``sort_by`` one per rank.
    if sort_by is not None:
        columns: list[Any] = list(range(1, max(len(m) for _, m in layout) + 1))
        headers = [f"#{k}" for k in columns]
    else:
        columns = list(dict.fromkeys(col_key(rec) for _, members in layout for rec in members))
        headers = [" · ".join(f"{c} {_text(v, 40)}" for c, v in zip(col_cols, k, strict=True)) for k in columns]
    lines = [
        "# Previews",
        "",
        "Animated WebP previews (GIF links for old viewers). "
        + (f"Rows: {markdown_text(', '.join(row_cols))}. " if row_cols else "")
        + (f"Ordered by {markdown_text(sort_by)}, best first." if sort_by else ""),
        "",
        "| "
        + " | ".join([markdown_text(" · ".join(row_cols)) if row_cols else "", *map(markdown_text, headers)])
        + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    caption_cols = [*col_cols, *vary] if sort_by is not None else list(vary)
    for key, members in layout:
        slots: dict[Any, list[str]] = {k: [] for k in columns}
        for position, rec in enumerate(members, 1):
            job = _plain(rec.get("job"))
            stem = f"{int(job):03d}" if isinstance(job, int | float) else f"take-{len(lines):03d}-{position}"
            frames = _sample(_video_path(rec["path"]), fps=fps, width=width)  # decoded once for both formats
            preview(rec["path"], out / f"{stem}.webp", width=width, fps=fps, max_bytes=max_bytes, frames=frames)
            caption = " · ".join(f"{c} {_text(rec.get(c), 40)}" for c in caption_cols) or f"job {stem}"
            cell = f"![{markdown_text(caption)}]({stem}.webp)<br>{markdown_text(caption)}"
            if sort_by is not None:
                cell += f"<br>{markdown_text(sort_by)} {markdown_text(_text(rec.get(sort_by), 12))}"
            flags = _flag_list(rec.get("flags"))
            if flags:
                cell += "<br>flags: " + markdown_text(", ".join(flags))
            if gif:
                preview(rec["path"], out / f"{stem}.gif", width=width, fps=fps, max_bytes=max_bytes, frames=frames)
                cell += f" · [GIF]({stem}.gif)"
            slots[position if sort_by is not None else col_key(rec)].append(cell)
        label = markdown_text(" · ".join(_text(v, 200) for v in key)) if row_cols else ""
        lines.append("| " + " | ".join([label, *("<br>".join(slots[k]) for k in columns)]) + " |")
    page = out / "README.md"
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return page


# --------------------------------------------------------------------------- HTML fragments (display, report)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


_FLAG_STYLE = (
    "display:inline-block;margin:1px 3px 1px 0;padding:0 5px;border-radius:8px;font-size:10.5px;"
    "line-height:16px;background:#fde2e4;color:#9f1239;border:1px solid #fecdd3"
)


def flags_html(row: Mapping[str, Any]) -> str:
    """Small badges for a take's flags (frozen, black, cut, silent, short), each with its meaning as a tooltip;
    "" when it has none. Only known flag words are shown."""
    flags = _flag_list(row.get("flags") if hasattr(row, "get") else None)
    if not flags:
        return ""
    badges = "".join(
        f'<span class="sd-flag sd-flag-{_esc(f)}" title="{_esc(FLAGS[f])}" style="{_FLAG_STYLE}">{_esc(f)}</span>'
        for f in flags
    )
    return f'<span class="sd-flags">{badges}</span>'


def _safe_src(src: str) -> bool:
    lowered = src.strip().lower()
    if lowered.startswith(("http://", "https://", "file://", "data:image/")):
        return True
    return ":" not in lowered.split("/", 1)[0]  # a relative path (no scheme such as javascript:)


def _metrics_sort_js() -> str:
    from .markup import sortable_table_script  # the report's own sorting script, for the metrics table

    return sortable_table_script("sd-metrics")


def filmstrip_html(src: str | None, *, alt: str = "filmstrip", height: int | None = None) -> str:
    """An ``<img>`` for a filmstrip at ``src`` (a relative path, an http(s)/file URL or an image data URI)."""
    if not src or not _safe_src(str(src)):
        return ""
    size = f' height="{int(height)}"' if height else ""
    return f'<img class="sd-filmstrip" src="{_esc(src)}" alt="{_esc(alt)}"{size} loading="lazy">'


#: Columns of the report's metrics table (in order) and how each is shown.
_TABLE_METRICS = (
    "motion",
    "start_fidelity",
    "end_fidelity",
    "flicker",
    "cuts",
    "black_fraction",
    "loudness_db",
    "silent_fraction",
    "duration_error",
)


def _fmt(value: Any, column: str) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in ("black_fraction", "silent_fraction"):
        return f"{value:.0%}"
    if column == "loudness_db":
        return f"{value:.1f} LUFS"
    if column == "duration_error":
        return f"{value:+.2f} s"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 0.001 or value == 0 else f"{value:.1e}"
    return str(value)


def metric_plot_svg(df: Any, metric: str, by: str, *, width: int = 640, height: int = 260) -> str:
    """An inline SVG: one dot per take of ``metric`` against each value of the parameter ``by``, with the mean
    of each value as a bar. Pure SVG, no script; every label escaped."""
    import pandas as pd

    values = pd.to_numeric(df[metric], errors="coerce")
    keep = values.notna()
    if not keep.any():
        return ""
    groups: dict[str, list[float]] = {}
    for key, value in zip(df.loc[keep, by], values[keep], strict=True):
        groups.setdefault(_text(key, 40), []).append(float(value))
    lo, hi = min(min(v) for v in groups.values()), max(max(v) for v in groups.values())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 if lo else 0.0, hi + 0.5 if hi else 1.0
    left, right, top, bottom = 64, 16, 14, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / len(groups)

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    parts = [
        f'<svg class="sd-metric-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_esc(metric)} by {_esc(by)}">',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
            f"{_esc(_fmt(tick, metric))}</text>"
        )
    for i, (label, items) in enumerate(groups.items()):
        cx = left + step * (i + 0.5)
        mean = sum(items) / len(items)
        parts.append(
            f'<line x1="{cx - step * 0.3:.1f}" x2="{cx + step * 0.3:.1f}" y1="{y(mean):.1f}" y2="{y(mean):.1f}" '
            f'stroke="#2563eb" stroke-width="3"><title>{_esc(label)}: mean {_esc(_fmt(mean, metric))}</title></line>'
        )
        for j, v in enumerate(items):
            jitter = (j - (len(items) - 1) / 2) * min(8.0, step * 0.4 / max(1, len(items)))
            parts.append(
                f'<circle cx="{cx + jitter:.1f}" cy="{y(v):.1f}" r="4" fill="#f97316" fill-opacity=".8">'
                f"<title>{_esc(label)}: {_esc(_fmt(v, metric))}</title></circle>"
            )
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" fill="#333">'
            f"{_esc(_text(label, max(6, int(step / 7))))}<title>{_esc(label)}</title></text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="12" fill="#333">'
        f"{_esc(by)}</text>"
    )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="12" fill="#333" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{_esc(metric)}</text></svg>'
    )
    return "".join(parts)


def metrics_section_html(
    df: Any,
    *,
    metric: str = "motion",
    by: str | None = None,
    image_src: Any = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> str:
    """The report's metrics section: a sortable table of every measured take (flags, metrics, and a filmstrip
    when ``run_dir`` and ``image_src`` — a function from a local image path to a ``src`` — are given) and one
    plot of ``metric`` per value of the parameter ``by`` (default: the first varying input). "" when nothing
    was measured."""
    from .markup import varying_columns

    if "flags" not in df.columns:
        return ""
    if metric not in df.columns:
        _check_metric(df, metric, "metric")
    measured = df[df["frames"].notna()] if "frames" in df.columns else df.iloc[0:0]
    if measured.empty:
        return ""
    vary = [c for c in varying_columns(df) if c != "take"] or (["take"] if "take" in df.columns else [])
    by = by if by is not None and by in df.columns else (vary[0] if vary else "job")
    columns = [c for c in _TABLE_METRICS if c in measured.columns]
    head = ['<th scope="col" data-type="num">job</th>']
    head += [f'<th scope="col">{_esc(c)}</th>' for c in vary]
    head.append('<th scope="col">flags</th>')
    head += [f'<th scope="col" data-type="num">{_esc(c.replace("_", " "))}</th>' for c in columns]
    strip_dir = Path(run_dir) / "filmstrips" if run_dir is not None and image_src is not None else None
    if strip_dir is not None:
        head.append('<th scope="col">filmstrip</th>')
    body = []
    for pos, rec in zip(measured.index, measured.to_dict("records"), strict=True):
        job = _plain(rec.get("job"))
        cells = [f'<td class="n" data-v="{_esc(job if job is not None else "")}">{_esc(_text(job))}</td>']
        for c in vary:
            text = _text(rec.get(c), 400)
            wide = " wide" if c in ("prompt", "image", "end_image") else ""
            cells.append(
                f'<td class="txt{wide}" data-v="{_esc(text)}" title="{_esc(text)}">{_esc(_text(rec.get(c), 80))}</td>'
            )
        flags = _flag_list(rec.get("flags"))
        cells.append(f'<td data-v="{_esc(", ".join(flags))}">{flags_html(rec)}</td>')
        for c in columns:
            value = _plain(rec.get(c))
            sort = "" if value is None else str(abs(value) if c == "duration_error" else value)
            cells.append(f'<td class="n" data-v="{_esc(sort)}">{_esc(_fmt(value, c))}</td>')
        if strip_dir is not None:
            strip = ""
            video = rec.get("path")
            if isinstance(video, str) and Path(video).is_file():
                try:
                    file = filmstrip_file(video, strip_dir / f"{Path(video).stem}.jpg")
                    strip = filmstrip_html(image_src(str(file)), alt=f"job {_text(job)} filmstrip", height=48)
                except (InputError, OSError) as exc:
                    logger.info("no filmstrip for %s: %s", video, exc)
            cells.append(f"<td>{strip}</td>")
        body.append(f'<tr id="sd-metrics-{_esc(pos)}">{"".join(cells)}</tr>')
    plot = metric_plot_svg(measured, metric, by) if by in measured.columns else ""
    flagged = sum(1 for f in measured["flags"] if _flag_list(f))
    legend = " · ".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in FLAGS.items())
    return (
        '<section id="metrics"><h2>Metrics</h2>'
        f'<p class="sub">{len(measured)} takes measured, {flagged} flagged. Click a column header to sort '
        "(duration error sorts by size). Definitions: seedance_nb.quality.VideoMetrics.</p>"
        f'<p class="sub">{legend}</p>'
        f'<h3>{_esc(metric)} by {_esc(by)}</h3><div class="scroll">{plot}</div>'
        '<div class="scroll"><table class="jobs" id="sd-metrics">'
        f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f"</section>{_metrics_sort_js()}"
    )


def ranked_cells(
    records: Sequence[Mapping[str, Any]],
    row_keys: Iterable[tuple[Any, ...]],
    cells: Mapping[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]],
    col_keys: Iterable[tuple[Any, ...]],
    by: str,
) -> tuple[tuple[str, ...], list[tuple[Any, ...]], dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]]]:
    """A grid's cells re-laid so each row lists its takes best first by ``by``: returns the new column axis
    (``("rank by <by>",)``), its keys (1, 2, ...) and the cells. The grid then captions what the columns were."""
    col_keys = list(col_keys)
    out: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]] = {}
    width = 0
    for rk in row_keys:
        members = [i for ck in col_keys for i in cells.get((rk, ck), [])]
        order = _sorted_records([{**records[i], "_i": i} for i in members], by)
        for position, rec in enumerate(order, 1):
            out[(rk, (position,))] = [rec["_i"]]
        width = max(width, len(order))
    return (f"rank by {by}",), [(p,) for p in range(1, width + 1)], out


_set_module(__name__)
