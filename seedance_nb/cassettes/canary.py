"""``seedance-nb canary``: one cheapest real job on fal, recorded, and diffed against the emulator's answers.

Run weekly (docs/fal-fidelity.md, "The canary"): it makes one job on the cheapest Seedance endpoint the registry
knows (mini image-to-video at 480p and 4 s unless ``--endpoint`` says otherwise), asking before it spends
(``--yes`` skips the question), with :func:`~seedance_nb.cassettes.record` on; then the same request on a local
emulator, also recorded; then it compares the two sessions:

- the status sequence (IN_QUEUE → IN_PROGRESS → COMPLETED, repeats folded);
- each answer's fields and their JSON types (submit, status events, result), the answer codes, and the headers
  a client reads (``x-fal-request-id``, ``x-fal-billable-units``, its value, the result's content type);
- the output's shape (the video's fields and content type) and the downloaded video's content type;
- fal's OpenAPI document for the endpoint against the snapshot seedance-nb ships, and the emulator's against it.

It prints each drift, or ``no drift``; exit code 0 with no drift, 1 with drift. The two cassettes and the paid
video are kept in ``--out`` (default ``canary-<UTC date>``). In CI the live side is an emulator standing in for fal
(``--against URL``, or ``FAL_KEY`` with ``SEEDANCE_QUEUE_URL``/``_REST_URL``/``_CDN_URL``/``_API_URL``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .._sync import run_sync
from ..cassette_format import Job, jobs, load, status_sequence, stream_events
from ..errors import InputError, Problem
from ..keys import resolve_key
from ._record import record

__all__ = ["Target", "add_subcommand", "cheapest_endpoint", "compare", "run", "shape"]

PROMPT = "a slow push-in"
#: Headers whose presence (and for billing, value) a client relies on.
HEADERS = ("x-fal-request-id", "x-fal-billable-units")


@dataclass(frozen=True)
class Target:
    """Where the live side of the canary goes: fal's four hosts (or an emulator's), its OpenAPI, the key."""

    queue: str
    rest: str
    cdn: str
    api: str
    openapi: str | None
    key: str | None

    @classmethod
    def from_args(cls, against: str | None) -> Target:
        """fal (or the ``SEEDANCE_*_URL`` hosts) with ``FAL_KEY``, or the emulator at ``against``.

        Args:
            against: an emulator's base URL (``http://127.0.0.1:8787``) standing in for fal, or None.
        """
        key = resolve_key(None)
        if against:
            base = against.rstrip("/")
            return cls(
                f"{base}/queue",
                f"{base}/rest",
                f"{base}/cdn",
                f"{base}/api",
                f"{base}/api/openapi/queue/openapi.json",
                key or "canary-id:canary-secret",
            )
        if not key:
            raise InputError(
                [
                    Problem(
                        "FAL_KEY",
                        "is not set: seedance-nb canary makes one real job on fal",
                        None,
                        "set FAL_KEY to your key (fal.ai/dashboard/keys), or pass --against URL (an emulator)",
                    )
                ]
            )
        from ..client._transport import FAL_API_URL, FAL_CDN_URL, FAL_QUEUE_URL, FAL_REST_URL

        env = os.environ.get
        return cls(
            env("SEEDANCE_QUEUE_URL") or FAL_QUEUE_URL,
            env("SEEDANCE_REST_URL") or FAL_REST_URL,
            env("SEEDANCE_CDN_URL") or FAL_CDN_URL,
            env("SEEDANCE_API_URL") or FAL_API_URL,
            env("SEEDANCE_OPENAPI_URL"),
            key,
        )


def cheapest_endpoint() -> str:
    """The Seedance image-to-video endpoint whose 480p, 4 s job costs least (the registry's prices)."""
    from ..endpoints.registry import all_endpoints

    best: tuple[float, str] | None = None
    for endpoint in all_endpoints():
        if not endpoint.id.startswith("bytedance/seedance") or endpoint.modality != "image-to-video":
            continue
        usd = endpoint.estimate({"resolution": "480p", "duration": "4"}, (768, 432)).high_usd
        if best is None or usd < best[0]:
            best = (usd, endpoint.id)
    assert best is not None
    return best[1]


# --------------------------------------------------------------------------- the two sessions


async def _session(target: Target, endpoint: str, cassette: Path, video: Path) -> None:
    """One job on ``target`` recorded to ``cassette``: the image upload, the submit, its status, result, video."""
    from ..client import AsyncClient
    from ..samples import sample_image

    client = AsyncClient(
        target.key, queue_url=target.queue, rest_url=target.rest, cdn_url=target.cdn, api_url=target.api
    )
    try:
        with record(cassette):
            image = await client.upload(Path(sample_image()).read_bytes(), "image/png", "sample.png")
            inputs = {"prompt": PROMPT, "image_url": image, "resolution": "480p", "duration": "4"}
            output = await client.subscribe(inputs, endpoint=endpoint)
            await client.download(output.video.url, video)
    finally:
        await client.aclose()


def _reference(endpoint: str, out: Path) -> tuple[Path, str]:
    """The same job on a local emulator: its cassette and the emulator's OpenAPI URL is checked while it runs."""
    from ..emulator import serve

    cassette = out / "emulator.cassette.json"
    with serve(speed=0.05, slots=1) as emu:
        target = Target(emu.queue_url, emu.rest_url, emu.cdn_url, emu.api_url, emu.openapi_url, "canary-id:canary")
        run_sync(_session(target, endpoint, cassette, out / "emulator.mp4"))
        drift = _schema_lines(endpoint, emu.openapi_url, "emulator")
    return cassette, "\n".join(drift)


# --------------------------------------------------------------------------- comparing


def shape(value: Any, prefix: str = "") -> dict[str, str]:
    """The JSON type at every path of ``value`` (``video.url: string``; a list's items merged under ``[]``).

    Args:
        value: decoded JSON.
        prefix: the path so far.
    """
    if isinstance(value, dict):
        out = {prefix: "object"} if prefix else {}
        for key, item in value.items():
            out.update(shape(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {prefix: "array"}
        for item in value:
            out.update(shape(item, f"{prefix}[]"))
        return out
    kind = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}.get(type(value))
    return {prefix: kind or type(value).__name__}


def _json(item: dict[str, Any] | None) -> Any:
    return (((item or {}).get("response") or {}).get("body") or {}).get("json")


def _statuses(job: Job) -> list[dict[str, Any]]:
    polls = [_json(item) for item in job.routes.get("status", [])]
    events = [event for item in job.routes.get("stream", []) for event in stream_events(item)]
    return [body for body in polls + events if isinstance(body, dict)]


def _status_shapes(job: Job) -> dict[str, dict[str, str]]:
    """The fields of the status answers, per status (logs' items folded in)."""
    found: dict[str, dict[str, str]] = {}
    for body in _statuses(job):
        found.setdefault(str(body.get("status")), {}).update(shape(body))
    return found


def _fields(what: str, live: dict[str, str], ref: dict[str, str]) -> list[str]:
    lines = [f"{what}: fal has {path} ({kind}); the emulator has not" for path, kind in live.items() if path not in ref]
    lines += [
        f"{what}: the emulator has {path} ({kind}); fal has not" for path, kind in ref.items() if path not in live
    ]
    lines += [
        f"{what}: {path} is {kind} on fal, {ref[path]} on the emulator"
        for path, kind in live.items()
        if path in ref and ref[path] != kind and "null" not in (kind, ref[path])
    ]
    return lines


def _headers(what: str, live: dict[str, Any] | None, ref: dict[str, Any] | None) -> list[str]:
    a = ((live or {}).get("response") or {}).get("headers") or {}
    b = ((ref or {}).get("response") or {}).get("headers") or {}
    lines = [
        f"{what}: header {name} is sent by {'fal' if name in a else 'the emulator'} only"
        for name in HEADERS
        if (name in a) != (name in b)
    ]
    ua, ub = a.get("x-fal-billable-units"), b.get("x-fal-billable-units")
    if ua and ub and abs(float(ua) - float(ub)) > 0.01 * max(1.0, float(ua)):
        lines.append(f"{what}: x-fal-billable-units is {ua} on fal, {ub} on the emulator")
    return lines


def _code(what: str, live: dict[str, Any] | None, ref: dict[str, Any] | None) -> list[str]:
    a = ((live or {}).get("response") or {}).get("status")
    b = ((ref or {}).get("response") or {}).get("status")
    return [] if a == b else [f"{what}: answered {a} by fal, {b} by the emulator"]


def _download(document: dict[str, Any]) -> dict[str, Any] | None:
    gets = [
        i
        for i in document.get("interactions", [])
        if i["request"]["method"] == "GET" and i["request"]["url"].startswith("<cdn>")
    ]
    return gets[-1] if gets else None


def compare(live: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    """Every difference between fal's session (``live``) and the emulator's (``ref``) for the same request.

    Args:
        live: the cassette recorded on fal (or what stands in for it).
        ref: the cassette recorded on the emulator.
    """
    live_jobs, ref_jobs = jobs(live), jobs(ref)
    if not live_jobs or not ref_jobs:
        return [f"the {'fal' if not live_jobs else 'emulator'} session recorded no job"]
    a, b = live_jobs[0], ref_jobs[0]
    lines: list[str] = []
    seq_a, seq_b = " > ".join(status_sequence(a)), " > ".join(status_sequence(b))
    if seq_a != seq_b:
        lines.append(f"status sequence: {seq_a} on fal, {seq_b} on the emulator")
    lines += _code("submit", a.submit, b.submit) + _headers("submit", a.submit, b.submit)
    lines += _fields("submit", shape(_json(a.submit)), shape(_json(b.submit)))
    shapes_a, shapes_b = _status_shapes(a), _status_shapes(b)
    for status in sorted(set(shapes_a) & set(shapes_b)):
        lines += _fields(f"status {status}", shapes_a[status], shapes_b[status])
    result_a, result_b = _last(a, "result"), _last(b, "result")
    lines += _code("result", result_a, result_b) + _headers("result", result_a, result_b)
    lines += _fields("result", shape(_json(result_a)), shape(_json(result_b)))
    for path in sorted(p for p in shape(_json(result_a)) if p.endswith("content_type")):
        va, vb = _value(_json(result_a), path), _value(_json(result_b), path)
        if va != vb:
            lines.append(f"result: {path} is {va!r} on fal, {vb!r} on the emulator")
    down_a, down_b = _download(live), _download(ref)
    ct = [((d or {}).get("response") or {}).get("body", {}).get("content_type") for d in (down_a, down_b)]
    if ct[0] != ct[1]:
        lines.append(f"video download: content type {ct[0]!r} on fal, {ct[1]!r} on the emulator")
    return lines


def _last(job: Job, route: str) -> dict[str, Any] | None:
    items = job.routes.get(route) or []
    return items[-1] if items else None


def _value(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _schema_lines(endpoint: str, url: str | None, who: str) -> list[str]:
    """How ``who``'s OpenAPI document for ``endpoint`` differs from the shipped snapshot (one line each)."""
    from ..openapi_schema import refresh

    try:
        drift = refresh(endpoint, url=url, timeout=30.0)
    except Exception as exc:  # noqa: BLE001 (reported as a line: the canary's other checks still count)
        return [f"OpenAPI ({who}): could not be checked: {type(exc).__name__}: {exc}"]
    return [f"OpenAPI ({who}) vs the snapshot: {change}" for change in drift.changes]


# --------------------------------------------------------------------------- the command


def add_subcommand(sub: Any) -> None:
    """Add ``canary`` to ``seedance-nb``'s subcommands.

    Args:
        sub: the CLI's subparsers.
    """
    canary = sub.add_parser("canary", help="one cheapest real fal job, recorded and diffed against the emulator")
    canary.add_argument("--yes", action="store_true", help="spend without asking (about one mini 480p 4 s video)")
    canary.add_argument("--against", metavar="URL", help="an emulator standing in for fal (CI); default: fal")
    canary.add_argument("--endpoint", default=None, help="the endpoint (default: the cheapest Seedance image-to-video)")
    canary.add_argument("--out", default=None, help="folder for the cassettes and the video (default canary-<date>)")


def run(args: argparse.Namespace, *, confirm: Callable[[Any], bool], out: TextIO | None = None) -> int:
    """``seedance-nb canary``: ask, run the job on fal and on the emulator, print the drift.

    Args:
        args: the parsed command line (``against``, ``endpoint``, ``out``).
        confirm: asked with the job's :class:`~seedance_nb.grids.Grid` before anything is sent; False stops
            (the CLI passes its cost question, ``seedance_nb.cli_confirm``, with ``--yes``).
        out: where the report goes (default ``sys.stdout``).

    Returns:
        0 with no drift, 1 with drift or when the spend was declined.
    """
    from ..grids import Grid
    from ..samples import sample_image

    out = sys.stdout if out is None else out
    target = Target.from_args(args.against)
    endpoint = args.endpoint or cheapest_endpoint()
    grid = Grid(endpoint=endpoint, image=sample_image(), prompt=PROMPT, resolution="480p", duration=4)
    print(f"canary: one job on {endpoint} at 480p, 4 s ({grid.estimate()}) against {target.queue}", file=out)
    if not confirm(grid):
        return 1
    folder = Path(args.out or f"canary-{time.strftime('%Y-%m-%d', time.gmtime())}")
    folder.mkdir(parents=True, exist_ok=True)
    live_path = folder / "fal.cassette.json"
    run_sync(_session(target, endpoint, live_path, folder / "fal.mp4"))
    print(f"recorded {live_path} (the video: {folder / 'fal.mp4'})", file=out)
    ref_path, ref_schema = _reference(endpoint, folder)
    lines = compare(load(live_path), load(ref_path))
    lines += _schema_lines(endpoint, target.openapi, "fal")
    lines += [line for line in ref_schema.splitlines() if line]
    for line in lines:
        print(f"drift: {line}", file=out)
    print("no drift" if not lines else f"{len(lines)} drift{'s' if len(lines) != 1 else ''}", file=out)
    return 1 if lines else 0
