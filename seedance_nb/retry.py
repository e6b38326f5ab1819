"""Retry decisions as pure functions (tested on their own), used by the client.

A request is retried only when repeating it cannot make you pay twice:

- transport errors before a response: GETs and PUTs always; a submit POST only
  when the connection was never made (connect error), so fal never saw it;
- 408, 409, 429 (honouring ``Retry-After``) for every method: fal refused the
  request, so nothing was queued;
- "ingress" 502/503/504 (an nginx error page with no ``x-fal-request-id``) for
  GETs and PUTs. Never for a submit: the edge can answer 5xx after the queue
  accepted the POST, so a 5xx to a submit is ambiguous (the client raises
  ``AmbiguousSubmit`` and the sweep settles it through fal's request history);
- a result GET answering 504 right after the status said COMPLETED;
- any 5xx to a status poll (``status_read``): the request's state is only being
  read, so asking again is harmless (fal-js retries status 5xx up to 5 times).

4xx answers with meaning (401, 403, 404, 422, ...) are never retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["RetryPolicy", "backoff_seconds", "is_ingress_error", "retry_after_seconds", "should_retry"]

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts and how long to wait between them."""

    max_attempts: int = 8
    base_delay: float = 0.25
    max_delay: float = 10.0


def is_ingress_error(status_code: int, headers: httpx.Headers | dict[str, str], text: str) -> bool:
    """A 502/503/504 from the edge proxy: no ``x-fal-request-id`` and an nginx page."""
    lowered = {k.lower() for k in headers}
    return status_code in (502, 503, 504) and "x-fal-request-id" not in lowered and "nginx" in text.lower()


def should_retry(
    method: str,
    *,
    response: httpx.Response | None = None,
    error: Exception | None = None,
    is_submit: bool = False,
    after_completed: bool = False,
    status_read: bool = False,
) -> bool:
    """Whether to send the same request again (see the module docstring)."""
    if error is not None:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return True
        if isinstance(error, httpx.TransportError):
            # The request may have reached fal: re-POSTing a submit could pay twice.
            return not is_submit
        return False
    if response is None:
        return False
    code = response.status_code
    if code in RETRYABLE_STATUS:
        return True
    if status_read and method == "GET" and 500 <= code <= 599:
        return True
    if code in (502, 503, 504) and not is_submit and is_ingress_error(code, response.headers, response.text):
        return True
    if (
        after_completed
        and method == "GET"
        and code == 504
        and "x-fal-request-timeout-type" not in {k.lower() for k in response.headers}
    ):
        return True
    return False


def retry_after_seconds(headers: httpx.Headers | dict[str, str]) -> float | None:
    """The server's ``Retry-After`` in seconds (numbers only), if any."""
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def backoff_seconds(
    attempt: int,
    policy: RetryPolicy = RetryPolicy(),
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Jittered exponential backoff for ``attempt`` (1-based), capped; ``Retry-After`` wins when larger."""
    jitter = rng.uniform(0.5, 1.5) if rng is not None else random.uniform(0.5, 1.5)
    delay = min(policy.base_delay * 2.0 ** (attempt - 1), policy.max_delay) * jitter
    delay = min(delay, policy.max_delay)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_delay * 6))
    return delay
