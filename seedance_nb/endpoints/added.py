"""``sd.add_endpoint``: register any fal endpoint from its OpenAPI document, with the price you give.

With a key (``FAL_KEY``, or ``fetch=True``), the document is fetched from fal's OpenAPI
(``https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=<id>``; ``SEEDANCE_OPENAPI_URL`` or ``url=`` point
elsewhere, such as the emulator's ``/openapi.json``) and cached under ``$SEEDANCE_HOME/openapi/``, the cache
:func:`seedance_nb.schema.refresh` and the daily drift check keep. Without one (offline), the document comes from
a dict or a JSON file you give, or from that cache.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._sync import run_sync
from ..errors import InputError, Problem
from ..openapi_schema import _fetch_document, _input_object, _openapi_url, _read_cache, _write_cache
from .registry import Endpoint, register
from .rules import price_rule

__all__ = ["add_endpoint"]


def _endpoint_of(document: Mapping[str, Any]) -> str:
    """The endpoint id a queue OpenAPI document describes (fal puts it in ``info.x-fal-metadata.endpointId``)."""
    info = document.get("info", {})
    meta = info.get("x-fal-metadata", {}) if isinstance(info, Mapping) else {}
    endpoint = meta.get("endpointId") if isinstance(meta, Mapping) else None
    if isinstance(endpoint, str) and endpoint:
        return endpoint
    paths = [p for p, item in (document.get("paths") or {}).items() if isinstance(item, Mapping) and "post" in item]
    if len(paths) == 1:
        return str(paths[0]).strip("/")
    raise InputError(
        [Problem("openapi_json_or_id", "does not say which endpoint it describes", None, "pass endpoint='owner/alias'")]
    )


def _load(source: Any, endpoint: str | None, fetch: bool | None, url: str | None) -> tuple[str, dict[str, Any], str]:
    """(endpoint id, document, where it came from)."""
    if isinstance(source, Mapping):
        document = dict(source)
        return endpoint or _endpoint_of(document), document, "the document given to add_endpoint"
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".json")):
        path = Path(source)
        document = json.loads(path.read_text("utf-8"))
        return endpoint or _endpoint_of(document), document, str(path)
    if not isinstance(source, str) or "/" not in source.strip("/"):
        raise InputError(
            [Problem("openapi_json_or_id", "is not an OpenAPI document, a path or an endpoint id", source, "see docs")]
        )
    endpoint = source.strip("/")
    if fetch if fetch is not None else bool(os.environ.get("FAL_KEY")):
        address = _openapi_url(url)
        document = run_sync(_fetch_document(endpoint, address, None, 30.0))
        _write_cache(endpoint, address, document, time.time())
        return endpoint, document, f"{address}?endpoint_id={endpoint}"
    cached = _read_cache(endpoint)
    if cached is None or not isinstance(cached.get("document"), Mapping):
        raise InputError(
            [
                Problem(
                    "openapi_json_or_id",
                    f"no key and no cached document for {endpoint!r}",
                    endpoint,
                    "set FAL_KEY (or fetch=True) to fetch fal's OpenAPI, or pass the document as a dict or path",
                )
            ]
        )
    return endpoint, dict(cached["document"]), str(cached.get("url", "the cache"))


def add_endpoint(
    openapi_json_or_id: Any,
    price: Any,
    *,
    endpoint: str | None = None,
    model: str | None = None,
    sizes: Mapping[str, tuple[int, int]] | None = None,
    price_source: str = "given to sd.add_endpoint",
    fetch: bool | None = None,
    url: str | None = None,
    replace: bool = True,
) -> Endpoint:
    """Register a fal endpoint from its OpenAPI document and a price; grids, estimates and the emulator then know it.

    Args:
        openapi_json_or_id: fal's queue OpenAPI document (a dict, or a path to its JSON), or an endpoint id:
            fetched from fal's OpenAPI with a key (or ``fetch=True``) and cached, else read from that cache.
        price: the price rule: ``{"per_second": 0.1}``, ``{"per_second": {"480p": 0.05, "720p": 0.1}}``,
            ``{"per_video": 0.4}``, ``{"per_1k_tokens": 0.0112}`` or a :class:`~seedance_nb.endpoints.PriceRule`.
        endpoint: the id, when the document does not name it.
        model: a short label (default: the id's last two segments before the kind).
        sizes: resolution -> landscape (width, height) the emulator renders (default 720p/480p/1080p 16:9).
        price_source: where the price comes from (shown in ``sd.endpoints()``).
        fetch: fetch from fal's OpenAPI (default: when ``FAL_KEY`` is set).
        url: the OpenAPI address to fetch from (default fal's, or ``SEEDANCE_OPENAPI_URL``).
        replace: replace an endpoint registered under the same id.

    Raises:
        InputError: no document (offline, nothing cached), a price that is not a rule, or a document without an
            input schema.
    """
    try:
        rule = price_rule(price)
    except ValueError as exc:
        raise InputError([Problem("price", "is not a price rule", price, str(exc).split(": ", 1)[-1])]) from None
    endpoint_id, document, source = _load(openapi_json_or_id, endpoint, fetch, url)
    _input_object(document, endpoint_id)  # ProtocolError now, not at the first job
    parts = endpoint_id.split("/")
    modality = next((p for p in reversed(parts) if p.endswith("-to-video")), "image-to-video")
    taken = datetime.now(timezone.utc).date().isoformat()
    added = Endpoint(
        id=endpoint_id,
        family="/".join(parts[:-1]) if len(parts) > 2 else endpoint_id,
        tier=None,
        modality=modality,
        model=model or "/".join(p for p in parts[1:] if not p.endswith("-to-video"))[-32:] or endpoint_id,
        price=rule,
        price_source=price_source,
        source=source,
        snapshot_date=taken,
        provisional=False,
        sizes=dict(sizes or {"480p": (848, 480), "720p": (1280, 720), "1080p": (1920, 1080)}),
        output_fields=_output_fields(document),
        document=document,
    )
    return register(added, replace=replace)


def _output_fields(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The output's fields besides ``video`` (from the document's one ``<Name>Output`` component)."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    outputs = [v for k, v in schemas.items() if str(k).endswith("Output") and isinstance(v, Mapping)]
    names = [str(n) for o in outputs[:1] for n in (o.get("properties") or {}) if n != "video"]
    return tuple(names)
