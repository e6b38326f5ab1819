"""Reference-to-video's input limits and price, checked before anything is uploaded, journalled or sent.

fal's reference-to-video endpoints (``bytedance/seedance-2.0/{fast/,mini/,}reference-to-video``) take
``image_urls``, ``video_urls`` and ``audio_urls`` and limit them (fal's fast R2V playground, fal-js's
``Seedance2R2VFastInput`` docs; shared/REAL_FAL.md "A third look"):

- at most 9 images, each at most 30 MB;
- at most 3 videos, combined 2-15 s, under 50 MB in all;
- at most 3 audio clips, combined at most 15 s, each at most 15 MB; audio only with an image or a video;
- at most 12 files in all.

Counts are always checked. Sizes and durations are checked when the file is in hand: a data URI, bytes, or a
local path (durations probed with PyAV); an http(s) URL is counted only. fal bills the input videos' seconds
too, x 0.6 when videos are given (:func:`seedance_nb.endpoints.video_tokens`); a video whose length cannot be
known locally (a URL) is priced as if the videos filled fal's 15 s maximum, so the estimate is an upper bound::

    problems = reference_problems({"prompt": "p", "audio_urls": ["https://x/a.mp3"]})
    problems[0].field       # 'audio_urls': audio needs at least one image or video
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._names import set_public_module
from ._text import plural
from .endpoints import estimate_cost
from .errors import Problem

__all__ = ["MAX_FILES", "LIMITS", "ReferenceFacts", "estimate_references", "reference_facts", "reference_problems"]

MB = 1024 * 1024
MAX_FILES = 12
#: The most seconds of input video fal accepts (and so the seconds a URL video of unknown length is priced at).
MAX_VIDEO_SECONDS = 15.0
MIN_VIDEO_SECONDS = 2.0
MAX_AUDIO_SECONDS = 15.0


@dataclass(frozen=True)
class Limit:
    """One modality's limits: how many files, bytes each, bytes in all (None: no such limit)."""

    field: str
    noun: str
    count: int
    each_bytes: int | None
    total_bytes: int | None


LIMITS: tuple[Limit, ...] = (
    Limit("image_urls", "image", 9, 30 * MB, None),
    Limit("video_urls", "video", 3, None, 50 * MB),
    Limit("audio_urls", "audio clip", 3, 15 * MB, None),
)


@dataclass(frozen=True)
class _Item:
    """One reference as far as it can be known locally."""

    where: str
    size: int | None = None
    seconds: float | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class ReferenceFacts:
    """What the references of one payload are, as far as can be known locally.

    Attributes:
        images: how many images.
        videos: how many videos.
        audios: how many audio clips.
        video_seconds: the videos' combined seconds when every length is known (None when there is no video or
            one length is unknown).
        unknown_videos: how many videos' lengths could not be read locally (URLs).
    """

    images: int = 0
    videos: int = 0
    audios: int = 0
    video_seconds: float | None = None
    unknown_videos: int = 0

    @property
    def billed_video_seconds(self) -> float | None:
        """Input-video seconds to price: None without videos; fal's 15 s maximum when a length is unknown."""
        if not self.videos:
            return None
        return MAX_VIDEO_SECONDS if self.unknown_videos or self.video_seconds is None else self.video_seconds


def _bytes_of(value: Any) -> bytes | None | Problem:
    """The file's bytes when it is in hand (data URI, bytes, local path), None for a URL, or a problem."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Path) or (isinstance(value, str) and not value.startswith(("http://", "https://", "data:"))):
        path = Path(value)
        if not path.is_file():
            return None if isinstance(value, str) else Problem("", "is not a file", str(value), "a file or URL")
        return path.read_bytes()
    if isinstance(value, str) and value.startswith("data:"):
        head, _, payload = value.partition(",")
        if not head.endswith(";base64"):
            return payload.encode()
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return Problem("", "is a data URI that is not valid base64", f"<data URI, {len(value)} chars>", None)
    return None


def _seconds(data: bytes) -> float | None:
    """The media's length in seconds (PyAV), or None when it cannot be read."""
    import av  # PyAV: only when a file is in hand

    try:
        with av.open(io.BytesIO(data)) as container:
            if container.duration is not None:
                return float(container.duration) / 1_000_000
            stream = (container.streams.video or container.streams.audio)[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    except (av.FFmpegError, IndexError, ValueError):
        return None
    return None


def _item(limit: Limit, index: int, value: Any) -> _Item:
    where = f"{limit.field}[{index}]"
    data = _bytes_of(value)
    if isinstance(data, Problem):
        return _Item(where, problem=Problem(where, data.message, data.value, data.allowed))
    if data is None:
        return _Item(where)
    seconds = _seconds(data) if limit.field != "image_urls" else None
    if limit.field != "image_urls" and seconds is None:
        problem = Problem(
            where, f"could not be read as {limit.noun} (PyAV found no duration)", None, "MP4/MOV, MP3/WAV"
        )
        return _Item(where, len(data), problem=problem)
    return _Item(where, len(data), seconds)


def _items(payload: Mapping[str, Any]) -> dict[str, list[_Item]]:
    """Each modality's references (a value that is not a list counts as none: the schema's type check names it)."""
    found: dict[str, list[_Item]] = {}
    for limit in LIMITS:
        values = payload.get(limit.field)
        listed = values if isinstance(values, list | tuple) else []
        found[limit.field] = [_item(limit, i, v) for i, v in enumerate(listed)]
    return found


def _limit_problems(limit: Limit, items: list[_Item]) -> list[Problem]:
    problems = [item.problem for item in items if item.problem is not None]
    if len(items) > limit.count:
        problems.append(
            Problem(
                limit.field,
                f"has {len(items)} {limit.noun}s; fal takes at most {limit.count}",
                len(items),
                f"at most {limit.count}",
            )
        )
    if limit.each_bytes is not None:
        for item in items:
            if item.size is not None and item.size > limit.each_bytes:
                message = f"is {item.size / MB:.1f} MB; fal takes at most {limit.each_bytes // MB} MB"
                problems.append(
                    Problem(
                        item.where,
                        message,
                        f"<{item.size} bytes>",
                        f"at most {limit.each_bytes // MB} MB",
                        type="file_too_large",
                    )
                )
    if limit.total_bytes is not None:
        total = sum(item.size or 0 for item in items)
        if total >= limit.total_bytes:
            message = f"hold {total / MB:.1f} MB in all; fal takes under {limit.total_bytes // MB} MB"
            problems.append(
                Problem(
                    limit.field,
                    message,
                    f"<{total} bytes>",
                    f"under {limit.total_bytes // MB} MB in all",
                    type="file_too_large",
                )
            )
    return problems


def _duration_problems(found: dict[str, list[_Item]]) -> list[Problem]:
    problems: list[Problem] = []
    videos, audios = found["video_urls"], found["audio_urls"]
    known = [v.seconds for v in videos if v.seconds is not None]
    if videos and len(known) == len(videos) and not MIN_VIDEO_SECONDS <= sum(known) <= MAX_VIDEO_SECONDS:
        problems.append(
            Problem(
                "video_urls",
                f"last {sum(known):.1f} s in all; fal takes 2-15 s combined",
                round(sum(known), 2),
                "2-15 s combined",
            )
        )
    elif sum(known) > MAX_VIDEO_SECONDS:
        problems.append(
            Problem(
                "video_urls",
                f"last over {sum(known):.1f} s in all; fal takes at most 15 s",
                round(sum(known), 2),
                "2-15 s combined",
            )
        )
    heard = sum(a.seconds for a in audios if a.seconds is not None)
    if heard > MAX_AUDIO_SECONDS:
        problems.append(
            Problem(
                "audio_urls",
                f"last {heard:.1f} s in all; fal takes at most 15 s",
                round(heard, 2),
                "at most 15 s combined",
            )
        )
    return problems


def reference_problems(payload: Mapping[str, Any]) -> list[Problem]:
    """Every problem with the references of a reference-to-video payload that can be seen locally.

    Args:
        payload: the request's fields (``image_urls``, ``video_urls``, ``audio_urls`` are read; each item a URL,
            a data URI, bytes or a local path).

    Returns:
        The problems, each naming the field (``video_urls[1]`` for one file); empty when nothing is wrong.
    """
    found = _items(payload)
    problems: list[Problem] = []
    for limit in LIMITS:
        problems.extend(_limit_problems(limit, found[limit.field]))
    problems.extend(_duration_problems(found))
    if found["audio_urls"] and not (found["image_urls"] or found["video_urls"]):
        problems.append(
            Problem("audio_urls", "needs at least one image or video with it", None, "add image_urls or video_urls")
        )
    total = sum(len(items) for items in found.values())
    if total > MAX_FILES:
        problems.append(
            Problem(
                "input",
                f"has {total} reference files; fal takes at most {MAX_FILES} in all",
                total,
                f"at most {MAX_FILES} files",
            )
        )
    return problems


def reference_facts(payload: Mapping[str, Any]) -> ReferenceFacts:
    """How many references of each kind a payload has, and the input videos' seconds when they can be read.

    Args:
        payload: the request's fields.
    """
    found = _items(payload)
    videos = found["video_urls"]
    known = [v.seconds for v in videos if v.seconds is not None]
    unknown = len(videos) - len(known)
    seconds = sum(known) if videos and not unknown else None
    return ReferenceFacts(len(found["image_urls"]), len(videos), len(found["audio_urls"]), seconds, unknown)


def estimate_references(payload: Mapping[str, Any], endpoint: str) -> Any:
    """fal's price for one reference-to-video request: its output plus its input videos' seconds, x 0.6 with videos.

    A video whose length cannot be read locally (a URL) is priced as if the videos filled fal's 15 s maximum:
    the estimate is then an upper bound, and its ``assumption`` says so.

    Args:
        payload: the request's fields (``resolution``, ``duration``, ``aspect_ratio`` and the references).
        endpoint: the reference-to-video endpoint id (its price applies).

    Returns:
        A :class:`seedance_nb.schema.CostEstimate`.
    """
    from dataclasses import replace

    facts = reference_facts(payload)
    est = estimate_cost(
        payload.get("resolution", "720p"),
        payload.get("duration", "auto"),
        payload.get("aspect_ratio", "auto"),
        endpoint=endpoint,
        input_video_seconds=facts.billed_video_seconds,
    )
    if facts.unknown_videos:
        note = (
            f"{plural(facts.unknown_videos, 'input video')} of unknown length (URL): priced as 15 s of input video "
            "in all"
        )
        est = replace(est, assumption="; ".join(a for a in (est.assumption, note) if a))
    return est


set_public_module(__name__)
