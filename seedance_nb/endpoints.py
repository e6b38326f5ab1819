"""Each Seedance 2.0 endpoint's price and output sizes, with fal's source: the one owner of these facts. Pure.

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

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._names import set_public_module
from .errors import Problem
from .openapi_schema import SNAPSHOT_ENDPOINTS, load_snapshot

__all__ = [
    "FAST_PRICE",
    "MINI_PRICE",
    "SIZES",
    "STANDARD_PRICE",
    "VIDEO_INPUT_FACTOR",
    "Price",
    "emulated_endpoint",
    "endpoint_price",
    "kind",
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


set_public_module(__name__)
