"""Each Seedance 2.0 endpoint's price and output sizes, with fal's source. Pure.

The registry (:mod:`seedance_nb.endpoints.registry`) wraps these facts into one ``Endpoint`` per id.

fal prices the whole 2.0 family in thousands of video tokens, tokens = width x height x seconds x 24 / 1024,
at a price per tier::

    >>> price_per_1k_tokens("bytedance/seedance-2.0/image-to-video")
    0.014
    >>> round(video_tokens(1280, 720, 5))
    108000

Reference-to-video also bills the seconds of the input videos, and 0.6 of that when videos are given
(:func:`video_tokens` with ``input_video_seconds``). Everything that prices a job (estimates, the sweep's
budget check, caps, ``sd.spend()``, the emulator's ``x-fal-billable-units``) reads :func:`price_per_1k_tokens`;
docs/fal-fidelity.md gives each figure's source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .._names import set_public_module
from ..errors import InputError, Problem
from ..openapi_schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, load_snapshot

__all__ = [
    "ASPECT_RATIOS",
    "AUTO_DURATION_ESTIMATE",
    "BITRATE_MODES",
    "DURATIONS",
    "FAST_PRICE",
    "MINI_PRICE",
    "SIZES",
    "STANDARD_PRICE",
    "VIDEO_INPUT_FACTOR",
    "PRICE_PER_1K_TOKENS",
    "RESOLUTIONS",
    "CostEstimate",
    "EndpointId",
    "Price",
    "emulated_endpoint",
    "endpoint_price",
    "estimate_cost",
    "frame_count",
    "kind",
    "nearest_aspect_ratio",
    "output_size",
    "price_per_1k_tokens",
    "resolution_problem",
    "resolutions_for",
    "tier",
    "video_tokens",
]

FAMILY = "bytedance/seedance-2.0"
KINDS: tuple[str, ...] = ("image-to-video", "text-to-video", "reference-to-video")
#: Tier name -> the path segment before the kind ("" for standard).
TIERS: Mapping[str, str] = MappingProxyType({"fast": "fast/", "standard": "", "mini": "mini/"})

#: fal's price for 2.0 fast, USD per 1,000 tokens.
FAST_PRICE = 0.0112
#: fal's price for 2.0 standard, USD per 1,000 tokens.
STANDARD_PRICE = 0.014
#: 2.0 mini: PROVISIONAL. No fal page we could read states it (fal's pricing API needs a key); this is fal's fast
#: price times ByteDance's list-price ratio mini/fast (0.62: CNY 3.16 vs 5.08 for 720p 5 s at one reseller
#: multiplier, docs.apiyi.com 2026-08 "Seedance 2.0 mini / fast"), rounded. Replace it once fal publishes one.
MINI_PRICE = 0.007
#: Reference-to-video with video inputs: the token price is multiplied by this (fal's fast R2V playground).
VIDEO_INPUT_FACTOR = 0.6
FPS = 24

_FAST_SOURCE = (
    "fal.ai/models/bytedance/seedance-2.0/fast/<kind> playground and llms.txt: $0.0112 per 1000 tokens "
    "($0.2419/s at 720p)"
)
_STANDARD_SOURCE = (
    "fal.ai/models/bytedance/seedance-2.0/<kind> playground and llms.txt: $0.014 per 1000 tokens ($0.3024/s at 720p)"
)
_MINI_SOURCE = (
    "PROVISIONAL: no fal source found (fal.ai pages and search, 2026-12-07); fal's fast price x ByteDance's "
    "mini/fast list-price ratio 0.62 (docs.apiyi.com, 2026-08), rounded to $0.007 per 1000 tokens"
)
_R2V_SOURCE = "; reference-to-video: (input video s + output s) tokens, x 0.6 with video inputs (fal's R2V playground)"


@dataclass(frozen=True)
class Price:
    """One endpoint's price: USD per 1,000 video tokens, where the figure comes from, and whether it is provisional.

    Attributes:
        endpoint: the fal endpoint id.
        per_1k_tokens: USD per 1,000 tokens.
        source: where the figure comes from (a page, or why it is assumed).
        provisional: True when no fal source states the figure.
    """

    endpoint: str
    per_1k_tokens: float
    source: str
    provisional: bool = False


def _table() -> dict[str, Price]:
    figures = {
        "fast": (FAST_PRICE, _FAST_SOURCE, False),
        "standard": (STANDARD_PRICE, _STANDARD_SOURCE, False),
        "mini": (MINI_PRICE, _MINI_SOURCE, True),
    }
    table = {}
    for name, segment in TIERS.items():
        usd, source, provisional = figures[name]
        for k in KINDS:
            endpoint = f"{FAMILY}/{segment}{k}"
            extra = _R2V_SOURCE if k == "reference-to-video" else ""
            table[endpoint] = Price(endpoint, usd, source.replace("<kind>", k) + extra, provisional)
    return table


#: Every Seedance 2.0 endpoint's price, keyed by endpoint id.
PRICES: Mapping[str, Price] = MappingProxyType(_table())


def endpoint_price(endpoint: str) -> Price:
    """``endpoint``'s price; an endpoint outside the table is priced as 2.0 fast, and its ``source`` says so.

    Args:
        endpoint: the fal endpoint id (``bytedance/seedance-2.0/image-to-video``, ...).
    """
    known = PRICES.get(str(endpoint).strip("/"))
    if known is not None:
        return known
    return Price(
        str(endpoint),
        FAST_PRICE,
        f"not a Seedance 2.0 endpoint seedance-nb knows: priced as 2.0 fast ({_FAST_SOURCE})",
        provisional=True,
    )


def price_per_1k_tokens(endpoint: str) -> float:
    """USD per 1,000 video tokens on ``endpoint`` (see :func:`endpoint_price` for the source).

    Args:
        endpoint: the fal endpoint id.
    """
    return endpoint_price(endpoint).per_1k_tokens


def tier(endpoint: str) -> str | None:
    """``"fast"``, ``"standard"`` or ``"mini"`` for a Seedance 2.0 endpoint, else None.

    Args:
        endpoint: the fal endpoint id.
    """
    for name, segment in TIERS.items():
        if any(str(endpoint).strip("/") == f"{FAMILY}/{segment}{k}" for k in KINDS):
            return name
    return None


def kind(endpoint: str) -> str | None:
    """``"image-to-video"``, ``"text-to-video"`` or ``"reference-to-video"`` for a 2.0 endpoint, else None.

    Args:
        endpoint: the fal endpoint id.
    """
    return next((k for k in KINDS if tier(endpoint) is not None and str(endpoint).endswith(k)), None)


def video_tokens(width: int, height: int, seconds: float, input_video_seconds: float | None = None) -> float:
    """fal's billing tokens for one clip: width x height x seconds x 24 / 1024.

    Args:
        width: the output's width in pixels.
        height: the output's height in pixels.
        seconds: the output's length.
        input_video_seconds: reference-to-video only: the combined length of the input videos (None when no
            video is given). Those seconds are billed too, and the total is multiplied by 0.6.
    """
    if input_video_seconds is None:
        return width * height * seconds * FPS / 1024
    return width * height * (input_video_seconds + seconds) * FPS / 1024 * VIDEO_INPUT_FACTOR


#: Output pixel sizes (width, height) by resolution and aspect ratio. 480p and 720p: ByteDance's table for
#: Seedance 2.0 / 2.0 fast (MODEL.md). 1080p (standard tier only; no published 2.0 1080p table was found):
#: 1.5x the 2.0 720p sizes, rounded to even pixels. 4:3 1664x1248, 1:1 1440x1440 and 3:4 1248x1664 are
#: ByteDance's own Seedance 1.0 Pro 1080p rows (runware.ai/docs/models/bytedance-seedance-1-0-pro); for
#: 16:9, 9:16 and 21:9 2.0 keeps 720's exact 16:9 (1280x720 where 1.0 had 1248x704), hence 1920x1080,
#: 1080x1920 and 2206x946 (docs/fal-fidelity.md).
SIZES: Mapping[tuple[str, str], tuple[int, int]] = MappingProxyType(
    {
        ("480p", "21:9"): (992, 432),
        ("480p", "16:9"): (864, 496),
        ("480p", "4:3"): (752, 560),
        ("480p", "1:1"): (640, 640),
        ("480p", "3:4"): (560, 752),
        ("480p", "9:16"): (496, 864),
        ("720p", "21:9"): (1470, 630),
        ("720p", "16:9"): (1280, 720),
        ("720p", "4:3"): (1112, 834),
        ("720p", "1:1"): (960, 960),
        ("720p", "3:4"): (834, 1112),
        ("720p", "9:16"): (720, 1280),
        ("1080p", "21:9"): (2206, 946),
        ("1080p", "16:9"): (1920, 1080),
        ("1080p", "4:3"): (1664, 1248),
        ("1080p", "1:1"): (1440, 1440),
        ("1080p", "3:4"): (1248, 1664),
        ("1080p", "9:16"): (1080, 1920),
    }
)


def emulated_endpoint(endpoint: str) -> str:
    """The endpoint whose schema the emulator holds a request to: its own for a 2.0 image-to-video endpoint with a
    snapshot (standard 1080p, mini without ``bitrate_mode``), else 2.0 fast's (it renders image-to-video only).

    Args:
        endpoint: the id the request was submitted to.
    """
    endpoint = str(endpoint).strip("/")
    own = endpoint in SNAPSHOT_ENDPOINTS and kind(endpoint) == "image-to-video"
    return endpoint if own else f"{FAMILY}/fast/{KINDS[0]}"


#: Every resolution with a pixel size; which ones an endpoint offers is its snapshot's ``resolution`` enum.
SIZED_RESOLUTIONS: tuple[str, ...] = tuple(dict.fromkeys(r for r, _ in SIZES))


def resolutions_for(endpoint: str | None) -> tuple[str, ...]:
    """The resolutions ``endpoint`` offers (its snapshot's enum); every sized one for None or an id without one.

    Args:
        endpoint: a fal endpoint id (``"bytedance/seedance-2.0/image-to-video"`` offers ``"1080p"``), or None.
    """
    if endpoint is None or endpoint not in SNAPSHOT_ENDPOINTS:
        return SIZED_RESOLUTIONS
    return tuple(load_snapshot(endpoint).enum("resolution") or SIZED_RESOLUTIONS)


def resolution_problem(resolution: Any, endpoint: str | None, offered: tuple[Any, ...] | None = None) -> Problem | None:
    """None when ``endpoint`` offers ``resolution``, else the problem naming the field and the endpoint.

    Args:
        resolution: the value asked for.
        endpoint: the fal endpoint id (None: any resolution with a size will do).
        offered: the resolutions the endpoint's schema lists (default: its snapshot's).
    """
    offered = offered if offered is not None else resolutions_for(endpoint)
    if any(type(resolution) is type(r) and resolution == r for r in offered):
        return None
    where = f" by {endpoint}" if endpoint else ""
    if resolution == "1080p" and tier(endpoint or "") != "standard":
        where += " (1080p is the standard tier's: bytedance/seedance-2.0/image-to-video, text-to-video, ...)"
    allowed = ", ".join(repr(r) for r in offered)
    return Problem("resolution", f"is not offered{where}", resolution, allowed, type="enum")


# --------------------------------------------------------------------------- sizes and cost

#: The default endpoint's shipped schema: the enums below are read from it, not written here.
_SNAPSHOT = load_snapshot(DEFAULT_ENDPOINT)
RESOLUTIONS: tuple[str, ...] = tuple(_SNAPSHOT.enum("resolution") or ())  # ("480p", "720p")
DURATIONS: tuple[str, ...] = tuple(_SNAPSHOT.enum("duration") or ())  # ("auto", "4", ..., "15")
ASPECT_RATIOS: tuple[str, ...] = tuple(_SNAPSHOT.enum("aspect_ratio") or ())  # ("auto", "21:9", ..., "9:16")
BITRATE_MODES: tuple[str, ...] = tuple(_SNAPSHOT.enum("bitrate_mode") or ())  # ("standard", "high")
MIN_SECONDS, MAX_SECONDS = 4, 15
#: Seconds assumed for ``duration="auto"`` in a point estimate (the range 4-15 s is always given too).
AUTO_DURATION_ESTIMATE = 5
#: fal's price for 2.0 fast: USD per 1,000 tokens, tokens = w * h * seconds * 24 / 1024. Kept for compatibility:
#: each endpoint's own price is :func:`seedance_nb.endpoints.price_per_1k_tokens` (standard $0.014, mini ...).
PRICE_PER_1K_TOKENS = FAST_PRICE

_RATIO_VALUES = {r: int(r.split(":")[0]) / int(r.split(":")[1]) for r in ASPECT_RATIOS if r != "auto"}


def _allowed(values: tuple[Any, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _normalise_duration(value: Any, durations: tuple[str, ...] = DURATIONS) -> str | None:
    """fal's string form of a duration (one of ``durations``), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and str(value) in durations and str(value) != "auto":
        return str(value)
    if isinstance(value, str) and value in durations:
        return value
    return None


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The fixed aspect ratio nearest to ``width / height`` (compared on a log scale)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    target = math.log(width / height)
    return min(_RATIO_VALUES, key=lambda r: abs(math.log(_RATIO_VALUES[r]) - target))


def output_size(
    resolution: str = "720p",
    aspect_ratio: str = "auto",
    image_size: tuple[int, int] | None = None,
    endpoint: str | None = DEFAULT_ENDPOINT,
) -> tuple[int, int]:
    """The video's (width, height) in pixels.

    ``aspect_ratio="auto"`` picks the ratio nearest the input image, so it
    needs ``image_size``.

    Args:
        resolution: ``"480p"``, ``"720p"`` or (standard tier) ``"1080p"``.
        aspect_ratio: one of :data:`ASPECT_RATIOS` (``"16:9"``, ...) or ``"auto"``.
        image_size: the input image's (width, height); required with ``aspect_ratio="auto"``.
        endpoint: check ``resolution`` against this endpoint's schema (default 2.0 fast's; None: any resolution
            with a pixel size).

    Raises:
        InputError: an unknown resolution (or one ``endpoint`` does not offer) or aspect ratio.
        ValueError: ``aspect_ratio="auto"`` without ``image_size``.
    """
    if problem := resolution_problem(resolution, endpoint):
        raise InputError([problem], context=f"invalid input for {endpoint}" if endpoint else "")
    if aspect_ratio == "auto":
        if image_size is None:
            raise ValueError("aspect_ratio='auto' follows the input image: pass image_size=(width, height)")
        aspect_ratio = nearest_aspect_ratio(*image_size)
    if aspect_ratio not in _RATIO_VALUES:
        raise InputError([Problem("aspect_ratio", "unknown aspect ratio", aspect_ratio, _allowed(ASPECT_RATIOS))])
    return SIZES[(resolution, aspect_ratio)]


def frame_count(seconds: int) -> int:
    """Frames in a nominal ``seconds`` clip at 24 fps (24 * d + 1, from ByteDance's token counts)."""
    return FPS * seconds + 1


@dataclass(frozen=True)
class CostEstimate:
    """An estimated price in USD. For ``duration="auto"`` it is a range with a stated point estimate.

    Attributes:
        usd: the point estimate.
        low_usd: the low end (the shortest video ``"auto"`` may give; ``usd`` for a fixed duration).
        high_usd: the high end (the longest).
        seconds: the video length the point estimate assumes.
        tokens: fal's billing units for ``usd`` (width x height x seconds x 24 / 1024).
        width: the output's width in pixels.
        height: the output's height in pixels.
        assumption: what was assumed, in words ("" when nothing was).
        endpoint: the endpoint whose price was applied.
        per_1k_tokens: that price, USD per 1,000 tokens (0.0 for an endpoint priced per second or per video).
        units: fal's billable units for ``usd`` in the rule's unit (None: thousands of ``tokens``).
        unit: what ``units`` count: ``"1k tokens"``, ``"second"`` or ``"video"``.
        rule: the endpoint's price rule in words ("" for the Seedance token rule written above).
    """

    usd: float
    low_usd: float
    high_usd: float
    seconds: float
    tokens: float
    width: int
    height: int
    assumption: str = ""
    endpoint: str = DEFAULT_ENDPOINT
    per_1k_tokens: float = PRICE_PER_1K_TOKENS
    units: float | None = None
    unit: str = "1k tokens"
    rule: str = ""

    @property
    def is_range(self) -> bool:
        return self.low_usd != self.high_usd

    def __str__(self) -> str:
        if not self.is_range:
            return f"${self.usd:.4f}"
        return f"${self.usd:.4f} (range ${self.low_usd:.4f}-${self.high_usd:.4f}; {self.assumption})"


def _usd(width: int, height: int, seconds: float, price: float, video_s: float | None) -> tuple[float, float]:
    tokens = video_tokens(width, height, seconds, video_s)
    return tokens * price / 1000, tokens


def estimate_cost(
    resolution: str = "720p",
    duration: str | int = "auto",
    aspect_ratio: str = "auto",
    image_size: tuple[int, int] | None = None,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    input_video_seconds: float | None = None,
) -> CostEstimate:
    """Estimate fal's price for one video on ``endpoint``.

    tokens = width x height x seconds x 24 / 1024, at the endpoint's price per 1,000 tokens
    (:func:`seedance_nb.endpoints.price_per_1k_tokens`: fast $0.0112, standard $0.014). Reference-to-video with
    input videos bills their seconds too, x 0.6. With ``aspect_ratio="auto"`` and no ``image_size`` the largest
    frame of that resolution is assumed (all ratios are within 1 % of each other).

    Args:
        resolution: one the endpoint offers (``"480p"``, ``"720p"``; ``"1080p"`` on the standard tier).
        duration: whole seconds (``4`` ... ``15``, as int or string) or ``"auto"`` (a range, with a stated
            point estimate).
        aspect_ratio: one of :data:`ASPECT_RATIOS` or ``"auto"``.
        image_size: the input image's (width, height), which fixes the frame under ``"auto"``.
        endpoint: the fal endpoint id whose price and resolutions apply.
        input_video_seconds: reference-to-video: the input videos' combined seconds (None: no video input).

    Raises:
        InputError: an unknown resolution (or one the endpoint does not offer), duration or aspect ratio.
    """
    fal_duration = _normalise_duration(duration)
    if fal_duration is None:  # the error shows the value the user gave
        raise InputError([Problem("duration", "unknown duration", duration, _allowed(DURATIONS))])
    if aspect_ratio == "auto" and image_size is None:
        output_size(resolution, "16:9", endpoint=endpoint)  # raises the field-named error
        width, height = max((SIZES[(resolution, r)] for r in _RATIO_VALUES), key=lambda s: s[0] * s[1])
    else:
        width, height = output_size(resolution, aspect_ratio, image_size, endpoint=endpoint)
    price = price_per_1k_tokens(endpoint)
    video_s = input_video_seconds
    if fal_duration == "auto":
        usd, tokens = _usd(width, height, AUTO_DURATION_ESTIMATE, price, video_s)
        low, _ = _usd(width, height, MIN_SECONDS, price, video_s)
        high, _ = _usd(width, height, MAX_SECONDS, price, video_s)
        return CostEstimate(
            usd=usd,
            low_usd=low,
            high_usd=high,
            seconds=AUTO_DURATION_ESTIMATE,
            tokens=tokens,
            width=width,
            height=height,
            assumption=f'duration "auto" assumed {AUTO_DURATION_ESTIMATE} s; the model picks 4-15 s',
            endpoint=endpoint,
            per_1k_tokens=price,
        )
    usd, tokens = _usd(width, height, int(fal_duration), price, video_s)
    return CostEstimate(usd, usd, usd, int(fal_duration), tokens, width, height, "", endpoint, price)


# --------------------------------------------------------------------------- endpoint ids

_NAMESPACES = ("workflows", "comfy")
_LEGACY_ID = re.compile(r"^([0-9]+)-([a-zA-Z0-9-]+)$")


@dataclass(frozen=True)
class EndpointId:
    """An endpoint id ``[namespace/]owner/alias[/path...]`` and the queue URLs built from it.

    Submit uses the full id; status, result, cancel and the status stream use
    ``[namespace/]owner/alias`` only (PROTOCOL.md section 1).
    """

    owner: str
    alias: str
    path: str = ""
    namespace: str | None = None

    @classmethod
    def parse(cls, endpoint: str) -> EndpointId:
        """Split an endpoint id into its parts.

        Args:
            endpoint: ``[namespace/]owner/alias[/path...]`` (or a legacy ``<number>-<alias>`` id).

        Raises:
            ValueError: not an endpoint id.
        """
        if not isinstance(endpoint, str) or not endpoint.strip("/"):
            raise ValueError(f"invalid endpoint id {endpoint!r}: expected 'owner/alias[/path]'")
        parts = endpoint.strip("/").split("/")
        if len(parts) == 1:
            legacy = _LEGACY_ID.match(parts[0])
            if not legacy:
                raise ValueError(f"invalid endpoint id {endpoint!r}: expected 'owner/alias[/path]'")
            parts = [legacy[1], legacy[2]]
        namespace = None
        if parts[0] in _NAMESPACES:
            namespace, parts = parts[0], parts[1:]
            if len(parts) < 2:
                raise ValueError(f"invalid endpoint id {endpoint!r}: expected '{namespace}/owner/alias[/path]'")
        if any(not p for p in parts):
            raise ValueError(f"invalid endpoint id {endpoint!r}: empty path segment")
        return cls(owner=parts[0], alias=parts[1], path="/".join(parts[2:]), namespace=namespace)

    @property
    def app(self) -> str:
        """``[namespace/]owner/alias``: the part status, result and cancel URLs use."""
        prefix = f"{self.namespace}/" if self.namespace else ""
        return f"{prefix}{self.owner}/{self.alias}"

    def __str__(self) -> str:
        return f"{self.app}/{self.path}" if self.path else self.app

    def submit_url(self, queue_url: str) -> str:
        """The submit URL (``POST``): the full id under the queue.

        Args:
            queue_url: the queue's base URL (``https://queue.fal.run`` or the emulator's).
        """
        return f"{queue_url.rstrip('/')}/{self}"

    def request_url(self, queue_url: str, request_id: str) -> str:
        """The result URL (``GET``); the status and cancel URLs extend it.

        Args:
            queue_url: the queue's base URL.
            request_id: the request's id.
        """
        return f"{queue_url.rstrip('/')}/{self.app}/requests/{request_id}"

    def status_url(self, queue_url: str, request_id: str) -> str:
        """The status URL (``GET``).

        Args:
            queue_url: the queue's base URL.
            request_id: the request's id.
        """
        return self.request_url(queue_url, request_id) + "/status"

    def stream_url(self, queue_url: str, request_id: str) -> str:
        """The status stream's URL (``GET``, server-sent events).

        Args:
            queue_url: the queue's base URL.
            request_id: the request's id.
        """
        return self.request_url(queue_url, request_id) + "/status/stream"

    def cancel_url(self, queue_url: str, request_id: str) -> str:
        """The cancel URL (``PUT``).

        Args:
            queue_url: the queue's base URL.
            request_id: the request's id.
        """
        return self.request_url(queue_url, request_id) + "/cancel"


set_public_module(__name__)
