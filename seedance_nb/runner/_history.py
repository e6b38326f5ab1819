"""Settling a submit whose answer was lost: matching a journalled send to fal's request history.

fal has no idempotency key, so a submit whose answer was lost may or may not have been queued. The runner
journals each field's digest and the send time before the POST goes out; :func:`match_history` finds that
request in fal's history afterwards. Pure functions, and the limits they use.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..client import AsyncClient, parse_time

__all__ = ["CLOCK_SKEW_SECONDS", "MAX_RESUBMITS", "field_digests", "history_lag", "match_history"]

#: How many times one run submits a job again after fal's history proved an ambiguous submit absent.
MAX_RESUBMITS = 5

#: How far fal's clock may be behind ours when matching a journalled send time to fal's history (both are
#: NTP time; a wider window would let an older identical request from another run be taken for this one).
CLOCK_SKEW_SECONDS = 10.0


def field_digests(payload: Mapping[str, Any]) -> dict[str, str]:
    """sha256 of each field of a payload as sent (compact canonical JSON): what identifies a request in
    fal's history without journalling its images twice."""
    return {
        name: hashlib.sha256(
            json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        for name, value in payload.items()
    }


def match_history(
    items: Iterable[Mapping[str, Any]], digest: Mapping[str, str], sent_at: float, claimed: set[str]
) -> str | None:
    """The request id in fal's history that is this submit, or None. Pure.

    A candidate has every field we sent equal and is not already another job's. The journal's send time is
    written before the POST goes out, so the request is the candidate sent soonest after it; candidates a
    little before it (fal's clock may trail ours) count only when none came after.
    """
    after: list[tuple[int, float, str]] = []
    before: list[tuple[float, str]] = []
    for item in items:
        request_id = item.get("request_id")
        if not isinstance(request_id, str) or request_id in claimed:
            continue
        inp = item.get("json_input")
        if not isinstance(inp, Mapping) or not digest:
            continue
        if field_digests({k: inp[k] for k in digest if k in inp}) != dict(digest):
            continue
        at = parse_time(item.get("sent_at"))
        at = sent_at if at is None else at
        if at >= sent_at - 1.0:
            # Sent at or after the journalled time first (that is the order on one clock), the closest.
            after.append((0 if at >= sent_at else 1, abs(at - sent_at), request_id))
        elif at >= sent_at - CLOCK_SKEW_SECONDS:
            before.append((sent_at - at, request_id))
    if after:
        return min(after)[2]
    return min(before)[1] if before else None


async def _answer_of(sending: asyncio.Future[Any], timeout: float = 15.0) -> Any:
    """The handle a submit in flight returns, waited for at most ``timeout`` s; None if it does not come."""
    try:
        return await asyncio.wait_for(asyncio.shield(sending), timeout)
    except (asyncio.CancelledError, asyncio.TimeoutError, Exception):
        if not sending.done():
            sending.cancel()
        return None


def history_lag(client: AsyncClient) -> float:
    """Seconds fal's request history may trail the queue: absence is trusted only after this long."""
    return 0.0 if client.backend == "emulator" else 30.0
