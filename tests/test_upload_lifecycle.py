"""Uploads carry fal's object-lifecycle header as fal's clients send it, and the emulator expires such objects
(over loopback HTTP, the client's real requests recorded on their way out)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from seedance_nb.client import AsyncClient

LIFETIME = {"expiration_duration_seconds": 3600}


class Recording(httpx.AsyncBaseTransport):
    """The real loopback transport, keeping each request's method, URL and headers."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def upload(emu, data: bytes, lifecycle=None) -> tuple[str, list[httpx.Request]]:
    transport = Recording()

    async def go() -> str:
        async with AsyncClient(
            queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, transport=transport
        ) as client:
            return await client.upload(data, "image/png", "in.png", lifecycle=lifecycle)

    return asyncio.run(go()), transport.sent


def test_an_upload_with_a_lifetime_sends_both_lifecycle_headers(emu, png_bytes):
    url, sent = upload(emu, png_bytes, LIFETIME)
    posts = [r for r in sent if r.url.path.endswith("/files/upload")]
    assert len(posts) == 1
    assert json.loads(posts[0].headers["x-fal-object-lifecycle"]) == LIFETIME  # what fal's CDN reads
    assert json.loads(posts[0].headers["x-fal-object-lifecycle-preference"]) == LIFETIME  # fal-client 1.0.3 too
    _, plain = upload(emu, png_bytes)
    assert not any("x-fal-object-lifecycle" in r.headers for r in plain)


def test_the_emulator_expires_an_uploaded_object(emu, png_bytes):
    url, _ = upload(emu, png_bytes, LIFETIME)
    kept, _ = upload(emu, png_bytes)
    with httpx.Client(timeout=30) as http:
        assert http.get(url).content == png_bytes  # within its hour
        emu.configure(object_ttl_scale=0.0)  # the hour has passed
        assert http.get(url).status_code == 404 and http.get(url).status_code == 404
        assert http.get(kept).content == png_bytes  # no lifetime asked: fal's default retention


def test_the_cdn_ignores_the_preference_header_on_an_upload(emu, png_bytes):
    """Before the fix uploads sent only -Preference: fal's CDN kept such files for its default retention."""
    token = httpx.post(f"{emu.rest_url}/storage/auth/token", json={}).json()
    headers = {
        "Authorization": f"{token['token_type']} {token['token']}",
        "Content-Type": "image/png",
        "X-Fal-Object-Lifecycle-Preference": json.dumps(LIFETIME),
    }
    url = httpx.post(f"{emu.cdn_url}/files/upload", content=png_bytes, headers=headers).json()["access_url"]
    emu.configure(object_ttl_scale=0.0)
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize("header", ["X-Fal-Object-Lifecycle", "X-Fal-Object-Lifecycle-Preference"])
def test_storage_initiated_uploads_expire_by_either_header(emu, png_bytes, header):
    spec = {"content_type": "image/png", "file_name": "in.png"}
    started = httpx.post(
        f"{emu.rest_url}/storage/upload/initiate", json=spec, headers={header: json.dumps(LIFETIME)}
    ).json()
    assert httpx.put(started["upload_url"], content=png_bytes, headers={"Content-Type": "image/png"}).status_code == 200
    assert httpx.get(started["file_url"]).status_code == 200
    emu.configure(object_ttl_scale=0.0)
    assert httpx.get(started["file_url"]).status_code == 404


@pytest.mark.parametrize(
    "value", ["not json", '{"expiration_duration_seconds": -5}', '{"expiration_duration_seconds": "1h"}']
)
def test_a_malformed_lifecycle_header_is_refused(emu, value):
    spec = {"content_type": "image/png"}
    r = httpx.post(f"{emu.rest_url}/storage/upload/initiate", json=spec, headers={"X-Fal-Object-Lifecycle": value})
    assert r.status_code == 400 and "lifecycle" in r.json()["detail"]
