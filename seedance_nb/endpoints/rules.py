"""Price rules: how one fal endpoint turns a clip (its size, length and resolution) into USD. Pure.

fal quotes its video models in three shapes, and each rule here is one of them:

* :class:`PerTokens`: USD per 1,000 video tokens, tokens = width x height x seconds x 24 / 1024 (Seedance 2.0;
  reference-to-video also bills its input videos' seconds, x 0.6);
* :class:`PerSecond`: USD per second of output, by resolution (Wan 2.5 $0.05/$0.10/$0.15 for 480p/720p/1080p,
  Hailuo-02 $0.017/$0.045 for 512P/768P) or flat (Kling 2.1 standard $0.056/s);
* :class:`PerVideo`: USD per video, by resolution or flat (``sd.add_endpoint(..., price=0.10)``).

A rule prices a clip (:meth:`PriceRule.usd`) and reads fal's ``x-fal-billable-units`` back into USD
(:meth:`PriceRule.unit_usd`): thousands of tokens, seconds or videos, the unit the rule quotes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .seedance import FPS, VIDEO_INPUT_FACTOR

__all__ = ["PerSecond", "PerTokens", "PerVideo", "PriceRule", "price_rule"]

#: The key of a rule's table that applies to every resolution.
ANY = "*"


def _frozen(table: Mapping[str, float] | float) -> Mapping[str, float]:
    items = {ANY: float(table)} if isinstance(table, int | float) else {str(k): float(v) for k, v in table.items()}
    if not items or any(v < 0 for v in items.values()):
        raise ValueError(f"a price table needs non-negative USD figures, got {table!r}")
    return MappingProxyType(items)


@dataclass(frozen=True)
class PriceRule:
    """One endpoint's price rule (a subclass says how); ``unit`` names what fal's billable units count."""

    unit: str = field(default="", init=False)

    def unit_usd(self, resolution: str | None = None) -> float:
        """USD for one billable unit at ``resolution``.

        Args:
            resolution: the job's resolution (ignored by flat rules).
        """
        raise NotImplementedError

    def units(self, width: int, height: int, seconds: float, input_video_seconds: float | None = None) -> float:
        """fal's billable units for one clip.

        Args:
            width: the output's width in pixels.
            height: the output's height in pixels.
            seconds: the output's length.
            input_video_seconds: reference-to-video's input video seconds (token rules only).
        """
        raise NotImplementedError

    def usd(
        self,
        width: int,
        height: int,
        seconds: float,
        resolution: str | None = None,
        input_video_seconds: float | None = None,
    ) -> float:
        """USD for one clip.

        Args:
            width: the output's width in pixels.
            height: the output's height in pixels.
            seconds: the output's length.
            resolution: the job's resolution (by-resolution rules).
            input_video_seconds: reference-to-video's input video seconds (token rules only).
        """
        return self.units(width, height, seconds, input_video_seconds) * self.unit_usd(resolution)

    def describe(self) -> str:
        """The rule in words, as a price list writes it."""
        raise NotImplementedError


def _pick(table: Mapping[str, float], resolution: str | None, what: str) -> float:
    if resolution is not None and resolution in table:
        return table[resolution]
    if ANY in table:
        return table[ANY]
    if resolution is None and len(table) == 1:
        return next(iter(table.values()))
    raise KeyError(f"{what} has no price for resolution {resolution!r} (priced: {', '.join(table)})")


def _table_words(table: Mapping[str, float], unit: str) -> str:
    if set(table) == {ANY}:
        return f"${table[ANY]:g} per {unit}"
    return ", ".join(f"${usd:g}/{unit[0] if unit == 'second' else unit} at {res}" for res, usd in table.items())


@dataclass(frozen=True)
class PerTokens(PriceRule):
    """USD per 1,000 video tokens; tokens = width x height x seconds x 24 / 1024 (x 0.6 with input videos).

    Attributes:
        per_1k_tokens: USD per 1,000 tokens.
    """

    per_1k_tokens: float = 0.0
    unit: str = field(default="1k tokens", init=False)

    def unit_usd(self, resolution: str | None = None) -> float:
        """USD per 1,000 tokens (any resolution).

        Args:
            resolution: ignored (the tokens already count the pixels).
        """
        return self.per_1k_tokens

    def units(self, width: int, height: int, seconds: float, input_video_seconds: float | None = None) -> float:
        """Thousands of tokens for one clip.

        Args:
            width: the output's width in pixels.
            height: the output's height in pixels.
            seconds: the output's length.
            input_video_seconds: reference-to-video: the input videos' combined seconds (None: none given).
        """
        if input_video_seconds is None:
            return width * height * seconds * FPS / 1024 / 1000
        return width * height * (input_video_seconds + seconds) * FPS / 1024 * VIDEO_INPUT_FACTOR / 1000

    def describe(self) -> str:
        """The rule in words."""
        return f"${self.per_1k_tokens:g} per 1k tokens (w x h x s x 24 / 1024)"


@dataclass(frozen=True)
class PerSecond(PriceRule):
    """USD per second of output video, by resolution (``{"480p": 0.05, ...}``) or flat (``{"*": 0.056}``).

    Attributes:
        by_resolution: resolution -> USD per second (``"*"`` for every resolution).
    """

    by_resolution: Mapping[str, float] = field(default_factory=dict)
    unit: str = field(default="second", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_resolution", _frozen(self.by_resolution))

    def unit_usd(self, resolution: str | None = None) -> float:
        """USD per second at ``resolution``.

        Args:
            resolution: the job's resolution.
        """
        return _pick(self.by_resolution, resolution, "this per-second rule")

    def units(self, width: int, height: int, seconds: float, input_video_seconds: float | None = None) -> float:
        """The output's seconds.

        Args:
            width: unused.
            height: unused.
            seconds: the output's length.
            input_video_seconds: unused.
        """
        return float(seconds)

    def describe(self) -> str:
        """The rule in words."""
        return _table_words(self.by_resolution, "second")


@dataclass(frozen=True)
class PerVideo(PriceRule):
    """USD per video, by resolution or flat.

    Attributes:
        by_resolution: resolution -> USD per video (``"*"`` for every resolution).
    """

    by_resolution: Mapping[str, float] = field(default_factory=dict)
    unit: str = field(default="video", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_resolution", _frozen(self.by_resolution))

    def unit_usd(self, resolution: str | None = None) -> float:
        """USD per video at ``resolution``.

        Args:
            resolution: the job's resolution.
        """
        return _pick(self.by_resolution, resolution, "this per-video rule")

    def units(self, width: int, height: int, seconds: float, input_video_seconds: float | None = None) -> float:
        """One video.

        Args:
            width: unused.
            height: unused.
            seconds: unused.
            input_video_seconds: unused.
        """
        return 1.0

    def describe(self) -> str:
        """The rule in words."""
        return _table_words(self.by_resolution, "video")


def price_rule(price: Any) -> PriceRule:
    """A :class:`PriceRule` from what a user writes.

    Args:
        price: a :class:`PriceRule`; or ``{"per_second": 0.1}``, ``{"per_second": {"480p": 0.05, "720p": 0.1}}``,
            ``{"per_video": 0.4}``, ``{"per_1k_tokens": 0.0112}``.

    Raises:
        ValueError: none of these.
    """
    if isinstance(price, PriceRule):
        return price
    if isinstance(price, Mapping) and len(price) == 1:
        ((kind, value),) = price.items()
        if kind == "per_1k_tokens" and isinstance(value, int | float) and not isinstance(value, bool):
            return PerTokens(per_1k_tokens=float(value))
        if kind in ("per_second", "per_video") and isinstance(value, int | float | Mapping):
            table = _frozen(value)
            return PerSecond(by_resolution=table) if kind == "per_second" else PerVideo(by_resolution=table)
    raise ValueError(
        f"price={price!r} is not a price rule: write {{'per_second': 0.1}}, {{'per_second': {{'720p': 0.1}}}}, "
        "{'per_video': 0.4} or {'per_1k_tokens': 0.0112}"
    )
