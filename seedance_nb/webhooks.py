"""Verify fal's webhook signatures before trusting a delivery.

fal signs every webhook with ED25519 and sends four headers:
``X-Fal-Webhook-Request-Id``, ``X-Fal-Webhook-User-Id``,
``X-Fal-Webhook-Timestamp`` (unix seconds) and ``X-Fal-Webhook-Signature``
(hex). The signed message is ``request_id \\n user_id \\n timestamp \\n
sha256hex(raw body)``; the public keys are a JWKS at
``https://rest.alpha.fal.ai/.well-known/jwks.json`` (any key may match: fal
rotates them). A receiver also refuses timestamps more than 5 minutes away from
its clock, so a captured delivery cannot be replayed later::

    from seedance_nb.webhooks import verify
    payload = verify(request.headers, raw_body)       # raises WebhookVerificationError when forged
    print(payload["request_id"], payload["status"])

``verify`` returns the delivery's JSON (``request_id``, ``status`` ``OK`` /
``ERROR``, ``payload``, ``error``). Pass ``jwks=`` (a JWKS dict) to skip the
download, or ``jwks_url=`` to fetch the keys elsewhere, e.g. from the emulator
(``emulator.jwks_url``), which signs its webhooks the same way. Downloaded keys
are cached for an hour per URL; a signature that matches none of the cached keys
fetches them once more (a key fal has just rotated in) when they are over a minute old.

A receiver in a dozen lines (starlette; any framework that gives the raw body works)::

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from seedance_nb.webhooks import WebhookVerificationError, verify

    async def fal_webhook(request):
        try:
            delivery = verify(request.headers, await request.body())
        except WebhookVerificationError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=401)
        ...  # idempotent on delivery["request_id"]: fal retries, duplicates happen
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/fal/webhook", fal_webhook, methods=["POST"])])

``verify`` fetches keys with blocking I/O the first time; in an async server call
it once at start-up (or pass ``jwks=``) so the event loop never waits on it.

The ED25519 maths comes from ``cryptography`` (PyPI; the Python Cryptographic
Authority's package, also used by the emulator to sign): Python's standard
library has no ED25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._text import plural
from .errors import InputError, Problem, SeedanceError

__all__ = ["FAL_JWKS_URL", "WebhookVerificationError", "fetch_jwks", "verify"]

#: Where fal publishes its webhook keys.
FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
#: How long downloaded keys are trusted before they are fetched again.
JWKS_CACHE_SECONDS = 3600.0

HEADER_REQUEST_ID = "x-fal-webhook-request-id"
HEADER_USER_ID = "x-fal-webhook-user-id"
HEADER_TIMESTAMP = "x-fal-webhook-timestamp"
HEADER_SIGNATURE = "x-fal-webhook-signature"

_REFETCH_FLOOR = 60.0
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


class WebhookVerificationError(SeedanceError, ValueError):
    """A webhook delivery failed verification: missing headers, a stale timestamp or a bad signature."""


def fetch_jwks(
    jwks_url: str = FAL_JWKS_URL, *, max_age: float = JWKS_CACHE_SECONDS, timeout: float = 10.0
) -> dict[str, Any]:
    """fal's webhook JWKS, downloaded again when the cached copy is older than ``max_age`` seconds."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(jwks_url)
        if cached is not None and now - cached[0] < max_age:
            return cached[1]
    try:
        response = httpx.get(jwks_url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        jwks = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise WebhookVerificationError(
            f"could not download the webhook keys from {jwks_url}: {exc}; check the network, or pass jwks="
        ) from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise WebhookVerificationError(f"{jwks_url} did not answer a JWKS (a JSON object with a 'keys' list)")
    with _cache_lock:
        _cache[jwks_url] = (now, jwks)
    return jwks


def _public_keys(jwks: Mapping[str, Any]) -> list[Ed25519PublicKey]:
    keys = []
    for jwk in jwks.get("keys") or []:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        x = str(jwk.get("x", ""))
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
        except (binascii.Error, ValueError):
            continue  # a malformed key cannot verify anything; the others may
    return keys


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; HTTP header names are not.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None or not str(value).strip():
        title = "-".join(part.capitalize() for part in name.split("-"))
        raise WebhookVerificationError(f"the webhook has no {title} header: it was not signed by fal")
    return str(value).strip()


def _matches(keys: list[Ed25519PublicKey], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False


def _check_tolerance(tolerance: Any) -> None:
    """Refuse a ``tolerance`` that is not a finite number of seconds, 0 or more (``nan`` compares false to
    everything, so ``abs(skew) > nan`` would let a delivery of any age through; ``inf`` likewise)."""
    number = isinstance(tolerance, int | float) and not isinstance(tolerance, bool)
    if not (number and math.isfinite(tolerance) and tolerance >= 0):
        message = "must be a finite number of seconds, 0 or more"
        raise InputError([Problem("tolerance", message, tolerance, "e.g. 300 (fal's 5 minutes)")])


def _check_timestamp(timestamp: str, request_id: str, tolerance: float) -> None:
    """Refuse a signed timestamp that is not unix seconds, or further than ``tolerance`` from this clock."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError(
            f"the X-Fal-Webhook-Timestamp header is not unix seconds (got {timestamp[:40]!r})"
        ) from None
    skew = time.time() - sent_at
    if abs(skew) > tolerance:
        when = f"{skew:.0f} s old" if skew > 0 else f"{-skew:.0f} s in the future"
        raise WebhookVerificationError(
            f"webhook for request {request_id[:64]} is {when} (tolerance {tolerance:g} s): "
            "a replayed delivery, or this machine's clock is wrong"
        )


def _check_signature(
    signature: bytes, message: bytes, request_id: str, jwks: Mapping[str, Any] | None, jwks_url: str
) -> None:
    """Refuse a signature none of the keys accepts (``jwks``, else fal's, fetched again once if rotated)."""
    given = jwks is not None
    keys = _public_keys(jwks if jwks is not None else fetch_jwks(jwks_url))
    verified = _matches(keys, signature, message)
    if not verified and not given:
        # fal may have rotated its keys since they were cached; a minute's floor keeps forged deliveries
        # from turning into one download each.
        keys = _public_keys(fetch_jwks(jwks_url, max_age=_REFETCH_FLOOR))
        verified = _matches(keys, signature, message)
    if not keys:
        source = "the JWKS given" if given else jwks_url
        raise WebhookVerificationError(f"{source} holds no Ed25519 (OKP) key to verify with")
    if not verified:
        raise WebhookVerificationError(
            f"the signature of the webhook for request {request_id[:64]} matches none of the "
            f"{plural(len(keys), 'webhook key')}: the body was changed after signing, or it was not signed by fal"
        )


def verify(
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    jwks: Mapping[str, Any] | None = None,
    tolerance: float = 300,
    jwks_url: str = FAL_JWKS_URL,
) -> dict[str, Any]:
    """Check a webhook delivery's ED25519 signature; return its JSON body.

    ``headers`` are the request's headers (any mapping; names are matched without
    regard to case), ``body`` the raw bytes as received (not re-serialised JSON:
    one changed byte breaks the signature). ``jwks`` is a JWKS to verify against;
    without it the keys are fetched from ``jwks_url`` (fal's by default) and
    cached. ``tolerance`` is how many seconds the signed timestamp may differ from
    this machine's clock (fal's docs: 5 minutes): a finite number of seconds, 0 or
    more (``nan`` or ``inf`` would accept a delivery of any age, so they are refused).

    Raises :class:`WebhookVerificationError` naming what failed: a missing
    header, a timestamp out of tolerance, a malformed signature, or a signature
    that none of the keys accepts (a tampered body or a key that is not fal's),
    and :class:`~seedance_nb.errors.InputError` naming ``tolerance`` when it is
    not such a number (nothing is verified).
    """
    _check_tolerance(tolerance)
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    request_id = _header(headers, HEADER_REQUEST_ID)
    user_id = _header(headers, HEADER_USER_ID)
    timestamp = _header(headers, HEADER_TIMESTAMP)
    signature_hex = _header(headers, HEADER_SIGNATURE)
    _check_timestamp(timestamp, request_id, tolerance)
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise WebhookVerificationError("the X-Fal-Webhook-Signature header is not hex") from None
    message = "\n".join((request_id, user_id, timestamp, hashlib.sha256(raw).hexdigest())).encode()

    _check_signature(signature, message, request_id, jwks, jwks_url)
    try:
        payload: dict[str, Any] = json.loads(raw)
        return payload
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookVerificationError(f"the signed webhook body is not JSON: {exc}") from exc
