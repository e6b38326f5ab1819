"""The model's contract: inputs, outputs, sizes, prices and endpoint URLs. Pure, no I/O.

Everything here is checked locally so nothing the model would refuse is ever
paid for::

    >>> inp = VideoInput(prompt="the camera pushes in", image_url="https://x/cat.png", duration=5)
    >>> inp.to_payload()
    {'prompt': 'the camera pushes in', 'image_url': 'https://x/cat.png', 'duration': '5'}
    >>> round(inp.estimate(image_size=(1280, 720)).usd, 4)
    1.2096

Facts come from ``shared/MODEL.md`` (fal's model page and ByteDance's docs) and
``shared/PROTOCOL.md`` section 1 (endpoint ids and queue URLs). The enums (resolution, duration,
aspect ratio, bitrate mode), types and required fields come from the snapshot of fal's published OpenAPI
schema shipped with the package (:mod:`seedance_nb.openapi_schema`); :func:`refresh` fetches fal's current
one and reports drift::

    >>> load_snapshot().fields["bitrate_mode"].enum
    ('standard', 'high')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ._names import set_public_module
from .endpoints import _SNAPSHOT, SIZES, _allowed, _normalise_duration, find, resolution_problem, resolutions_for

# The sizes, the cost estimate and endpoint ids live on the ground floor (seedance_nb.endpoints), below the
# references check that prices a job too; they stay importable from here as they always were.
from .endpoints import ASPECT_RATIOS as ASPECT_RATIOS
from .endpoints import AUTO_DURATION_ESTIMATE as AUTO_DURATION_ESTIMATE
from .endpoints import BITRATE_MODES as BITRATE_MODES
from .endpoints import DURATIONS as DURATIONS
from .endpoints import FPS as FPS
from .endpoints import MAX_SECONDS as MAX_SECONDS
from .endpoints import MIN_SECONDS as MIN_SECONDS
from .endpoints import PRICE_PER_1K_TOKENS as PRICE_PER_1K_TOKENS
from .endpoints import RESOLUTIONS as RESOLUTIONS
from .endpoints import CostEstimate as CostEstimate
from .endpoints import EndpointId as EndpointId
from .endpoints import estimate_cost as estimate_cost
from .endpoints import frame_count as frame_count
from .endpoints import nearest_aspect_ratio as nearest_aspect_ratio
from .endpoints import output_size as output_size
from .errors import InputError, Problem, ProtocolError
from .openapi_schema import (
    DEFAULT_ENDPOINT,
    SNAPSHOT_ENDPOINTS,
    InputSchema,
    SchemaDrift,
    check_drift_daily,
    check_drift_daily_async,
    current_schema,
    load_snapshot,
    refresh,
    refresh_async,
    seed_honoured,
    snapshot_document,
    warn_unsupported_fields,
)
from .validation import IMAGE_MIME_TYPES as IMAGE_MIME_TYPES
from .validation import MAX_IMAGE_BYTES as MAX_IMAGE_BYTES

# The image limits stay importable from here (files, the emulator) as they always were.
from .validation import MAX_IMAGE_RATIO as MAX_IMAGE_RATIO
from .validation import MAX_IMAGE_SIDE as MAX_IMAGE_SIDE
from .validation import MIN_IMAGE_RATIO as MIN_IMAGE_RATIO
from .validation import MIN_IMAGE_SIDE as MIN_IMAGE_SIDE
from .validation import _image_url_problem, _json_problem, _text_problem, null_problems, unknown_field_problems

__all__ = [
    "ASPECT_RATIOS",
    "AUTO_DURATION_ESTIMATE",
    "BITRATE_MODES",
    "DEFAULT_ENDPOINT",
    "DURATIONS",
    "FPS",
    "MAX_IMAGE_BYTES",
    "PRICE_PER_1K_TOKENS",
    "RESOLUTIONS",
    "SIZES",
    "SNAPSHOT_ENDPOINTS",
    "CostEstimate",
    "EndpointId",
    "File",
    "InputSchema",
    "SchemaDrift",
    "VideoInput",
    "VideoOutput",
    "check_drift_daily",
    "check_drift_daily_async",
    "check_payload",
    "current_schema",
    "estimate_cost",
    "frame_count",
    "load_snapshot",
    "nearest_aspect_ratio",
    "output_size",
    "refresh",
    "refresh_async",
    "resolutions_for",
    "seed_honoured",
    "snapshot_document",
    "validate_payload",
    "warn_unsupported_fields",
]

SEED_MAX = 2**31 - 1


# --------------------------------------------------------------------------- input


def _one_of(value: Any, allowed: tuple[Any, ...]) -> bool:
    """``value in allowed`` with types compared too (``True`` is not ``1``); safe for unhashable values."""
    return any(type(value) is type(a) and value == a for a in allowed)


#: ByteDance advises prompts of at most 1,000 English words (MODEL.md); fal states no limit. Longer prompts
#: are refused locally (a word count, and a character count for scripts written without spaces).
MAX_PROMPT_WORDS = 1000
MAX_PROMPT_CHARS = 10_000
#: fal's request body limit (ByteDance: 64 MB); payloads are kept under it with room for headers.
MAX_BODY_BYTES = 60 * 1024 * 1024


#: Fields checked here field by field (with their own messages); the schema checks every other field it declares.
_SPECIFIC = frozenset(
    {"prompt", "image_url", "end_image_url", "resolution", "duration", "aspect_ratio", "generate_audio"}
    | {"seed", "end_user_id"}
)


#: Required-ness of these is checked one by one (with their own messages).
_IMAGE_AND_TEXT = frozenset({"prompt", "image_url", "end_image_url"})


def check_payload(payload: Mapping[str, Any], schema: InputSchema | None = None) -> list[Problem]:
    """Every problem in a raw input payload (fal's JSON), without raising.

    ``schema`` (default: the shipped snapshot of :data:`DEFAULT_ENDPOINT`) supplies the enums, the types
    and the required fields wherever it declares them; fields it does not declare are checked to be plain
    JSON and passed through (:func:`warn_unsupported_fields` names them). The emulator uses this to answer
    422s as fal would; :class:`VideoInput` raises :class:`InputError` with the same problems.

    Args:
        payload: the request body as fal receives it (field name to JSON value).
        schema: the endpoint's input schema; the shipped snapshot of :data:`DEFAULT_ENDPOINT` when omitted.

    Returns:
        The problems in field order (empty when the payload is valid).
    """
    if not isinstance(payload, Mapping):
        return [Problem("input", "input must be a JSON object", type(payload).__name__, "a mapping of field names")]
    schema = schema or _SNAPSHOT
    required = set(schema.required)
    problems = [p for p in (_prompt_problem(payload.get("prompt"), "prompt" in required),) if p is not None]
    problems += _image_problems(payload, required)
    problems += _choice_problems(payload, schema)
    for problem in (_seed_problem(payload.get("seed")), _end_user_problem(payload.get("end_user_id"))):
        if problem is not None:
            problems.append(problem)
    problems += _other_field_problems(payload, schema)
    size = sum(len(v) for v in payload.values() if isinstance(v, str))
    if size > MAX_BODY_BYTES:
        problems.append(
            Problem(
                "input",
                f"the request would be about {size / 1e6:.0f} MB, over fal's body limit",
                None,
                "images under 4 MB each are inlined; larger ones are uploaded (pass a path, not a data URI)",
                type="body_too_large",
            )
        )
    return problems


def _prompt_problem(prompt: Any, required: bool) -> Problem | None:
    if prompt is None:
        return Problem("prompt", "is required", None, "a non-empty text", type="missing") if required else None
    if not isinstance(prompt, str):
        return Problem("prompt", "must be text", prompt, "a non-empty text", type="string_type")
    if not prompt.strip():
        return Problem("prompt", "must not be empty or only whitespace", prompt, "a non-empty text")
    if problem := _text_problem("prompt", prompt):
        return problem
    if len(prompt) > MAX_PROMPT_CHARS or len(prompt.split()) > MAX_PROMPT_WORDS:
        return Problem(
            "prompt",
            f"is {len(prompt.split())} words / {len(prompt)} characters; ByteDance advises at most "
            f"{MAX_PROMPT_WORDS} words",
            None,
            f"at most {MAX_PROMPT_WORDS} words and {MAX_PROMPT_CHARS} characters",
            type="string_too_long",
        )
    return None


def _image_problems(payload: Mapping[str, Any], required: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    allowed = "an http(s) URL or a data:image/... URI"
    for name in ("image_url", "end_image_url"):
        url = payload.get(name)
        if url is None:
            if name in required:
                problems.append(Problem(name, "is required", None, allowed, type="missing"))
        elif not isinstance(url, str):
            problems.append(Problem(name, "must be a URL string", url, allowed, type="string_type"))
        elif problem := _image_url_problem(name, url):  # remembered: a grid's jobs share one URL string
            problems.append(problem)
    return problems


def _choice_problems(payload: Mapping[str, Any], schema: InputSchema) -> list[Problem]:
    """resolution, duration, aspect_ratio and generate_audio: the schema's enums, else the model's."""
    problems: list[Problem] = []
    offered = schema.enum("resolution") or RESOLUTIONS
    if "resolution" in payload and (problem := resolution_problem(payload["resolution"], schema.endpoint, offered)):
        problems.append(problem)
    durations = tuple(str(d) for d in schema.enum("duration") or DURATIONS)
    if "duration" in payload and _normalise_duration(payload["duration"], durations) is None:
        seconds = [d for d in durations if d != "auto"]
        span = f"whole seconds {seconds[0]}..{seconds[-1]}" if seconds else "no fixed lengths"
        problems.append(
            Problem(
                "duration",
                "unknown duration",
                payload["duration"],
                f"'auto' or {span} (as int or string)" if "auto" in durations else f"{span} (as int or string)",
                type="enum",
            )
        )
    ratios = schema.enum("aspect_ratio") or ASPECT_RATIOS
    if "aspect_ratio" in payload and not _one_of(payload["aspect_ratio"], ratios):
        problems.append(
            Problem("aspect_ratio", "unknown aspect ratio", payload["aspect_ratio"], _allowed(ratios), type="enum")
        )
    if "generate_audio" in payload and not isinstance(payload["generate_audio"], bool):
        problems.append(
            Problem(
                "generate_audio", "must be true or false", payload["generate_audio"], "True, False", type="bool_type"
            )
        )
    return problems


def _seed_problem(seed: Any) -> Problem | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        return Problem("seed", "must be a whole number", seed, f"0..{SEED_MAX}", type="int_type")
    if not 0 <= seed <= SEED_MAX:
        return Problem("seed", "is out of range", seed, f"0..{SEED_MAX}", type="less_than_equal")
    return None


def _end_user_problem(value: Any) -> Problem | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return Problem("end_user_id", "must be text", value, "a string", type="string_type")
    return _text_problem("end_user_id", value)


def _other_field_problems(payload: Mapping[str, Any], schema: InputSchema) -> list[Problem]:
    """Field names that are not text, values that are not plain JSON, and the schema's word (type, enum,
    required) on every field it declares beyond the ones checked above."""
    problems: list[Problem] = []
    plain: dict[str, Any] = {}
    not_json: set[str] = set()
    for name, value in payload.items():
        if not isinstance(name, str) or _text_problem("field name", name):
            problems.append(Problem("input", "has a field name that is not text", None, "text field names"))
        elif name not in _SPECIFIC:
            if problem := _json_problem(name, value):
                problems.append(problem)
                not_json.add(name)
            else:
                plain[name] = value
    problems.extend(schema.problems(plain, skip=_SPECIFIC | not_json, skip_required=schema.required))
    problems.extend(null_problems(plain, schema, skip=_SPECIFIC))
    present = {name: value for name, value in payload.items() if isinstance(name, str)}
    problems.extend(schema.problems(present, skip=present, skip_required=_IMAGE_AND_TEXT | not_json))
    return problems


#: VideoInput's fields that are not model inputs.
_NOT_PAYLOAD = frozenset({"extra", "explicit", "endpoint"})


def _input_schema(endpoint: str) -> InputSchema:
    """``endpoint``'s shipped schema; the default endpoint's for an id without one (sent as image-to-video)."""
    return load_snapshot(endpoint) if endpoint in SNAPSHOT_ENDPOINTS else _SNAPSHOT


_DEFAULTS: dict[str, Any] = {
    "end_image_url": None,
    "resolution": "720p",
    "duration": "auto",
    "aspect_ratio": "auto",
    "generate_audio": True,
    "seed": None,
    "end_user_id": None,
}


@dataclass(frozen=True)
class VideoInput:
    """One request to the model, validated on construction.

    Defaults are fal's. ``duration`` accepts ``"auto"``, ``"4"``..``"15"`` or
    the ints 4..15 and is stored in fal's string form. ``extra`` holds the
    schema's other fields (``bitrate_mode``), held to its types and enums; a
    field fal's schema does not list is refused ("did you mean ...?") unless
    ``allow_unknown=True``, then it is sent untouched. Raises :class:`InputError` listing every bad field at once.

    Args:
        prompt: what happens in the video.
        image_url: the start image: an http(s) URL or a ``data:image/...;base64,`` URI.
        end_image_url: the image the video ends on, in the same forms.
        resolution: ``"480p"`` or ``"720p"``.
        duration: ``"auto"`` or whole seconds 4..15 (int or string).
        aspect_ratio: ``"auto"`` (follows the image) or one of :data:`ASPECT_RATIOS`.
        generate_audio: make a soundtrack.
        seed: a fixed seed (the same request then likely gives the same video).
        end_user_id: the end user fal attributes the request to.
        extra: the schema's other fields (``bitrate_mode``), sent as given.
        explicit: optional fields given explicitly in a payload (kept so payloads round-trip).
        endpoint: the fal endpoint the input is for: its schema snapshot checks the fields (the standard tier
            offers ``"1080p"``) and its price makes :meth:`estimate`. Not part of the payload.
        allow_unknown: send fields in ``extra`` that fal's schema does not list (with the sweep's warning)
            instead of refusing them; kept by :meth:`replace`.
    """

    prompt: str
    image_url: str
    end_image_url: str | None = None
    resolution: str = "720p"
    duration: str = "auto"
    aspect_ratio: str = "auto"
    generate_audio: bool = True
    seed: int | None = None
    end_user_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Optional fields that were given explicitly in a payload (kept so payloads round-trip).
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    allow_unknown: InitVar[bool] = False

    def __post_init__(self, allow_unknown: bool) -> None:
        payload = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_PAYLOAD}
        snapshot = _input_schema(self.endpoint)
        problems = check_payload(payload, snapshot)
        if not isinstance(self.extra, Mapping):
            problems.append(Problem("extra", "must be a mapping of field names to values", self.extra, "a dict"))
        else:
            clash = sorted(set(self.extra) & set(payload), key=str)
            if clash:
                problems.append(
                    Problem("extra", f"repeats known fields {clash}", None, "pass known fields as arguments")
                )
            plain = {}
            for name, value in self.extra.items():
                problem = _json_problem(str(name), value)
                if problem:
                    problems.append(problem)
                elif isinstance(name, str) and name not in payload:
                    plain[name] = value
            # Extra fields the snapshot declares (bitrate_mode) are held to its type and enum; others refused.
            problems.extend(snapshot.problems(plain, skip=_SPECIFIC, skip_required=snapshot.required))
            problems.extend(null_problems(plain, snapshot))
            if not allow_unknown:
                problems.extend(unknown_field_problems(plain, self.endpoint))
        if problems:
            where = "" if self.endpoint == DEFAULT_ENDPOINT else f" for {self.endpoint}"
            raise InputError(problems, context=f"invalid VideoInput{where}")
        object.__setattr__(self, "_allow_unknown", bool(allow_unknown))
        object.__setattr__(self, "duration", _normalise_duration(self.duration))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        object.__setattr__(self, "explicit", frozenset(self.explicit))

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], endpoint: str = DEFAULT_ENDPOINT, *, allow_unknown: bool = True
    ) -> VideoInput:
        """Read fal's input JSON back; other fields go to ``extra``.

        Args:
            payload: the JSON object sent to fal (as :meth:`to_payload` makes it).
            endpoint: the endpoint it is for (its schema checks it).
            allow_unknown: keep fields fal's schema does not list (the default: what was sent is read back
                as it was); False refuses them as :class:`VideoInput` does.

        Raises:
            InputError: ``prompt`` or ``image_url`` is missing, or a field is invalid.
        """
        if not isinstance(payload, Mapping):
            raise InputError([Problem("input", "must be a JSON object", payload, "a dict")])
        known = {f.name for f in fields(cls)} - _NOT_PAYLOAD
        kwargs = {k: v for k, v in payload.items() if k in known}
        extra = {k: v for k, v in payload.items() if k not in known}
        missing = [
            Problem(name, "is required", None, "see the model's schema", type="missing")
            for name in ("prompt", "image_url")
            if name not in payload
        ]
        if missing:
            problems = check_payload(payload, _input_schema(endpoint))[len(missing) :]
            raise InputError(missing + problems, context="invalid input payload")
        explicit = frozenset(kwargs) & set(_DEFAULTS)
        return cls(**kwargs, extra=extra, explicit=explicit, endpoint=endpoint, allow_unknown=allow_unknown)

    def to_payload(self) -> dict[str, Any]:
        """Exactly the JSON fal expects: optional fields left out when unset (or at fal's default)."""
        out: dict[str, Any] = {"prompt": self.prompt, "image_url": self.image_url}
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if name in self.explicit or (value is not None and value != default):
                out[name] = value
        out.update(self.extra)
        return out

    def resolved(self) -> dict[str, Any]:
        """Every field with fal's defaults filled in: the meaning of the request, for cache keys."""
        out = {"prompt": self.prompt, "image_url": self.image_url}
        out.update({name: getattr(self, name) for name in _DEFAULTS})
        out.update(self.extra)
        return out

    def canonical_json(self) -> str:
        """Sorted, compact JSON of :meth:`resolved` (stable across runs)."""
        return json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def replace(self, **changes: Any) -> VideoInput:
        """A copy with some fields changed (validated again).

        Args:
            **changes: new field values; names that are not fields of the model's schema go to ``extra``
                (``extra=`` replaces it whole; ``allow_unknown=`` as in :class:`VideoInput`, else this
                input's own).
        """
        allow_unknown = bool(changes.pop("allow_unknown", self.__dict__.get("_allow_unknown", False)))
        known = {f.name for f in fields(self)} - {"explicit"}
        extra = dict(self.extra)
        kwargs = {name: getattr(self, name) for name in known if name != "extra"}  # endpoint included
        for key, value in changes.items():
            if key in known:
                kwargs[key] = value
            else:
                extra[key] = value
        if "extra" in changes:
            extra = dict(changes["extra"])
        kwargs["extra"] = extra
        explicit = self.explicit | (set(changes) & set(_DEFAULTS))
        return VideoInput(**kwargs, explicit=explicit, allow_unknown=allow_unknown)

    def estimate(self, image_size: tuple[int, int] | None = None) -> CostEstimate:
        """The estimated price of this request (see :func:`estimate_cost`).

        Args:
            image_size: the input image's (width, height), which fixes the frame when the ratio is ``auto``.
        """
        return estimate_cost(self.resolution, self.duration, self.aspect_ratio, image_size, endpoint=self.endpoint)

    def size(self, image_size: tuple[int, int] | None = None) -> tuple[int, int]:
        """The output (width, height) (see :func:`output_size`).

        Args:
            image_size: the input image's (width, height); needed when the ratio is ``auto``.
        """
        return output_size(self.resolution, self.aspect_ratio, image_size, endpoint=self.endpoint)

    def __repr__(self) -> str:
        def short(url: str | None) -> str | None:
            if url is None or len(url) <= 60:
                return url
            return url[:40] + f"...<{len(url)} chars>"

        parts = [f"prompt={self.prompt!r}", f"image_url={short(self.image_url)!r}"]
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={short(value) if name == 'end_image_url' else value!r}")
        if self.extra:
            parts.append(f"extra={dict(self.extra)!r}")
        if self.endpoint != DEFAULT_ENDPOINT:
            parts.append(f"endpoint={self.endpoint!r}")
        return f"VideoInput({', '.join(parts)})"


def validate_payload(payload: Mapping[str, Any], endpoint: str = DEFAULT_ENDPOINT) -> dict[str, Any]:
    """``payload`` checked against ``endpoint``'s shipped schema; a copy of it, or :class:`InputError`.

    For the family's other endpoints (text-to-video, reference-to-video, the standard and mini tiers), whose
    input :class:`VideoInput` does not model, and every other registered endpoint (the registry's
    :meth:`~seedance_nb.endpoints.Endpoint.validate`: Kling, Hailuo, Wan, ``sd.add_endpoint``'s).
    Reference-to-video's limits (counts, sizes, durations: :mod:`seedance_nb.references`) are checked too. An
    endpoint neither shipped nor registered is an :class:`InputError` naming ``endpoint``.

    Args:
        payload: the request body (field name to JSON value).
        endpoint: the fal endpoint id whose snapshot applies.
    """
    if endpoint not in SNAPSHOT_ENDPOINTS and (registered := find(endpoint)) is not None:
        return registered.validate(payload)  # Kling, Hailuo, Wan, sd.add_endpoint's: by their own snapshot
    schema = load_snapshot(endpoint)
    problems = check_payload(payload, schema)
    if endpoint.endswith("reference-to-video") and isinstance(payload, Mapping):
        from .references import reference_problems  # PyAV probes durations: loaded only for this kind

        problems += reference_problems(payload)
    if problems:
        raise InputError(problems, context=f"invalid input for {endpoint}")
    return dict(payload)


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class File:
    """A file fal returned: its URL and, when given, type, name and size."""

    url: str
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> File:
        """Parse fal's file object.

        Args:
            data: ``{"url": ..., "content_type": ..., "file_name": ..., "file_size": ...}``.

        Raises:
            ProtocolError: no ``url``, or a ``file_size`` that is not a non-negative integer.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("url"), str) or not data["url"]:
            raise ProtocolError(f"expected a file object with a 'url', got {str(data)[:200]!r}")
        size = data.get("file_size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise ProtocolError(f"file_size must be a non-negative integer, got {size!r}")
        name = data.get("file_name")
        ctype = data.get("content_type")
        return cls(
            url=data["url"],
            content_type=ctype if isinstance(ctype, str) else None,
            file_name=name if isinstance(name, str) else None,
            file_size=size,
        )

    def to_json(self) -> dict[str, Any]:
        """fal's file object, without the fields that are None."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class VideoOutput:
    """The model's output: ``{"video": File, "seed": int}``."""

    video: File
    seed: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> VideoOutput:
        """Parse the model's output.

        Args:
            data: ``{"video": {...}, "seed": ...}``; other fields are kept in ``extra``.

        Raises:
            ProtocolError: no ``video`` file, or a ``seed`` that is not an integer.
        """
        if not isinstance(data, Mapping) or "video" not in data:
            raise ProtocolError(f"expected the model's output with a 'video', got {str(data)[:200]!r}")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ProtocolError(f"seed must be an integer, got {seed!r}")
        extra = {k: v for k, v in data.items() if k not in ("video", "seed")}
        return cls(video=File.from_json(data["video"]), seed=seed, extra=MappingProxyType(extra))

    def to_json(self) -> dict[str, Any]:
        """The model's output as fal's JSON (what :meth:`from_json` reads)."""
        out: dict[str, Any] = {"video": self.video.to_json()}
        if self.seed is not None:
            out["seed"] = self.seed
        out.update(self.extra)
        return out


set_public_module(__name__)
