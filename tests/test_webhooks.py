"""Signed webhooks end to end: the emulator signs as fal does; a loopback receiver verifies (seedance_nb.webhooks)."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from loopback import LoopbackApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from seedance_nb import webhooks
from seedance_nb.errors import InputError, SeedanceError
from seedance_nb.webhooks import WebhookVerificationError, verify

SUBMIT = "/bytedance/seedance-2.0/fast/image-to-video"


class Receiver(LoopbackApp):
    """The receiver from seedance_nb.webhooks' docstring, run by uvicorn on a loopback port."""

    def __init__(self, jwks_url: str, status_when_refused: int = 401) -> None:
        self.deliveries: list[dict] = []
        self.arrived = threading.Event()

        async def fal_webhook(request: Request) -> JSONResponse:
            raw = await request.body()
            record = {"headers": dict(request.headers), "body": raw}
            try:
                record["payload"] = verify(request.headers, raw, jwks_url=jwks_url)
                record["error"] = None
            except WebhookVerificationError as exc:
                record["error"] = str(exc)
            self.deliveries.append(record)
            self.arrived.set()
            if record["error"]:
                return JSONResponse({"detail": record["error"]}, status_code=status_when_refused)
            return JSONResponse({"ok": True})

        app = Starlette(routes=[Route("/fal/webhook", fal_webhook, methods=["POST"])])
        super().__init__(app)
        self.url = self.base_url + "/fal/webhook"

    def wait(self, count: int = 1, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            assert time.monotonic() < deadline, f"{len(self.deliveries)} of {count} webhook deliveries arrived"
            self.arrived.wait(0.05)
            self.arrived.clear()
        return self.deliveries


pytestmark = pytest.mark.usefixtures("fresh_webhook_keys")


def submit_with_webhook(emu, png_bytes, url: str, **fields) -> dict:
    payload = {
        "prompt": "signed",
        "image_url": "data:image/png;base64," + base64.b64encode(png_bytes).decode(),
        "resolution": "480p",
        "duration": "4",
        **fields,
    }
    r = httpx.post(emu.queue_url + SUBMIT, params={"fal_webhook": url}, json=payload, timeout=30)
    assert r.status_code == 200
    return r.json()


def other_jwks() -> dict:
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]}


def test_a_signed_delivery_verifies_at_a_receiver(emu, png_bytes):
    with Receiver(emu.jwks_url) as receiver:
        sub = submit_with_webhook(emu, png_bytes, receiver.url)
        (delivery,) = receiver.wait()
    assert delivery["error"] is None
    payload = delivery["payload"]
    assert payload["request_id"] == sub["request_id"] and payload["status"] == "OK"
    assert payload["payload"]["video"]["url"].startswith(emu.cdn_url)
    headers = delivery["headers"]
    assert headers["x-fal-webhook-request-id"] == sub["request_id"]
    assert headers["x-fal-webhook-user-id"] == "emulator-user"
    assert abs(int(headers["x-fal-webhook-timestamp"]) - time.time()) < 30
    assert len(headers["x-fal-webhook-signature"]) == 128  # 64 bytes, hex
    # The same delivery verifies against the JWKS given directly, with headers in any case.
    title_case = {k.title(): v for k, v in headers.items()}
    assert verify(title_case, delivery["body"], jwks=emu.jwks()) == payload
    assert emu.stats()["webhooks_delivered"] == 1


def test_a_failed_request_is_delivered_signed_with_status_error(emu, png_bytes):
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url, duration="99")
        (delivery,) = receiver.wait()
    assert delivery["error"] is None
    assert delivery["payload"]["status"] == "ERROR" and delivery["payload"]["error"] == "Invalid status code: 422"


def test_tampered_body_wrong_key_and_stale_timestamp_do_not_verify(emu, png_bytes):
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url)
        (delivery,) = receiver.wait()
    headers, body = delivery["headers"], delivery["body"]
    tampered = body.replace(b'"status": "OK"', b'"status": "ok"')
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="matches none of the 1 webhook key"):
        verify(headers, tampered, jwks=emu.jwks())
    with pytest.raises(WebhookVerificationError, match="matches none"):
        verify(headers, body, jwks=other_jwks())
    forged = {**headers, "x-fal-webhook-user-id": "someone-else"}
    with pytest.raises(WebhookVerificationError, match="matches none"):
        verify(forged, body, jwks=emu.jwks())
    # A stale delivery: the emulator signs a timestamp 400 s in the past; the receiver refuses it (401),
    # and the emulator retries as fal does.
    emu.configure(webhook_timestamp_offset=-400, webhook_retries=2)
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url)
        first, second = receiver.wait(2)
    assert (
        re.search(r"is 40[0-9] s old \(tolerance 300 s\)", first["error"]) and second["error"]
    )  # a busy machine adds seconds
    assert emu.stats()["webhooks_delivered"] == 1  # only the first, fresh one
    with pytest.raises(WebhookVerificationError, match="s old"):
        verify(first["headers"], first["body"], jwks=emu.jwks())
    assert verify(first["headers"], first["body"], jwks=emu.jwks(), tolerance=600)["status"] == "OK"


def test_a_tolerance_that_is_not_a_finite_number_of_seconds_is_refused(emu, png_bytes):
    # A delivery signed ten years ago (the emulator signs as fal does, with its clock set back).
    emu.configure(webhook_timestamp_offset=-10 * 365 * 86400, webhook_retries=1)
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url)
        (delivery,) = receiver.wait()
    headers, body = delivery["headers"], delivery["body"]
    assert "s old" in delivery["error"]
    # Its signature is good: only its age refuses it (a finite tolerance of more than ten years lets it in).
    assert verify(headers, body, jwks=emu.jwks(), tolerance=11 * 365 * 86400)["status"] == "OK"
    for tolerance in (float("nan"), float("inf"), -float("inf"), -1, True, "300", None):
        with pytest.raises(InputError, match="tolerance") as caught:
            verify(headers, body, jwks=emu.jwks(), tolerance=tolerance)
        assert caught.value.fields == ("tolerance",)
    with pytest.raises(WebhookVerificationError, match="s old"):
        verify(headers, body, jwks=emu.jwks(), tolerance=0)


def test_missing_headers_and_malformed_values_are_named(emu):
    headers = {
        "x-fal-webhook-request-id": "r",
        "x-fal-webhook-user-id": "u",
        "x-fal-webhook-timestamp": str(int(time.time())),
        "x-fal-webhook-signature": "00" * 64,
    }
    for name in headers:
        partial = {k: v for k, v in headers.items() if k != name}
        title = "-".join(p.capitalize() for p in name.split("-"))
        with pytest.raises(WebhookVerificationError, match=f"no {title} header"):
            verify(partial, b"{}", jwks=emu.jwks())
    with pytest.raises(WebhookVerificationError, match="not unix seconds"):
        verify({**headers, "x-fal-webhook-timestamp": "yesterday"}, b"{}", jwks=emu.jwks())
    with pytest.raises(WebhookVerificationError, match="not hex"):
        verify({**headers, "x-fal-webhook-signature": "zz"}, b"{}", jwks=emu.jwks())
    with pytest.raises(WebhookVerificationError, match="no Ed25519"):
        verify(headers, b"{}", jwks={"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]})
    assert issubclass(WebhookVerificationError, SeedanceError)


def test_an_unsigned_delivery_is_refused(emu, png_bytes):
    emu.configure(webhook_sign=False, webhook_retries=1)
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url)
        (delivery,) = receiver.wait()
    assert "no X-Fal-Webhook-User-Id header" in delivery["error"]


def test_keys_are_fetched_once_and_again_after_a_rotation(emu, png_bytes, monkeypatch):
    with Receiver(emu.jwks_url) as receiver:
        submit_with_webhook(emu, png_bytes, receiver.url)
        submit_with_webhook(emu, png_bytes, receiver.url)
        deliveries = receiver.wait(2)
        assert [d["error"] for d in deliveries] == [None, None]
        assert emu.stats()["requests"]["jwks"] == 1, "the JWKS is cached between deliveries"
        # fal rotates its key: a delivery signed by the new key fetches the keys again (past the minute's floor).
        monkeypatch.setattr(webhooks, "_REFETCH_FLOOR", 0.0)
        emu.configure(webhook_private_key=Ed25519PrivateKey.generate().private_bytes_raw().hex())
        submit_with_webhook(emu, png_bytes, receiver.url)
        deliveries = receiver.wait(3)
    assert deliveries[2]["error"] is None and emu.stats()["requests"]["jwks"] == 2


def test_a_jwks_that_cannot_be_fetched_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/.well-known/jwks.json"
    headers = {
        "x-fal-webhook-request-id": "r",
        "x-fal-webhook-user-id": "u",
        "x-fal-webhook-timestamp": str(int(time.time())),
        "x-fal-webhook-signature": "00" * 64,
    }
    with pytest.raises(WebhookVerificationError, match="could not download the webhook keys"):
        verify(headers, json.dumps({}), jwks_url=url)
