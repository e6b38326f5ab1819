"""Frames and films with PyAV: a take's last frame at full resolution, and takes stitched into one MP4.

Stitching remuxes (copies the compressed packets, shifting their timestamps) every take whose video stream has
the first take's parameters (codec, size, pixel format, frame rate, codec headers), which is what one endpoint at
one resolution gives: no quality is lost and six 5 s shots take milliseconds. A take whose video differs (another
resolution) is re-encoded alone, to the first take's size and rate, with its parameter sets in-band (and the first
take's put back in-band on the take after it), so the others are still copied. The sound is copied when every
take's has the same parameters. With crossfades, or sounds that differ, the whole film is re-encoded (H.264 at
the first take's size and rate, AAC).
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
    redone: tuple[bool, ...] = ()


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
    has_audio = None not in audio
    with av.open(str(paths[0])) as first:
        reference = _video_key(first.streams.video[0])
    copy = len(audio) == 1 and crossfade == 0 and _is_avcc(reference[0], reference[5])
    redo = tuple(_video_key_of(path) != reference for path in paths) if copy else (True,) * len(paths)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        frames = _remux(paths, part, has_audio, redo) if copy else _reencode(paths, part, has_audio, crossfade)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    with av.open(str(dest)) as container:
        stream = container.streams.video[0]
        seconds = float(frames / (stream.average_rate or 24))
    return StitchResult(frames=frames, seconds=seconds, reencoded=any(redo), has_audio=has_audio, redone=redo)


def _video_key_of(path: Path) -> tuple[Any, ...]:
    with av.open(str(path)) as container:
        return _video_key(container.streams.video[0])


def _is_avcc(codec: str, extradata: bytes) -> bool:
    """H.264 whose parameter sets are in an avcC box with 4-byte lengths (what MP4 files from x264 hold)."""
    return codec == "h264" and len(extradata) > 7 and extradata[0] == 1 and extradata[4] & 3 == 3


def _avcc_parameter_sets(extradata: bytes) -> bytes:
    """The SPS and PPS of an avcC box as length-prefixed NAL units (to put back in-band after a re-encoded take)."""
    out, pos = [], 6
    count = extradata[5] & 0x1F
    for kind in range(2):
        if kind == 1:
            count, pos = extradata[pos], pos + 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            out.append(size.to_bytes(4, "big") + extradata[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return b"".join(out)


def _annexb_to_avcc(data: bytes) -> bytes:
    """Annex B NAL units (start codes) as MP4's length-prefixed ones."""
    units = [u for u in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01") if u]
    return b"".join(len(u).to_bytes(4, "big") + u for u in units)


def _remux(paths: Sequence[Path], part: Path, has_audio: bool, redo: Sequence[bool]) -> int:
    """Copy every packet, each take's timestamps shifted by the length of the takes before it; a take whose video
    differs from the first's (``redo``) is re-encoded to the first's size and rate, its parameter sets in-band."""
    frames = 0
    offset = Fraction(0)  # seconds
    with av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        with av.open(str(paths[0])) as first:
            template = first.streams.video[0]
            out_video = out.add_stream_from_template(template)
            out_audio = out.add_stream_from_template(first.streams.audio[0]) if has_audio else None
            headers = _avcc_parameter_sets(bytes(template.codec_context.extradata or b""))
            size = (template.codec_context.width, template.codec_context.height)
            rate = template.average_rate or Fraction(24)
        last_dts: dict[str, Fraction] = {}
        for index, path in enumerate(paths):
            restore = index > 0 and redo[index - 1] and not redo[index]
            with av.open(str(path)) as src:
                video = src.streams.video[0]
                streams = [*([] if redo[index] else [video]), *([src.streams.audio[0]] if has_audio else [])]
                packets = src.demux(*streams)
                length = _copy(out, packets, offset, (out_video, out_audio), last_dts, headers if restore else b"")
            if redo[index]:
                length = _redo(out, out_video, Path(path), offset, size, rate, last_dts)
            frames += length[0]
            offset += length[1]
    return frames


def _copy(
    out: Any,
    packets: Iterator[Any],
    offset: Fraction,
    streams: tuple[Any, Any],
    last_dts: dict[str, Fraction],
    headers: bytes,
) -> tuple[int, Fraction]:
    """Mux one take's packets shifted by ``offset`` seconds; returns its video frames and length in seconds."""
    frames, start, end, base = 0, None, None, Fraction(1, 24)
    for packet in packets:
        if packet.dts is None or packet.pts is None:
            continue
        kind = packet.stream.type
        shift = int(offset / packet.time_base)
        packet.pts += shift
        packet.dts += shift
        at = packet.dts * packet.time_base
        if kind in last_dts and at <= last_dts[kind]:
            continue  # an audio frame overlapping the previous take's last one
        last_dts[kind] = at
        if kind == "video":
            if headers and frames == 0:  # the first take's SPS/PPS again, after a re-encoded take's own
                packet = _with_prefix(packet, headers)
            frames += 1
            base, own = packet.time_base, packet.pts - shift
            start = own if start is None else min(start, own)
            end = max(end or 0, own + (packet.duration or 0))
        packet.stream = streams[0] if kind == "video" else streams[1]
        out.mux(packet)
    return frames, Fraction((end or 0) - (start or 0)) * base


def _with_prefix(packet: Any, prefix: bytes) -> Any:
    fresh = av.Packet(prefix + bytes(packet))
    fresh.pts, fresh.dts, fresh.duration, fresh.time_base = packet.pts, packet.dts, packet.duration, packet.time_base
    fresh.is_keyframe = packet.is_keyframe
    return fresh


def _redo(
    out: Any,
    stream: Any,
    path: Path,
    offset: Fraction,
    size: tuple[int, int],
    rate: Fraction,
    last_dts: dict[str, Fraction],
) -> tuple[int, Fraction]:
    """Re-encode one take's video to the film's size and rate (no B-frames, SPS/PPS in-band), muxed at ``offset``."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = size
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1) / rate
    encoder.framerate = rate
    encoder.options = {"preset": "veryfast", "crf": "20", "x264-params": "bframes=0:repeat-headers=1"}
    encoder.max_b_frames = 0
    shift = int(offset / encoder.time_base)
    count = 0

    def mux(packets: Any) -> None:
        for packet in packets:
            fresh = av.Packet(_annexb_to_avcc(bytes(packet)))
            fresh.pts, fresh.dts = packet.pts + shift, packet.dts + shift
            fresh.duration, fresh.time_base = 1, encoder.time_base
            fresh.is_keyframe = packet.is_keyframe
            fresh.stream = stream
            last_dts["video"] = fresh.dts * encoder.time_base
            out.mux(fresh)

    for picture in _decoded(path, size):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = count
        count += 1
        mux(encoder.encode(frame))
    mux(encoder.encode(None))
    return count, Fraction(count) / rate


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
            _encode_sound(out, audio, paths, float(crossfade / rate))
    return count


def _encode(out: Any, stream: Any, picture: np.ndarray, count: int) -> int:
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
    frame.pts = count
    out.mux(stream.encode(frame))
    return count + 1


def _encode_sound(out: Any, audio: Any, paths: Sequence[Path], overlap: float = 0.0) -> None:
    """Every take's sound one after another; with crossfades each take after the first loses its first
    ``overlap`` seconds, as its pictures do, so that the sound stays in step with them."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    pts = 0
    for index, path in enumerate(paths):
        skip = round(overlap * AUDIO_RATE) if index else 0
        for frame in _sound(Path(path), resampler):
            if skip >= frame.samples:
                skip -= frame.samples
                continue
            if skip:
                frame = _tail(frame, skip)
                skip = 0
            frame.pts = pts
            pts += frame.samples
            out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def _tail(frame: Any, skip: int) -> Any:
    """An audio frame without its first ``skip`` samples."""
    kept = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(frame.to_ndarray()[:, skip:]), format="fltp", layout="stereo"
    )
    kept.sample_rate = AUDIO_RATE
    return kept


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
