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

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._names import set_public_module
from .endpoints import KINDS, tier
from .endpoints.registry import find
from .errors import InputError, Problem
from .openapi_schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, load_snapshot
from .validation import DOCUMENTED_UNLISTED, unknown_field_problems

if TYPE_CHECKING:
    from .endpoints import CostEstimate
    from .schema import VideoInput

__all__ = [
    "dropped_fields",
    "endpoint_list",
    "endpoint_problems",
    "estimate",
    "model_label",
    "schema_fields",
    "unknown_everywhere",
]


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
    """The input fields ``endpoint`` takes: its schema snapshot's, and those sent although the snapshot lacks
    them (Seedance's ``seed``, docs/fal-fidelity.md); None when seedance-nb knows no schema of it (nothing can
    be checked locally then).

    Args:
        endpoint: the fal endpoint id.
    """
    registered = find(endpoint)
    if registered is not None:  # with what it sends beyond its snapshot (Seedance's seed)
        return frozenset(registered.schema.fields) | frozenset(registered.passthrough)
    if endpoint not in SNAPSHOT_ENDPOINTS:
        return None
    return frozenset(load_snapshot(endpoint).fields) | DOCUMENTED_UNLISTED


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


def unknown_everywhere(
    names: Iterable[str], endpoints: Iterable[str], aliases: Mapping[str, str], suggest: Iterable[str] = ()
) -> list[Problem]:
    """One problem per name in ``names`` that no endpoint of ``endpoints`` takes (a typo), with the nearest name
    one does take ("did you mean 'resolution'?"). Endpoints without a known schema are not asked.

    Args:
        names: the field names as the user wrote them.
        endpoints: the grid's endpoints.
        aliases: names the grid takes for schema fields (``{"image": "image_url"}``).
        suggest: more names offered as "did you mean" (the grid's own options).
    """
    known = {e: f for e in endpoints if (f := schema_fields(e)) is not None}
    if not known:
        return []
    taken = set().union(*known.values())
    unknown = [n for n in dict.fromkeys(names) if isinstance(n, str) and aliases.get(n, n) not in taken]
    if not unknown:
        return []
    found: dict[str, Problem] = {}
    for endpoint in (e for e in known if e in SNAPSHOT_ENDPOINTS):  # fal's latest document may list it since
        flagged = {p.field: p for p in unknown_field_problems(unknown, endpoint, aliases=aliases, suggest=suggest)}
        unknown = [n for n in unknown if n in flagged]
        found = found or flagged
    vocabulary = [*sorted(taken), *(a for a, real in aliases.items() if real in taken), *suggest]
    # One snapshot endpoint: its own words ("unknown field 'x' for <endpoint>: did you mean ...?").
    single = len(known) == 1
    return [
        found[n] if single and n in found else _unknown_problem(n, list(known), sorted(taken), vocabulary)
        for n in unknown
    ]


def _unknown_problem(name: str, endpoints: list[str], taken: list[str], vocabulary: list[str]) -> Problem:
    close = difflib.get_close_matches(name, vocabulary, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]!r}?" if close else ""
    return Problem(
        name,
        f"unknown field {name!r} for every endpoint of the grid ({', '.join(endpoints)}){hint}",
        None,
        f"{', '.join(taken)}; or allow_unknown=True to send it anyway",
        type="unknown_field",
    )


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
