"""The endpoint registry: the one owner of what a fal endpoint is. Pure, apart from :func:`add_endpoint`'s fetch.

Each :class:`Endpoint` holds its input schema snapshot (fal's OpenAPI document, shipped under
``seedance_nb/data/schemas``), its price rule (:mod:`seedance_nb.endpoints.rules`), its resolutions, durations and
pixel sizes, its output shape, and how the common inputs map onto its fields::

    from seedance_nb.endpoints import registry
    kling = registry.get("fal-ai/kling-video/v2.1/standard/image-to-video")
    sent, dropped = kling.map_inputs({"prompt": "a slow push-in", "image": url, "duration": 5, "seed": 3})
    # sent == {"prompt": ..., "image_url": url, "duration": "5"}; dropped == ("seed",): Kling 2.1 takes no seed
    kling.validate(sent)          # InputError naming the endpoint and the field, else the payload
    kling.estimate(sent).usd      # 0.28: fal's $0.056 per second x 5 s

Built in: Seedance 2.0 (mini, fast, standard x image-, text-, reference-to-video), Kling 2.1 standard, MiniMax
Hailuo-02 standard and Wan 2.5 image-to-video. :func:`add_endpoint` registers any other fal endpoint from its
OpenAPI document. ``sd.endpoints()`` is :func:`table`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InputError, Problem
from ..openapi_schema import SNAPSHOT_ENDPOINTS, FieldSpec, InputSchema, load_snapshot, snapshot_document
from .rules import PerSecond, PerTokens, PriceRule, price_rule
from .seedance import FAMILY, KINDS, PRICES, SIZES, TIERS, estimate_cost, nearest_aspect_ratio, resolution_problem
from .seedance import CostEstimate as CostEstimate

__all__ = ["Endpoint", "all_endpoints", "get", "register", "table"]

#: The common input names a grid writes, and the field each commonly becomes on an endpoint.
COMMON_ALIASES: Mapping[str, str] = MappingProxyType({"image": "image_url", "end_image": "end_image_url"})
#: Where an endpoint's end-frame field has another name.
_END_FRAME_NAMES = ("end_image_url", "tail_image_url", "last_frame_image_url")


@dataclass(frozen=True)
class Endpoint:
    """One fal endpoint: schema snapshot, price rule, sizes and limits, output shape and input mapping.

    Attributes:
        id: fal's endpoint id (``"fal-ai/kling-video/v2.1/standard/image-to-video"``).
        family: the model family (``"bytedance/seedance-2.0"``, ``"kling-video/v2.1"``).
        tier: the family's tier (``"fast"``, ``"standard"``, ``"mini"``; None when it has none).
        modality: ``"image-to-video"``, ``"text-to-video"`` or ``"reference-to-video"``.
        model: a short label for tables and galleries (``"seedance-2.0 fast"``, ``"kling-2.1 std"``).
        price: the price rule.
        price_source: where the price comes from (a fal page, or why it is assumed).
        source: where the schema snapshot comes from.
        snapshot_date: the day the snapshot was taken (``"2026-12-07"``).
        provisional: True when no fal source states the price.
        sizes: resolution -> landscape (width, height) for endpoints without Seedance's size table (assumed
            where fal publishes none; the orientation follows the image).
        output_fields: the fields of the output besides ``video`` (``("seed",)``).
        document: the OpenAPI document of an endpoint added at run time (None: the shipped snapshot).
        passthrough: fields sent although the snapshot lacks them (Seedance's ``seed``: fal's model page lists it,
            the generated types do not; docs/fal-fidelity.md).
    """

    id: str
    family: str
    tier: str | None
    modality: str
    model: str
    price: PriceRule
    price_source: str
    source: str
    snapshot_date: str
    provisional: bool = False
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    output_fields: tuple[str, ...] = ()
    document: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    passthrough: tuple[str, ...] = ()

    # ----------------------------------------------------------------- the schema and what it offers

    @property
    def schema(self) -> InputSchema:
        """The input schema (the shipped snapshot, or the added document), parsed once."""
        cached = _SCHEMAS.get(self.id)
        if cached is None:
            if self.document is not None:
                cached = InputSchema.from_openapi(self.document, self.id, source=self.source)
            elif self.id in SNAPSHOT_ENDPOINTS:
                cached = load_snapshot(self.id)
            else:
                cached = InputSchema.from_openapi(_shipped_document(self.id), self.id, source=self.source)
            _SCHEMAS[self.id] = cached
        return cached

    @property
    def is_seedance(self) -> bool:
        """True for a Seedance 2.0 endpoint (token-priced, Seedance's size table)."""
        return self.id in PRICES

    @property
    def resolutions(self) -> tuple[str, ...]:
        """The resolutions the schema offers (its ``resolution`` enum; else the sized ones)."""
        return tuple(self.schema.enum("resolution") or self.sizes or ())

    @property
    def durations(self) -> tuple[str, ...]:
        """The durations the schema offers, as fal writes them (``("5", "10")``; ``()`` when free)."""
        return tuple(str(d) for d in self.schema.enum("duration") or ())

    def default(self, name: str) -> Any:
        """The schema's default for field ``name`` (None when it states none).

        Args:
            name: the endpoint's field name.
        """
        spec = self.schema.fields.get(name)
        return spec.default if spec is not None and spec.has_default else None

    # ----------------------------------------------------------------- inputs

    def map_inputs(self, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The common inputs as this endpoint takes them, and the names of those it has no field for.

        ``image`` becomes ``image_url``, ``end_image`` the end-frame field (``end_image_url``, ``tail_image_url``),
        a duration is written as the schema types it (``5`` -> ``"5"``), a resolution in the schema's case
        (``"768p"`` -> ``"768P"``). A field the endpoint lacks is left out and named in ``dropped``; None values
        are left out silently.

        Args:
            inputs: field name -> value, in Seedance's names or the common ones (``image``, ``end_image``).
        """
        fields = self.schema.fields
        sent: dict[str, Any] = {}
        dropped: list[str] = []
        for name, value in inputs.items():
            if value is None:
                continue
            if name in self.passthrough:
                sent[name] = value
                continue
            target = self._field_for(name)
            if target is None:
                dropped.append(name)
                continue
            sent[target] = _as_schema_types(fields[target], value)
        return sent, tuple(dropped)

    def _field_for(self, name: str) -> str | None:
        fields = self.schema.fields
        if name in fields:
            return name
        name = COMMON_ALIASES.get(name, name)
        if name in fields:
            return name
        if name == "end_image_url":
            return next((n for n in _END_FRAME_NAMES if n in fields), None)
        return None

    def problems(self, payload: Mapping[str, Any]) -> list[Problem]:
        """What fal's validation would refuse in ``payload`` (this endpoint's field names), without raising.

        Required fields, types, enums (a duration as int or string), numeric bounds, text lengths and an empty
        prompt. Fields the schema does not declare are not refused (fal ignores them; :meth:`map_inputs` drops them).

        Args:
            payload: the request body (field name -> JSON value).
        """
        if not isinstance(payload, Mapping):
            return [Problem("input", "input must be a JSON object", type(payload).__name__, "a mapping of field names")]
        schema, checked = self.schema, self._normalised(payload)
        problems = [p for p in schema.problems(checked) if not (p.field == "resolution" and self.is_seedance)]
        if self.is_seedance and "resolution" in checked:
            problem = resolution_problem(checked["resolution"], self.id, self.resolutions)
            problems += [problem] if problem is not None else []
        prompt = checked.get("prompt")
        if isinstance(prompt, str) and not prompt.strip():
            problems.append(Problem("prompt", "must not be empty or only whitespace", prompt, "a non-empty text"))
        problems += _limit_problems(checked, schema.fields, _max_lengths(self))
        return problems

    def _normalised(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``payload`` with a whole-number duration written as the schema types it (``5`` -> ``"5"``)."""
        out, spec = dict(payload), self.schema.fields.get("duration")
        if spec is not None and "duration" in out:
            out["duration"] = _as_schema_types(spec, out["duration"])
        return out

    def validate(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``payload`` checked against this endpoint's schema: a copy of it as fal takes it (a duration of ``5``
        sent as ``"5"`` where the schema types it as text), or :class:`InputError` naming the endpoint and each
        bad field.

        Args:
            payload: the request body in this endpoint's field names (see :meth:`map_inputs`).
        """
        problems = self.problems(payload)
        if problems:
            raise InputError(problems, context=f"invalid input for {self.id}")
        return self._normalised(payload)

    # ----------------------------------------------------------------- sizes and price

    def output_size(
        self, resolution: str | None = None, aspect_ratio: str = "auto", image_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """The video's (width, height) at ``resolution`` (default: the schema's).

        Args:
            resolution: one of :attr:`resolutions` (None: the schema's default).
            aspect_ratio: a fixed ratio (``"16:9"``) or ``"auto"`` (follows ``image_size``; landscape without one).
            image_size: the input image's (width, height).
        """
        resolution = resolution or self.default("resolution") or next(iter(self.resolutions or ("720p",)))
        if self.is_seedance:
            ratio = aspect_ratio if aspect_ratio != "auto" else None
            ratio = ratio or (nearest_aspect_ratio(*image_size) if image_size else "16:9")
            return SIZES[(resolution, ratio)]
        long, short = self.sizes.get(resolution) or next(iter(self.sizes.values()), (1280, 720))
        if aspect_ratio in ("9:16", "3:4") or (aspect_ratio == "auto" and image_size and image_size[1] > image_size[0]):
            return short, long
        if aspect_ratio == "1:1":
            return short, short
        return long, short

    def estimate(
        self,
        inputs: Mapping[str, Any],
        image_size: tuple[int, int] | None = None,
        input_video_seconds: float | None = None,
    ) -> CostEstimate:
        """fal's price for one video with ``inputs`` (this endpoint's names), by this endpoint's own rule.

        Args:
            inputs: the request body (``resolution``, ``duration``, ``aspect_ratio``; missing ones take the
                schema's defaults).
            image_size: the input image's (width, height), which fixes the frame under ``aspect_ratio="auto"``.
            input_video_seconds: reference-to-video: the input videos' combined seconds.
        """
        resolution = inputs.get("resolution") or self.default("resolution")
        duration = inputs.get("duration", self.default("duration"))
        aspect_ratio = inputs.get("aspect_ratio") or "auto"
        if self.is_seedance:
            return estimate_cost(
                resolution or "720p",
                duration if duration is not None else "auto",
                aspect_ratio,
                image_size,
                endpoint=self.id,
                input_video_seconds=input_video_seconds,
            )
        seconds = _seconds(duration, self)
        width, height = self.output_size(resolution, aspect_ratio, image_size)
        units = self.price.units(width, height, seconds, input_video_seconds)
        usd = units * self._unit_usd(resolution)
        per_1k = self.price.per_1k_tokens if isinstance(self.price, PerTokens) else 0.0
        tokens = units * 1000 if isinstance(self.price, PerTokens) else 0.0
        rule = self.price.describe()
        return CostEstimate(
            usd, usd, usd, seconds, tokens, width, height, "", self.id, per_1k, units, self.price.unit, rule
        )

    def _unit_usd(self, resolution: Any) -> float:
        try:
            return self.price.unit_usd(resolution)
        except KeyError:
            allowed = ", ".join(repr(r) for r in self.resolutions)
            raise InputError(
                [Problem("resolution", f"is not offered by {self.id}", resolution, allowed, type="enum")]
            ) from None

    def cost_of_units(self, billed_units: float, resolution: str | None = None) -> float:
        """USD for fal's ``x-fal-billable-units`` on this endpoint (units in the rule's unit).

        Args:
            billed_units: what fal billed.
            resolution: the job's resolution (per-second and per-video rules by resolution).
        """
        return round(billed_units * self.price.unit_usd(resolution or self.default("resolution")), 6)

    def output(self, video: Mapping[str, Any], seed: int | None = None, prompt: str | None = None) -> dict[str, Any]:
        """This endpoint's output JSON for one video (``{"video": {...}}`` plus its other fields).

        Args:
            video: fal's file object for the video.
            seed: the seed used (sent when the output has a ``seed``).
            prompt: the prompt used (sent as ``actual_prompt`` when the output has one).
        """
        out: dict[str, Any] = {"video": dict(video)}
        if "seed" in self.output_fields and seed is not None:
            out["seed"] = seed
        if "actual_prompt" in self.output_fields and prompt is not None:
            out["actual_prompt"] = prompt
        return out

    def openapi_document(self) -> dict[str, Any]:
        """A copy of this endpoint's OpenAPI document as fal serves it (without seedance-nb's snapshot notes)."""
        document = copy.deepcopy(dict(_document(self)))
        document.pop("x-seedance-nb-snapshot", None)
        return document

    def row(self) -> dict[str, Any]:
        """This endpoint as one row of :func:`table`."""
        return {
            "id": self.id,
            "model": self.model,
            "family": self.family,
            "tier": self.tier,
            "modality": self.modality,
            "resolutions": ", ".join(self.resolutions),
            "durations": ", ".join(self.durations) or "any",
            "price_rule": self.price.describe(),
            "provisional": self.provisional,
            "snapshot_date": self.snapshot_date,
            "price_source": self.price_source,
        }


# --------------------------------------------------------------------------- helpers

_SCHEMAS: dict[str, InputSchema] = {}
_MAX_LENGTHS: dict[str, Mapping[str, int]] = {}


def _shipped_document(endpoint: str) -> dict[str, Any]:
    name = endpoint.replace("/", "__") + ".json"
    document: dict[str, Any] = json.loads((resources.files("seedance_nb") / "data" / "schemas" / name).read_text())
    return document


def _document(endpoint: Endpoint) -> Mapping[str, Any]:
    if endpoint.document is not None:
        return endpoint.document
    if endpoint.id in SNAPSHOT_ENDPOINTS:
        return snapshot_document(endpoint.id)
    return _shipped_document(endpoint.id)


def _max_lengths(endpoint: Endpoint) -> Mapping[str, int]:
    """The ``maxLength`` of each text field (InputSchema keeps no lengths), read once."""
    known = _MAX_LENGTHS.get(endpoint.id)
    if known is None:
        from ..openapi_schema import _input_object

        props = _input_object(_document(endpoint), endpoint.id).get("properties", {})
        known = {k: v["maxLength"] for k, v in props.items() if isinstance(v, Mapping) and "maxLength" in v}
        _MAX_LENGTHS[endpoint.id] = known
    return known


def _limit_problems(
    payload: Mapping[str, Any], fields: Mapping[str, FieldSpec], lengths: Mapping[str, int]
) -> list[Problem]:
    problems: list[Problem] = []
    for name, value in payload.items():
        spec = fields.get(name)
        if spec is None or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and (spec.minimum is not None or spec.maximum is not None):
            low = spec.minimum if spec.minimum is not None else float("-inf")
            high = spec.maximum if spec.maximum is not None else float("inf")
            if not low <= value <= high:
                problems.append(Problem(name, "is out of range", value, f"{low:g}..{high:g}", type="less_than_equal"))
        if isinstance(value, str) and name in lengths and len(value) > lengths[name]:
            problems.append(
                Problem(name, f"is {len(value)} characters", None, f"at most {lengths[name]}", type="string_too_long")
            )
    return problems


def _as_schema_types(spec: FieldSpec, value: Any) -> Any:
    """``value`` written as ``spec`` types it: a whole-number duration as ``"5"`` or ``5``, a resolution's case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    kinds = spec.type.split("|")
    if isinstance(value, int) and "string" in kinds and "integer" not in kinds:
        return str(value)
    if isinstance(value, str) and value.isdigit() and "integer" in kinds and "string" not in kinds:
        return int(value)
    if isinstance(value, str) and spec.enum and value not in spec.enum:
        return next((v for v in spec.enum if isinstance(v, str) and v.lower() == value.lower()), value)
    return value


def _seconds(duration: Any, endpoint: Endpoint) -> int:
    text = str(duration) if duration is not None else ""
    if text.isdigit():
        return int(text)
    allowed = ", ".join(repr(d) for d in endpoint.durations) or "whole seconds"
    raise InputError([Problem("duration", f"is not offered by {endpoint.id}", duration, allowed, type="enum")])


# --------------------------------------------------------------------------- the table

_REGISTRY: dict[str, Endpoint] = {}


def register(endpoint: Endpoint, *, replace: bool = False) -> Endpoint:
    """Add ``endpoint`` to the registry (every lookup, estimate and the emulator then know it).

    Args:
        endpoint: the :class:`Endpoint`.
        replace: allow replacing an endpoint with the same id (else :class:`InputError`).
    """
    if endpoint.id in _REGISTRY and not replace:
        raise InputError(
            [Problem("endpoint", "is registered already", endpoint.id, "replace=True to replace it", type="duplicate")]
        )
    _SCHEMAS.pop(endpoint.id, None)
    _MAX_LENGTHS.pop(endpoint.id, None)
    _REGISTRY[endpoint.id] = endpoint
    return endpoint


def unregister(endpoint_id: str) -> Endpoint | None:
    """Remove an endpoint from the registry (an added one; a built-in comes back on the next import).

    Args:
        endpoint_id: fal's endpoint id.
    """
    _SCHEMAS.pop(endpoint_id, None)
    _MAX_LENGTHS.pop(endpoint_id, None)
    return _REGISTRY.pop(str(endpoint_id).strip("/"), None)


def get(endpoint_id: str) -> Endpoint:
    """The registered endpoint ``endpoint_id``; :class:`InputError` naming ``endpoint`` and the known ids.

    Args:
        endpoint_id: fal's endpoint id.
    """
    found = _REGISTRY.get(str(endpoint_id).strip("/")) if isinstance(endpoint_id, str) else None
    if found is None:
        raise InputError(
            [
                Problem(
                    "endpoint",
                    "is not a registered endpoint (sd.add_endpoint(...) adds one from fal's OpenAPI)",
                    endpoint_id,
                    ", ".join(repr(e) for e in _REGISTRY),
                    type="enum",
                )
            ]
        )
    return found


def find(endpoint_id: str) -> Endpoint | None:
    """The registered endpoint ``endpoint_id``, or None.

    Args:
        endpoint_id: fal's endpoint id.
    """
    return _REGISTRY.get(str(endpoint_id).strip("/"))


def all_endpoints() -> tuple[Endpoint, ...]:
    """Every registered endpoint, in registration order (Seedance 2.0 first)."""
    return tuple(_REGISTRY.values())


def table() -> Any:
    """The registry as a pandas DataFrame: id, model, family, tier, modality, resolutions, durations, price rule,
    provisional, snapshot date, price source (one row per endpoint; ``sd.endpoints()``)."""
    import pandas as pd

    return pd.DataFrame([e.row() for e in all_endpoints()])


# --------------------------------------------------------------------------- the built-in endpoints

_FAL_JS = "fal-js libs/client/src/types/endpoints.ts (github.com/fal-ai/fal-js@381105e, 2026-08-02)"


def _seedance() -> None:
    for name, segment in TIERS.items():
        for kind in KINDS:
            endpoint = f"{FAMILY}/{segment}{kind}"
            price = PRICES[endpoint]
            meta = snapshot_document(endpoint).get("x-seedance-nb-snapshot", {})
            register(
                Endpoint(
                    id=endpoint,
                    family=FAMILY,
                    tier=name,
                    modality=kind,
                    model=f"seedance-2.0 {name}" + ("" if kind == "image-to-video" else f" {kind[0]}2v"),
                    price=PerTokens(per_1k_tokens=price.per_1k_tokens),
                    price_source=price.source,
                    source="; ".join(meta.get("sources", [])) or meta.get("url", ""),
                    snapshot_date=str(meta.get("taken", "")),
                    provisional=price.provisional,
                    output_fields=("seed",),
                    passthrough=("seed",),
                )
            )


def _others() -> None:
    llms = "https://fal.ai/models/{}/llms.txt (read 2026-12-07)"
    kling = "fal-ai/kling-video/v2.1/standard/image-to-video"
    hailuo = "fal-ai/minimax/hailuo-02/standard/image-to-video"
    wan = "fal-ai/wan-25-preview/image-to-video"
    for endpoint, family, tier, model, price, words, sizes, outputs in (
        (kling, "kling-video/v2.1", "standard", "kling-2.1 std", PerSecond({"*": 0.056}),
         "$0.28 for 5 s, $0.056 per further second", {"720p": (1280, 720)}, ()),
        (hailuo, "minimax/hailuo-02", "standard", "hailuo-02 std", PerSecond({"512P": 0.017, "768P": 0.045}),
         "$0.045/s at 768P, roughly $0.017/s at 512P", {"512P": (912, 512), "768P": (1366, 768)}, ()),
        (wan, "wan-2.5", None, "wan-2.5", PerSecond({"480p": 0.05, "720p": 0.10, "1080p": 0.15}),
         "$0.05/s at 480p, $0.10/s at 720p, $0.15/s at 1080p",
         {"480p": (832, 480), "720p": (1280, 720), "1080p": (1920, 1080)}, ("seed", "actual_prompt")),
    ):  # fmt: skip
        meta = _shipped_document(endpoint)["x-seedance-nb-snapshot"]
        register(
            Endpoint(
                id=endpoint,
                family=family,
                tier=tier,
                modality="image-to-video",
                model=model,
                price=price,
                price_source=f"{llms.format(endpoint)}: {words}",
                source="; ".join(meta["sources"]),
                snapshot_date=meta["taken"],
                sizes=MappingProxyType(sizes),
                output_fields=outputs,
            )
        )


_seedance()
_others()

#: Kept for callers that read the path of a shipped snapshot.
SCHEMA_DIR = Path(str(resources.files("seedance_nb") / "data" / "schemas"))
__all__ += ["find", "price_rule", "unregister"]
