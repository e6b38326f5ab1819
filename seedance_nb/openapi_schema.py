"""fal's published input schemas: the snapshots seedance-nb ships, fal's live document, and the drift between them.

fal publishes each endpoint's OpenAPI document at
``https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=<id>`` (no key needed). seedance-nb ships a
snapshot of it for each Seedance 2.0 endpoint (``seedance_nb/data/schemas/*.json``); local validation
(:func:`seedance_nb.schema.check_payload`) follows the snapshot, and :func:`refresh` tells you when fal's
live document has moved away from it::

    from seedance_nb import schema
    print(schema.refresh())                    # "fal's input schema for ... matches" or one readable diff
    schema.load_snapshot("bytedance/seedance-2.0/fast/text-to-video").fields["duration"].enum

Snapshots and what is inferred in them: each file carries ``x-seedance-nb-snapshot`` (its sources and the
fields no fal source states outright); docs/fal-fidelity.md explains the choices (``bitrate_mode`` is in,
``seed`` is out, so a seed gets a warning until fal's live document lists it).

With a key set, :func:`check_drift_daily` fetches fal's document at most once a day per endpoint and
caches it under ``$SEEDANCE_HOME/openapi/``; :func:`current_schema` then answers from fal's latest
document, else the snapshot. :func:`warn_unsupported_fields` names fields that schema lacks (before money
is spent) and :func:`seed_honoured` compares a job's output seed with the one it asked for.
Network and disk are touched only by ``refresh``/``check_drift_daily``/``current_schema``; the rest is pure.
"""

from __future__ import annotations

import copy
import functools
import html
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx

from ._names import set_public_module
from ._sync import run_sync
from .errors import APIError, InputError, NotFoundError, Problem, ProtocolError

__all__ = [
    "DEFAULT_ENDPOINT",
    "FAL_OPENAPI_URL",
    "SNAPSHOT_ENDPOINTS",
    "Change",
    "FieldSpec",
    "InputSchema",
    "SchemaDrift",
    "check_drift_daily",
    "check_drift_daily_async",
    "current_schema",
    "diff_schemas",
    "load_snapshot",
    "refresh",
    "refresh_async",
    "seed_honoured",
    "snapshot_document",
    "warn_unsupported_fields",
]

logger = logging.getLogger("seedance_nb.schema")

DEFAULT_ENDPOINT = "bytedance/seedance-2.0/fast/image-to-video"
"""The endpoint every call uses unless given another: Seedance 2.0 fast image-to-video on fal."""
#: Where fal publishes an endpoint's queue OpenAPI document (``?endpoint_id=<id>``); ``SEEDANCE_OPENAPI_URL``
#: overrides it (read when a fetch starts).
FAL_OPENAPI_URL = "https://fal.ai/api/openapi/queue/openapi.json"
#: Endpoints with a shipped snapshot: Seedance 2.0's three kinds, fast, standard and mini tier.
SNAPSHOT_ENDPOINTS: tuple[str, ...] = tuple(
    f"bytedance/seedance-2.0/{tier}{kind}"
    for tier in ("fast/", "", "mini/")
    for kind in ("image-to-video", "text-to-video", "reference-to-video")
)
#: The daily check's period (seconds).
DAY = 24 * 3600
_USER_AGENT = "seedance-nb/0.1 (python)"
#: fal's documents are tens of KB; anything far larger is not one.
_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


# --------------------------------------------------------------------------- the input schema


@dataclass(frozen=True)
class FieldSpec:
    """What the schema says about one input field: JSON type (``"string"``, ``"array<string>"``,
    ``"integer|null"``...), enum values, default (``has_default`` tells a default of None from none), and for
    forms (:mod:`seedance_nb.forms`) its bounds (``minimum``/``maximum``), title and description."""

    name: str
    type: str = ""
    enum: tuple[Any, ...] | None = None
    default: Any = None
    has_default: bool = False
    minimum: float | None = None
    maximum: float | None = None
    title: str = field(default="", compare=False)
    description: str = field(default="", compare=False)

    def describe(self) -> str:
        text = self.type or "any type"
        if self.enum is not None:
            text += ", one of " + ", ".join(repr(v) for v in self.enum)
        if self.has_default:
            text += f", default {self.default!r}"
        return text


@dataclass(frozen=True)
class InputSchema:
    """An endpoint's input as fal's OpenAPI document describes it (parsed in :meth:`from_openapi` only)."""

    endpoint: str
    fields: Mapping[str, FieldSpec]
    required: tuple[str, ...] = ()
    source: str = ""

    @classmethod
    def from_openapi(cls, document: Any, endpoint: str, source: str = "") -> InputSchema:
        """Read the input schema of ``endpoint`` out of fal's queue OpenAPI ``document``."""
        schema = _input_object(document, endpoint)
        props = schema.get("properties")
        if not isinstance(props, Mapping):
            raise ProtocolError(f"the OpenAPI document for {endpoint!r} has an input schema without properties")
        fields = {str(name): _field_spec(str(name), spec, document) for name, spec in props.items()}
        required = schema.get("required") or []
        if not isinstance(required, list):
            required = []
        return cls(endpoint, MappingProxyType(fields), tuple(str(r) for r in required), source)

    def enum(self, name: str) -> tuple[Any, ...] | None:
        spec = self.fields.get(name)
        return spec.enum if spec else None

    def problems(
        self, payload: Mapping[str, Any], skip: Iterable[str] = (), skip_required: Iterable[str] = ()
    ) -> list[Problem]:
        """Missing required fields, and wrong types or enum values of fields this schema declares.

        Fields in ``skip`` (checked more precisely elsewhere) and fields it does not declare are left alone:
        those get a warning, not a refusal (see :func:`warn_unsupported_fields`). Required fields in
        ``skip_required`` are not reported missing.
        """
        skipped, not_required = set(skip), set(skip_required)
        problems = [
            Problem(name, "is required", None, self.fields[name].describe() if name in self.fields else None, "missing")
            for name in self.required
            if name not in not_required and payload.get(name) is None
        ]
        for name, value in payload.items():
            spec = self.fields.get(name)
            if spec is None or name in skipped or value is None:
                continue
            if spec.type and not _has_type(value, spec.type):
                problems.append(Problem(name, f"must be {_type_words(spec.type)}", value, spec.describe(), "type"))
            elif spec.enum is not None and not _in_enum(value, spec.enum):
                words = name.replace("_", " ")
                allowed = ", ".join(repr(v) for v in spec.enum)
                problems.append(Problem(name, f"unknown {words}", value, allowed, type="enum"))
        return problems


def _resolve(node: Any, document: Any, depth: int = 0) -> Any:
    """``node`` with local ``$ref``s and one-element ``allOf``s followed (bounded)."""
    while isinstance(node, Mapping) and depth < 20:
        depth += 1
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = document
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, Mapping) else None
            if target is None:
                raise ProtocolError(f"the OpenAPI document has a dangling reference {ref[:200]!r}")
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            node = {**_resolve(all_of[0], document, depth), **{k: v for k, v in node.items() if k != "allOf"}}
            continue
        break
    return node


def _input_object(document: Any, endpoint: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ProtocolError(f"the OpenAPI document for {endpoint!r} is not a JSON object")
    paths = document.get("paths")
    path_item = paths.get(f"/{endpoint}") if isinstance(paths, Mapping) else None
    post: Any = path_item.get("post") if isinstance(path_item, Mapping) else None
    try:
        schema = post["requestBody"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        # fal's layout names the input component ``<Name>Input``: accept a document with exactly one.
        components = document.get("components", {})
        schemas = components.get("schemas", {}) if isinstance(components, Mapping) else {}
        inputs = [v for k, v in schemas.items() if str(k).endswith("Input")] if isinstance(schemas, Mapping) else []
        if len(inputs) != 1:
            raise ProtocolError(
                f"the OpenAPI document has no input schema for {endpoint!r} (no POST /{endpoint} request body)"
            ) from None
        schema = inputs[0]
    resolved = _resolve(schema, document)
    if not isinstance(resolved, Mapping):
        raise ProtocolError(f"the input schema for {endpoint!r} is not a JSON object")
    return resolved


def _field_spec(name: str, spec: Any, document: Any) -> FieldSpec:
    spec = _resolve(spec, document)
    if not isinstance(spec, Mapping):
        return FieldSpec(name)
    types: list[str] = []
    enum: list[Any] | None = list(spec["enum"]) if isinstance(spec.get("enum"), list) else None
    branches = spec.get("anyOf") or spec.get("oneOf")
    for branch in branches if isinstance(branches, list) else [spec]:
        branch = _resolve(branch, document)
        if not isinstance(branch, Mapping):
            continue
        types += [kind for kind in _branch_types(branch, document) if kind not in types]
        if branch is not spec and isinstance(branch.get("enum"), list):
            enum = (enum or []) + [v for v in branch["enum"] if v not in (enum or [])]
    minimum, maximum = _bounds([spec, *(branches if isinstance(branches, list) else [])], document)
    return FieldSpec(
        name=name,
        type="|".join(types),
        enum=tuple(enum) if enum is not None else None,
        default=copy.deepcopy(spec.get("default")),
        has_default="default" in spec,
        minimum=minimum,
        maximum=maximum,
        title=spec["title"] if isinstance(spec.get("title"), str) else "",
        description=spec["description"] if isinstance(spec.get("description"), str) else "",
    )


def _branch_types(branch: Mapping[str, Any], document: Any) -> list[str]:
    """The JSON types one branch of a field allows (``array<item type>`` for a typed list), in order."""
    types: list[str] = []
    kinds = branch.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if not isinstance(kind, str):
            continue
        if kind == "array":
            items = _resolve(branch.get("items"), document)
            item_type = items.get("type") if isinstance(items, Mapping) else None
            kind = f"array<{item_type}>" if isinstance(item_type, str) else "array"
        if kind not in types:
            types.append(kind)
    return types


def _bounds(nodes: list[Any], document: Any) -> tuple[float | None, float | None]:
    """The first ``minimum`` and ``maximum`` stated on a field or one of its branches (inclusive bounds)."""
    found: dict[str, float] = {}
    for node in nodes:
        node = _resolve(node, document)
        if not isinstance(node, Mapping):
            continue
        for key in ("minimum", "maximum"):
            value = node.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and key not in found:
                found[key] = value
    return found.get("minimum"), found.get("maximum")


_JSON_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, Mapping),
    "null": lambda v: v is None,
}


def _has_type(value: Any, type_text: str) -> bool:
    for kind in type_text.split("|"):
        if kind.startswith("array"):
            item = kind[6:-1] if kind.startswith("array<") else ""
            if isinstance(value, list | tuple) and all(not item or _has_type(v, item) for v in value):
                return True
        elif kind not in _JSON_TYPES or _JSON_TYPES[kind](value):
            return True
    return False


def _type_words(type_text: str) -> str:
    words = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false"}
    out = []
    for kind in type_text.split("|"):
        if kind.startswith("array<"):
            out.append(f"a list of {words.get(kind[6:-1], kind[6:-1])}")
        else:
            out.append(words.get(kind, "a list" if kind == "array" else f"a JSON {kind}"))
    return " or ".join(out)


def _in_enum(value: Any, enum: tuple[Any, ...]) -> bool:
    try:
        return any(type(value) is type(v) and value == v for v in enum)
    except TypeError:
        return False


# --------------------------------------------------------------------------- snapshots


def _snapshot_file(endpoint: str) -> str:
    return endpoint.replace("/", "__") + ".json"


def _unknown_endpoint(endpoint: Any) -> InputError:
    return InputError(
        [
            Problem(
                "endpoint",
                "has no schema snapshot in seedance-nb (is the id spelled as on fal.ai/models?)",
                endpoint,
                ", ".join(repr(e) for e in SNAPSHOT_ENDPOINTS),
                type="enum",
            )
        ]
    )


@functools.cache
def _snapshot_text(endpoint: str) -> str:
    # One segment per `/`: Traversable.joinpath takes a single name before Python 3.11.
    return (resources.files("seedance_nb") / "data" / "schemas" / _snapshot_file(endpoint)).read_text("utf-8")


def snapshot_document(endpoint: str = DEFAULT_ENDPOINT) -> dict[str, Any]:
    """A copy of the OpenAPI document seedance-nb ships for ``endpoint`` (with its ``x-seedance-nb-snapshot``)."""
    if not isinstance(endpoint, str) or endpoint not in SNAPSHOT_ENDPOINTS:
        raise _unknown_endpoint(endpoint)
    document: dict[str, Any] = json.loads(_snapshot_text(endpoint))
    return document


def load_snapshot(endpoint: str = DEFAULT_ENDPOINT) -> InputSchema:
    """The shipped input schema of ``endpoint``; an :class:`InputError` naming ``endpoint`` for an unknown id."""
    if not isinstance(endpoint, str) or endpoint not in SNAPSHOT_ENDPOINTS:
        raise _unknown_endpoint(endpoint)
    return _load_snapshot(endpoint)


@functools.cache
def _load_snapshot(endpoint: str) -> InputSchema:
    document = snapshot_document(endpoint)
    taken = document.get("x-seedance-nb-snapshot", {}).get("taken", "")
    return InputSchema.from_openapi(document, endpoint, source=f"seedance-nb's snapshot of {taken}".strip())


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is ``added``, ``removed``, ``type``, ``enum_added``, ``enum_removed``,
    ``default``, ``required`` or ``optional``."""

    field: str
    kind: str
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        values = ", ".join(repr(v) for v in (self.new if self.kind == "enum_added" else self.old or ()))
        return {
            "added": lambda: f"+ {self.field}: added ({self.new})",
            "removed": lambda: f"- {self.field}: removed (was {self.old})",
            "type": lambda: f"~ {self.field}: type {self.old} -> {self.new}",
            "enum_added": lambda: f"~ {self.field}: values added: {values}",
            "enum_removed": lambda: f"~ {self.field}: values removed: {values}",
            "default": lambda: f"~ {self.field}: default {self.old!r} -> {self.new!r}",
            "required": lambda: f"~ {self.field}: now required",
            "optional": lambda: f"~ {self.field}: no longer required",
        }[self.kind]()


def diff_schemas(old: InputSchema, new: InputSchema) -> tuple[Change, ...]:
    """What changed from ``old`` to ``new``: fields, types, enum values, defaults, required (not descriptions)."""
    changes: list[Change] = []
    for name in [*old.fields, *(n for n in new.fields if n not in old.fields)]:
        a, b = old.fields.get(name), new.fields.get(name)
        if a is None and b is not None:
            changes.append(Change(name, "added", None, b.describe()))
        elif b is None and a is not None:
            changes.append(Change(name, "removed", a.describe(), None))
        elif a is not None and b is not None:
            changes += _field_changes(name, a, b)
    for name in new.required:
        if name not in old.required and name in old.fields:
            changes.append(Change(name, "required"))
    for name in old.required:
        if name not in new.required and name in new.fields:
            changes.append(Change(name, "optional"))
    return tuple(changes)


def _field_changes(name: str, a: FieldSpec, b: FieldSpec) -> list[Change]:
    """How one field present in both schemas changed: its type, its enum values, its default."""
    changes: list[Change] = []
    if a.type != b.type:
        changes.append(Change(name, "type", a.type or "any", b.type or "any"))
    if a.enum != b.enum:
        before, after = list(a.enum or ()), list(b.enum or ())
        added = tuple(v for v in after if v not in before)
        removed = tuple(v for v in before if v not in after)
        if added:
            changes.append(Change(name, "enum_added", None, added))
        if removed:
            changes.append(Change(name, "enum_removed", removed, None))
    if (a.has_default, a.default) != (b.has_default, b.default):
        changes.append(
            Change(name, "default", a.default if a.has_default else None, b.default if b.has_default else None)
        )
    return changes


@dataclass(frozen=True)
class SchemaDrift:
    """fal's current input schema for ``endpoint`` compared with seedance-nb's snapshot. ``changed`` says
    whether they differ; ``str()`` and the notebook display show one readable diff."""

    endpoint: str
    changes: tuple[Change, ...]
    url: str = ""
    fetched_at: float = 0.0
    current: InputSchema | None = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def _headline(self) -> str:
        where = f" ({self.url})" if self.url else ""
        if not self.changes:
            return f"fal's input schema for {self.endpoint} matches seedance-nb's snapshot{where}."
        count = f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''}"
        return f"fal's input schema for {self.endpoint} differs from seedance-nb's snapshot{where}: {count}"

    def __str__(self) -> str:
        if not self.changes:
            return self._headline()
        lines = [self._headline(), *(f"  {c}" for c in self.changes)]
        lines.append(
            "  Local checks still follow the snapshot: upgrade seedance-nb, or pass extra fields through and "
            "watch the warnings before a paid run."
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(self._headline())}</b></p>"
        if not self.changes:
            return f'<div class="seedance-schema-drift">{head}</div>'
        rows = "".join(
            f"<tr><td><code>{html.escape(c.field)}</code></td><td>{html.escape(c.kind)}</td>"
            f"<td>{html.escape(str(c))}</td></tr>"
            for c in self.changes
        )
        header = "<thead><tr><th>field</th><th>change</th><th>detail</th></tr></thead>"
        table = f"<table>{header}<tbody>{rows}</tbody></table>"
        return f'<div class="seedance-schema-drift">{head}{table}</div>'


def _openapi_url(url: str | None) -> str:
    return url or os.environ.get("SEEDANCE_OPENAPI_URL") or FAL_OPENAPI_URL


async def _fetch_document(endpoint: str, url: str, client: httpx.AsyncClient | None, timeout: float) -> Any:
    own = client is None
    http = client or httpx.AsyncClient(
        headers={"User-Agent": _USER_AGENT}, timeout=httpx.Timeout(timeout), follow_redirects=True
    )
    try:
        # fal's OpenAPI is public: no Authorization header is ever sent with it.
        response = await http.get(url, params={"endpoint_id": endpoint})
    except httpx.HTTPError as exc:
        raise APIError(f"could not fetch fal's OpenAPI document for {endpoint!r} from {url}: {exc}", url=url) from exc
    finally:
        if own:
            await http.aclose()
    if response.status_code == 404:
        raise NotFoundError(
            f"fal publishes no OpenAPI document for endpoint {endpoint!r} (404 from {url}); check the id on "
            "fal.ai/models",
            status_code=404,
            url=url,
        )
    if response.status_code != 200:
        raise APIError(
            f"fetching fal's OpenAPI document for {endpoint!r} answered {response.status_code}",
            status_code=response.status_code,
            url=url,
        )
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise ProtocolError(f"the OpenAPI document for {endpoint!r} is {len(response.content)} bytes: not one")
    try:
        return response.json()
    except ValueError as exc:
        raise ProtocolError(f"the OpenAPI document for {endpoint!r} from {url} is not JSON") from exc


async def refresh_async(
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    url: str | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
) -> SchemaDrift:
    """Fetch fal's current OpenAPI document for ``endpoint`` and compare its input schema with the snapshot.

    ``url``: the document's address (default fal's, or ``SEEDANCE_OPENAPI_URL``; the emulator serves one at
    ``Emulator.openapi_url``). ``client``: an ``httpx.AsyncClient`` to use (not closed here). Raises
    :class:`InputError` for an endpoint without a snapshot (before any request), :class:`NotFoundError`
    when fal has no document for it, :class:`APIError` / :class:`ProtocolError` otherwise. Also refreshes
    the on-disk copy :func:`current_schema` reads.
    """
    baseline = load_snapshot(endpoint)
    address = _openapi_url(url)
    document = await _fetch_document(endpoint, address, client, timeout)
    current = InputSchema.from_openapi(document, endpoint, source=address)
    _write_cache(endpoint, address, document, time.time())
    return SchemaDrift(endpoint, diff_schemas(baseline, current), address, time.time(), current)


def refresh(
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    url: str | None = None,
    client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
) -> SchemaDrift:
    """Sync :func:`refresh_async` (works inside Jupyter's running loop)."""
    return run_sync(refresh_async(endpoint, url=url, client=client, timeout=timeout))


# --------------------------------------------------------------------------- the daily check and its cache


def _cache_path(endpoint: str) -> Path:
    from .settings import seedance_home

    return seedance_home() / "openapi" / _snapshot_file(endpoint)


def _read_cache(endpoint: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_cache_path(endpoint).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("checked_at"), int | float) else None


def _write_cache(endpoint: str, url: str, document: Any, checked_at: float, ok: bool = True) -> None:
    path = _cache_path(endpoint)
    previous = _read_cache(endpoint) or {}
    entry = {
        "endpoint_id": endpoint,
        "url": url,
        "checked_at": checked_at,
        "fetched_at": checked_at if ok else previous.get("fetched_at"),
        "document": document if ok else previous.get("document"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), "utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home only costs the cache
        logger.debug("could not cache fal's OpenAPI document at %s: %s", path, exc)


async def check_drift_daily_async(
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    url: str | None = None,
    client: httpx.AsyncClient | None = None,
    key: str | None = None,
    max_age: float = DAY,
    timeout: float = 10.0,
) -> SchemaDrift | None:
    """The automatic check: with a key, fetch fal's document at most once per ``max_age`` (a day).

    Returns None without a key (``key`` or ``FAL_KEY``; the emulator needs no check) or when nothing was
    ever fetched; otherwise the drift, from the cached document when it is fresh (no request). Attempts
    count, failed ones too, so an offline machine tries once a day. Never raises for the network: a failed
    fetch is logged. A drift found by a fetch is logged as a warning on ``seedance_nb.schema``.
    """
    if key is None:
        from .keys import resolve_key

        key = resolve_key()
    if not key or endpoint not in SNAPSHOT_ENDPOINTS:
        return None
    cached = _read_cache(endpoint)
    if cached is not None and 0 <= time.time() - cached["checked_at"] < max_age:
        if cached.get("document") is None:
            return None
        try:
            current = InputSchema.from_openapi(cached["document"], endpoint, source=str(cached.get("url", "")))
        except ProtocolError:
            return None
        changes = diff_schemas(load_snapshot(endpoint), current)
        return SchemaDrift(endpoint, changes, str(cached.get("url", "")), cached.get("fetched_at") or 0.0, current)
    address = _openapi_url(url)
    try:
        drift = await refresh_async(endpoint, url=address, client=client, timeout=timeout)
    except (APIError, ProtocolError) as exc:
        logger.info("the daily schema check for %s failed (tried again in a day): %s", endpoint, exc)
        _write_cache(endpoint, address, None, time.time(), ok=False)
        return None
    if drift.changed:
        logger.warning("%s", drift)
    return drift


def check_drift_daily(endpoint: str = DEFAULT_ENDPOINT, **options: Any) -> SchemaDrift | None:
    """Sync :func:`check_drift_daily_async`, with the same keyword arguments (for ``connect()``).

    Args:
        endpoint: the endpoint id whose document is checked.
        **options: :func:`check_drift_daily_async`'s (``url``, ``client``, ``key``, ``max_age``, ``timeout``).
    """
    return run_sync(check_drift_daily_async(endpoint, **options))


def current_schema(endpoint: str = DEFAULT_ENDPOINT) -> InputSchema:
    """fal's latest document for ``endpoint`` as cached by :func:`refresh` / the daily check, else the snapshot."""
    cached = _read_cache(endpoint) if endpoint in SNAPSHOT_ENDPOINTS else None
    if cached is not None and cached.get("document") is not None:
        try:
            return InputSchema.from_openapi(cached["document"], endpoint, source=str(cached.get("url", "")))
        except ProtocolError:
            pass
    return load_snapshot(endpoint)


# --------------------------------------------------------------------------- warnings and seeds


def _payloads(inputs: Any) -> list[Mapping[str, Any]]:
    if hasattr(inputs, "to_payload"):
        return [inputs.to_payload()]
    if isinstance(inputs, Mapping):
        return [inputs]
    out: list[Mapping[str, Any]] = []
    for item in inputs:
        out.extend(_payloads(item))
    return out


def warn_unsupported_fields(inputs: Any, schema: InputSchema) -> list[str]:
    """One message per field the inputs set that ``schema`` does not list (fal may ignore or refuse it).

    ``inputs``: a :class:`~seedance_nb.schema.VideoInput`, a payload mapping, or an iterable of them (a
    sweep's jobs). Pure: the caller shows the messages (``warnings.warn`` / the log) before submitting.
    """
    jobs: dict[str, int] = {}
    payloads = _payloads(inputs)
    for payload in payloads:
        for name, value in payload.items():
            if name not in schema.fields and value is not None:
                jobs[name] = jobs.get(name, 0) + 1
    messages = []
    for name, count in jobs.items():
        where = f"{count} of {len(payloads)} jobs set" if len(payloads) > 1 else "the input sets"
        text = (
            f"{where} {name!r}, which fal's published input schema for {schema.endpoint} does not list "
            f"({schema.source or 'snapshot'}): fal may ignore it or refuse it."
        )
        if name == "seed":
            text += (
                " fal's model page lists seed, but its published schema does not; compare the output seed "
                "(the seed_honoured column) before relying on it. ByteDance says Seedance 2.0 does not honour "
                "seeds reliably: repeat takes instead."
            )
        else:
            text += " Check the spelling, or refresh the schema (seedance_nb.schema.refresh())."
        messages.append(text)
    return messages


#: What a run that sets ``seed`` is told once per session (a quiet note on fal; the log's INFO line otherwise).
SEED_NOTE = (
    "note: fal's published input schema for {endpoint} does not list seed (fal's model page does), and "
    "ByteDance says Seedance 2.0 does not honour seeds reliably. The seed_honoured column says whether fal "
    "returned the seed you asked for; to see what one prompt can give, repeat takes (Grid(..., takes=3)) "
    "rather than relying on a seed. (Said once per session.)"
)

_seed_noted: set[str] = set()


def split_seed_message(messages: list[str]) -> tuple[list[str], str | None]:
    """:func:`warn_unsupported_fields`' messages split into the ones to warn about and the seed's (or None).

    Args:
        messages: the messages :func:`warn_unsupported_fields` returned.
    """
    seed = [m for m in messages if "'seed', which" in m]
    return [m for m in messages if m not in seed], (seed[0] if seed else None)


def seed_note_once(endpoint: str) -> str | None:
    """The seed note for ``endpoint`` the first time a process asks, then None (say it once per session).

    Args:
        endpoint: the endpoint the run submits to (named in the note).
    """
    if _seed_noted:
        return None
    _seed_noted.add(endpoint)
    return SEED_NOTE.format(endpoint=endpoint)


def seed_honoured(requested: Any, output_seed: Any) -> bool | None:
    """Whether fal's output seed is the one asked for: None when no seed was asked (or fal returned none)."""
    if not _is_int(requested) or not _is_int(output_seed):
        return None
    return bool(requested == output_seed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


set_public_module(__name__)
