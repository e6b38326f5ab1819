"""Frames and films with PyAV: a take's last frame at full resolution, and takes stitched into one MP4.

Stitching remuxes (copies the compressed packets, shifting their timestamps) when every take's streams have the
same parameters (codec, size, pixel format, frame rate, codec headers; for sound, codec, rate and layout), which
is what one endpoint at one resolution gives: no quality is lost and six 5 s shots take milliseconds. When any
differ, or crossfades are asked for, the film is re-encoded (H.264 at the first take's size and rate, AAC).
PyAV (FFmpeg's libraries) is used because it can copy packets between containers and decode exactly the last
frame; Pillow or OpenCV cannot remux, and an ``ffmpeg`` subprocess would be a second installation to find.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

__all__ = ["StitchResult", "last_frame", "poster_strip", "stitch"]

AUDIO_RATE = 48_000


def last_frame(path: str | Path) -> Image.Image:
    """The last frame of a video, decoded at its full resolution (never a poster or a re-encoded copy).

    Args:
        path: the video.
    """
    last = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            last = frame
        if last is None:
            raise ValueError(f"{Path(path).name} has no video frame")
        image: Image.Image = last.to_image()
    return image


@dataclass(frozen=True)
class StitchResult:
    frames: int
    seconds: float
    reencoded: bool
    has_audio: bool


def _video_key(stream: Any) -> tuple[Any, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.width, ctx.height, ctx.pix_fmt, stream.average_rate, bytes(ctx.extradata or b""))


def _audio_key(stream: Any) -> tuple[Any, ...]:
    ctx = stream.codec_context
    return (ctx.name, ctx.sample_rate, ctx.layout.name, bytes(ctx.extradata or b""))


def _keys(paths: Sequence[Path]) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...] | None]]:
    video, audio = set(), set()
    for path in paths:
        with av.open(str(path)) as container:
            video.add(_video_key(container.streams.video[0]))
            audio.add(_audio_key(container.streams.audio[0]) if container.streams.audio else None)
    return video, audio


def stitch(paths: Sequence[Path], dest: Path, *, crossfade: int = 0) -> StitchResult:
    """Write ``paths`` one after another into ``dest`` (an MP4, written atomically).

    Args:
        paths: the takes, in order.
        dest: the film's path.
        crossfade: frames over which each take fades into the next (0: cuts; anything else re-encodes).
    """
    video, audio = _keys(paths)
    remux = len(video) == 1 and len(audio) == 1 and crossfade == 0
    has_audio = None not in audio
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        frames = _remux(paths, part, has_audio) if remux else _reencode(paths, part, has_audio, crossfade)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        seconds = float(frames / (stream.average_rate or 24))
    return StitchResult(frames=frames, seconds=seconds, reencoded=not remux, has_audio=has_audio)


def _remux(paths: Sequence[Path], part: Path, has_audio: bool) -> int:
    """Copy every packet, each take's timestamps shifted by the length of the takes before it."""
    frames = 0
    offset = Fraction(0)  # seconds
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(str(paths[0])) as first:
            out_video = out.add_stream_from_template(first.streams.video[0])
            out_audio = out.add_stream_from_template(first.streams.audio[0]) if has_audio else None
        last_dts: dict[str, int] = {}
        for path in paths:
            with av.open(str(path)) as src:
                video = src.streams.video[0]
                streams = [video, *([src.streams.audio[0]] if has_audio else [])]
                start, end = None, None
                for packet in src.demux(*streams):
                    if packet.dts is None or packet.pts is None:
                        continue
                    is_video = packet.stream.type == "video"
                    base = packet.time_base
                    shift = int(offset / base)
                    packet.pts += shift
                    packet.dts += shift
                    kind = "video" if is_video else "audio"
                    if packet.dts <= last_dts.get(kind, -(2**62)):
                        continue  # an audio frame overlapping the previous take's last one
                    last_dts[kind] = packet.dts
                    if is_video:
                        frames += 1
                        own = packet.pts - shift
                        start = own if start is None else min(start, own)
                        end = max(end or 0, own + (packet.duration or 0))
                    packet.stream = out_video if is_video else out_audio
                    out.mux(packet)
                offset += Fraction((end or 0) - (start or 0)) * video.time_base
    return frames


def _decoded(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()


def _sound(path: Path, resampler: Any) -> Iterator[Any]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return
        for frame in container.decode(audio=0):
            frame.pts = None
            yield from resampler.resample(frame)


def _reencode(paths: Sequence[Path], part: Path, has_audio: bool, crossfade: int) -> int:
    """Decode every take and encode one film at the first take's size and rate, fading across the cuts."""
    with av.open(str(paths[0])) as first:
        ctx = first.streams.video[0].codec_context
        size = (ctx.width, ctx.height)
        rate = first.streams.video[0].average_rate or Fraction(24)
    count = 0
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        audio = out.add_stream("aac", rate=AUDIO_RATE) if has_audio else None
        tail: list[np.ndarray] = []  # the previous take's last ``crossfade`` frames, faded into this one's first
        for index, path in enumerate(paths):
            fading, tail = tail, []
            keep = crossfade if index < len(paths) - 1 else 0
            for i, picture in enumerate(_decoded(Path(path), size)):
                if i < len(fading):
                    alpha = (i + 1) / (len(fading) + 1)
                    picture = (fading[i] * (1 - alpha) + picture * alpha).astype(np.uint8)
                if keep:
                    tail.append(picture)
                    if len(tail) <= keep:
                        continue
                    picture = tail.pop(0)
                count = _encode(out, stream, picture, count)
        out.mux(stream.encode(None))
        if audio is not None:
            _encode_sound(out, audio, paths)
    return count


def _encode(out: Any, stream: Any, picture: np.ndarray, count: int) -> int:
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    frame.pts = count
    out.mux(stream.encode(frame))
    return count + 1


def _encode_sound(out: Any, audio: Any, paths: Sequence[Path]) -> None:
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    pts = 0
    for path in paths:
        for frame in _sound(Path(path), resampler):
            frame.pts = pts
            pts += frame.samples
            out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def poster_strip(paths: Sequence[Path], dest: Path, *, height: int = 144) -> Path:
    """The first frame of each take side by side, ``height`` pixels high, as a JPEG.

    Args:
        paths: the takes, in order.
        dest: the JPEG's path.
        height: the strip's height in pixels.
    """
    tiles = []
    for path in paths:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            image = frame.to_image()
        tiles.append(image.resize((max(1, round(image.width * height / image.height)), height)))
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 4 * (len(tiles) - 1), height), (20, 20, 20))
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 4
    dest.parent.mkdir(parents=True, exist_ok=True)
    strip.save(dest, "JPEG", quality=85)
    return dest
