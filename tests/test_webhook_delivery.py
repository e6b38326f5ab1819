"""Webhook delivery from the client's side: ``AsyncClient.submit(webhook_url=...)`` on the emulator, a loopback
receiver that verifies each delivery with ``seedance_nb.webhooks.verify`` (keys from the emulator's JWKS URL),
the emulator retrying a receiver that answers 500, as fal does, until it gives up; and what verify refuses."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from loopback import LoopbackApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from seedance_nb.client import AsyncClient
from seedance_nb.schema import VideoInput
from seedance_nb.webhooks import WebhookVerificationError, verify


class Receiver(LoopbackApp):
    """A webhook endpoint on a loopback port: answers ``failures`` attempts with 500, then 200; records every
    attempt with the verdict of ``verify`` on it."""

    def __init__(self, jwks_url: str, failures: int = 0) -> None:
        self.attempts: list[dict] = []
        self._lock = threading.Lock()

        async def endpoint(request: Request) -> JSONResponse:
            raw = await request.body()
            record: dict = {"headers": dict(request.headers), "body": raw, "payload": None, "error": None}
            try:
                record["payload"] = verify(request.headers, raw, jwks_url=jwks_url)
            except WebhookVerificationError as exc:
                record["error"] = str(exc)
            with self._lock:
                self.attempts.append(record)
                refuse = len(self.attempts) <= failures
            if refuse:
                return JSONResponse({"detail": "receiver is down for maintenance"}, status_code=500)
            return JSONResponse({"ok": True}, status_code=401 if record["error"] else 200)

        app = Starlette(routes=[Route("/hooks/fal", endpoint, methods=["POST"])])
        super().__init__(app)
        self.url = self.base_url + "/hooks/fal"

    def wait(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.attempts) < count:
            assert time.monotonic() < deadline, f"{len(self.attempts)} of {count} webhook attempts arrived"
            time.sleep(0.02)
        return list(self.attempts)


pytestmark = pytest.mark.usefixtures("fresh_webhook_keys")


def _submit_with_webhook(emu, png_bytes: bytes, webhook_url: str, prompt: str = "a heron lands") -> tuple[str, str]:
    """Submit through the client with ``webhook_url``; return the request id and the video URL of its result."""

    async def go() -> tuple[str, str]:
        async with AsyncClient(
            queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url
        ) as client:
            url = await client.upload(png_bytes, "image/png", "in.png")
            handle = await client.submit(
                VideoInput(prompt=prompt, image_url=url, resolution="480p", duration=4), webhook_url=webhook_url
            )
            output = await handle.wait(timeout=60)
            return handle.request_id, output.video.url

    return asyncio.run(go())


def test_a_webhook_given_to_submit_arrives_signed_and_verifies(emu, png_bytes):
    with Receiver(emu.jwks_url) as receiver:
        request_id, video_url = _submit_with_webhook(emu, png_bytes, receiver.url)
        (delivery,) = receiver.wait(1)

    assert delivery["error"] is None
    assert delivery["payload"]["request_id"] == request_id and delivery["payload"]["status"] == "OK"
    assert delivery["payload"]["payload"]["video"]["url"] == video_url  # the same result the client fetched
    assert emu.stats()["webhooks_delivered"] == 1
    # The body changed after signing (a failure dressed up as a success, or back) no longer verifies.
    tampered = json.dumps({**json.loads(delivery["body"]), "status": "ERROR"}, sort_keys=True).encode()
    with pytest.raises(WebhookVerificationError, match="body was changed after signing"):
        verify(delivery["headers"], tampered, jwks_url=emu.jwks_url)
    # A copy of a real delivery for another request (a replay against a different id) does not verify either.
    with pytest.raises(WebhookVerificationError, match="matches none"):
        verify(
            {**delivery["headers"], "x-fal-webhook-request-id": "someone-elses-request"},
            delivery["body"],
            jwks=emu.jwks(),
        )


def test_a_receiver_answering_500_gets_the_delivery_again_signed_afresh(emu, png_bytes):
    emu.configure(webhook_retries=5)
    with Receiver(emu.jwks_url, failures=2) as receiver:
        request_id, _ = _submit_with_webhook(emu, png_bytes, receiver.url)
        attempts = receiver.wait(3)

    assert [a["error"] for a in attempts] == [None, None, None]  # every attempt is signed and verifies
    assert {a["payload"]["request_id"] for a in attempts} == {request_id}  # the same delivery: be idempotent
    assert len({a["body"] for a in attempts}) == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and emu.stats()["webhooks_delivered"] < 1:
        time.sleep(0.02)
    assert emu.stats()["webhooks_delivered"] == 1


def test_the_emulator_gives_up_after_its_retries(emu, png_bytes):
    emu.configure(webhook_retries=3)
    with Receiver(emu.jwks_url, failures=1000) as receiver:
        _submit_with_webhook(emu, png_bytes, receiver.url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and emu.engine.stats.get("webhook_retries", 0) < 3:
            time.sleep(0.02)
        # the delivery loop has ended: it counts a retry after each failed attempt, three attempts in all
        assert emu.engine.stats["webhook_retries"] == 3
        assert len(receiver.attempts) == 3 and all(a["error"] is None for a in receiver.attempts)
    assert emu.stats()["webhooks_delivered"] == 0


def _signed(body: bytes, request_id: str = "req-1") -> tuple[dict[str, str], dict]:
    """Headers signing ``body`` as fal does, and a JWKS whose first key is malformed and second verifies."""
    key = Ed25519PrivateKey.generate()
    timestamp = str(int(time.time()))
    message = "\n".join((request_id, "user-1", timestamp, hashlib.sha256(body).hexdigest())).encode()
    headers = {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": "user-1",
        "X-Fal-Webhook-Timestamp": timestamp,
        "X-Fal-Webhook-Signature": key.sign(message).hex(),
    }
    x = base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).rstrip(b"=").decode()
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "not*base64"}, {"kty": "OKP", "crv": "Ed25519", "x": x}]}
    return headers, jwks


def test_a_malformed_key_is_skipped_and_a_signed_body_that_is_not_json_is_refused():
    headers, jwks = _signed(b'{"request_id": "req-1", "status": "OK"}')
    assert verify(headers, b'{"request_id": "req-1", "status": "OK"}', jwks=jwks)["status"] == "OK"
    headers, jwks = _signed(b"<html>not json</html>")
    with pytest.raises(WebhookVerificationError, match="signed webhook body is not JSON"):
        verify(headers, b"<html>not json</html>", jwks=jwks)


def test_a_jwks_url_that_answers_something_else_is_a_clear_error(emu):
    headers, _ = _signed(b"{}")
    with pytest.raises(WebhookVerificationError, match="did not answer a JWKS"):
        verify(headers, b"{}", jwks_url=emu.base_url + "/_emulator/stats")
