"""What a grid over several endpoints asks of each one: its short ``model`` label and the fields its schema lists.

The endpoint as a grid axis (``Grid(endpoint=[mini, fast, standard], ...)``) reads every per-endpoint fact it
needs through the few functions here, which ask the endpoint registry (:mod:`seedance_nb.endpoints.registry`, the
one owner of what an endpoint is) and fall back to the shipped snapshots for an id it does not hold. Prices and
sizes stay with the registry too (each job's :meth:`~seedance_nb.schema.VideoInput.estimate` applies its own
endpoint's price). Pure but for the schema snapshots, read once each.

    >>> model_label("bytedance/seedance-2.0/mini/image-to-video")
    'seedance-2.0 mini'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._names import set_public_module
from .endpoints import KINDS, tier
from .endpoints.registry import find
from .errors import InputError, Problem
from .openapi_schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, load_snapshot

if TYPE_CHECKING:
    from .endpoints import CostEstimate
    from .schema import VideoInput

__all__ = ["dropped_fields", "endpoint_list", "endpoint_problems", "estimate", "model_label", "schema_fields"]


def model_label(endpoint: str) -> str:
    """A short label for ``endpoint``: ``"seedance-2.0 fast"``, ``"seedance-2.0 standard"``, or for another
    model its id without the owner and the kind (``"fal-ai/kling-video/v2.1/pro/image-to-video"`` ->
    ``"kling-video v2.1 pro"``).

    Args:
        endpoint: the fal endpoint id.
    """
    text = str(endpoint).strip("/")
    registered = find(text)
    if registered is not None:
        return registered.model
    name = tier(text)
    if name is not None:
        return f"seedance-2.0 {name}"
    parts = text.split("/")[1:] or [text]
    if len(parts) > 1 and parts[-1] in KINDS:
        parts = parts[:-1]
    return " ".join(parts)


def schema_fields(endpoint: str) -> frozenset[str] | None:
    """The input fields ``endpoint``'s schema snapshot lists; None when seedance-nb holds no snapshot of it
    (nothing can be checked locally then).

    Args:
        endpoint: the fal endpoint id.
    """
    registered = find(endpoint)
    if registered is not None:
        return frozenset(registered.schema.fields)
    if endpoint not in SNAPSHOT_ENDPOINTS:
        return None
    return frozenset(load_snapshot(endpoint).fields)


def estimate(inp: VideoInput, image_size: tuple[int, int] | None = None) -> CostEstimate:
    """One job's estimated price by its own endpoint's rule: Seedance's tokens, or another registered model's
    rule (per second, per video, ...) applied to the request as that model takes it.

    Args:
        inp: the job's input (its ``endpoint`` decides).
        image_size: the input image's (width, height).
    """
    registered = find(inp.endpoint)
    if registered is None or registered.is_seedance:
        return inp.estimate(image_size)
    mapped, _ = registered.map_inputs(inp.to_payload())
    return registered.estimate(mapped, image_size)


def endpoint_problems(inp: VideoInput) -> list[Problem]:
    """What another registered model's own schema refuses in ``inp`` (Seedance's endpoints are checked by
    :class:`~seedance_nb.schema.VideoInput` itself: an empty list for them).

    Args:
        inp: the job's input (its ``endpoint`` decides).
    """
    registered = find(inp.endpoint)
    if registered is None or registered.is_seedance:
        return []
    mapped, _ = registered.map_inputs(inp.to_payload())
    return [
        Problem(p.field, f"{p.message} (for {inp.endpoint})", p.value, p.allowed, p.type)
        for p in registered.problems(mapped)
    ]


def endpoint_list(value: Any) -> list[str]:
    """The endpoint ids a grid's ``endpoint=`` names, in order and each once (a text, or a list of them).

    Args:
        value: what the user gave as ``endpoint``.

    Raises:
        InputError: not a text or a non-empty list of texts (naming ``endpoint``).
    """
    values = list(value) if isinstance(value, list | tuple) else [value]
    bad = [v for v in values if not isinstance(v, str) or not v.strip()]
    if bad or not values:
        raise InputError(
            [Problem("endpoint", "must be a fal endpoint id or a list of them", value, f"{DEFAULT_ENDPOINT!r}")]
        )
    return list(dict.fromkeys(v.strip().strip("/") for v in values))


def dropped_fields(names: Iterable[str], endpoints: Iterable[str], aliases: Mapping[str, str]) -> dict[str, list[str]]:
    """For each endpoint, the fields among ``names`` its schema lacks but another endpoint's lists: those are
    left out of that endpoint's jobs (a field no endpoint lists is a typo, refused elsewhere).

    Args:
        names: the field names as the user wrote them.
        endpoints: the grid's endpoints.
        aliases: names the grid takes for schema fields (``{"image": "image_url"}``).
    """
    known = {e: schema_fields(e) for e in endpoints}
    listed = set().union(*(f for f in known.values() if f is not None))
    out: dict[str, list[str]] = {}
    for endpoint, fields in known.items():
        if fields is None:
            continue
        lacking = [n for n in names if aliases.get(n, n) not in fields and aliases.get(n, n) in listed]
        if lacking:
            out[endpoint] = lacking
    return out


set_public_module(__name__)
