"""fal's own Python client (``fal-client`` from PyPI, the [test] extra), unchanged, against the emulator.

fal-client reads its hosts once, at import: ``FAL_RUN_HOST`` / ``FAL_QUEUE_RUN_HOST``
(environment) always get ``https://`` in front, and ``rest.fal.ai`` / ``v3.fal.media``
are fixed module globals. So a plain-HTTP loopback emulator is reached the way
fal-client's own unit tests reach fakes: by setting the module globals
``QUEUE_URL_FORMAT``, ``RUN_URL_FORMAT``, ``REST_URL`` and ``CDN_URL``. Nothing
else of the client is touched. Each call asserts on what came back: real MP4s
(probed with PyAV), logs, statuses, files byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gc
import hashlib
import os
import time
import warnings
from pathlib import Path

import av
import httpx
import pytest

from seedance_nb.emulator.engine import billable_units
from seedance_nb.schema import DEFAULT_ENDPOINT

if os.environ.get("CI") == "true":
    import fal_client  # in CI the suite must run: a missing fal-client fails here
else:
    fal_client = pytest.importorskip("fal_client", reason="fal-client comes with the [test] extra")
import fal_client.client as fc  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_config(emulator):
    before = dataclasses.asdict(emulator.config)
    yield
    emulator.configure(**before)


@pytest.fixture
def fal(emu, monkeypatch):
    monkeypatch.setattr(fc, "QUEUE_URL_FORMAT", emu.queue_url + "/")
    monkeypatch.setattr(fc, "RUN_URL_FORMAT", emu.run_url + "/")
    monkeypatch.setattr(fc, "REST_URL", emu.rest_url)
    monkeypatch.setattr(fc, "CDN_URL", emu.cdn_url)
    monkeypatch.setenv("FAL_KEY", "test-id:test-secret")
    emu.configure(api_key="test-id:test-secret")  # the emulator checks the key fal-client sends
    client = fal_client.SyncClient()
    yield client
    # fal_client caches an httpx.Client it never closes; close it so no socket leaks into later tests.
    cached = client.__dict__.get("_client")
    if cached is not None:
        cached.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def args(png_bytes):
    image = "data:image/png;base64," + base64.b64encode(png_bytes).decode()
    return {"prompt": "official client", "image_url": image, "resolution": "480p", "duration": "4"}


def assert_real_video(output: dict, emu, tmp_path: Path) -> None:
    """The output names a real 480p 16:9 4 s MP4 on the emulator's CDN."""
    video = output["video"]
    assert video["url"].startswith(emu.cdn_url) and video["content_type"] == "video/mp4"
    data = httpx.get(video["url"]).content
    assert len(data) == video["file_size"] and data[4:8] == b"ftyp"
    path = tmp_path / f"{output['seed']}-{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (864, 496)
        assert stream.codec_context.name == "h264" and sum(1 for _ in container.decode(video=0)) == 97


def test_subscribe_with_logs_and_queue_updates(fal, emu, args, tmp_path):
    emu.configure(speed=0.05)
    updates, enqueued = [], []
    out = fal.subscribe(
        DEFAULT_ENDPOINT, args, with_logs=True, on_enqueue=enqueued.append, on_queue_update=updates.append
    )
    assert_real_video(out, emu, tmp_path)
    kinds = [type(u).__name__ for u in updates]
    assert kinds[-1] == "Completed" and "InProgress" in kinds and len(enqueued) == 1
    messages = [log["message"] for u in updates if getattr(u, "logs", None) for log in u.logs]
    assert any("Generating 4s at 864x496" in m for m in messages)
    assert updates[-1].metrics["inference_time"] > 0 and updates[-1].error is None


def test_async_subscribe(emu, args, tmp_path, fal):
    async def main():
        client = fal_client.AsyncClient()
        try:
            return await client.subscribe(DEFAULT_ENDPOINT, args, with_logs=True)
        finally:
            await (await client._client).aclose()  # fal_client never closes its cached httpx.AsyncClient

    assert_real_video(asyncio.run(main()), emu, tmp_path)


def test_submit_status_result_and_cancel(fal, emu, args, tmp_path):
    handle = fal.submit(DEFAULT_ENDPOINT, args)
    assert handle.status_url.startswith(emu.queue_url) and "/fast/" not in handle.status_url
    first = handle.status(with_logs=True)
    assert type(first).__name__ in ("Queued", "InProgress", "Completed")
    out = handle.get()
    assert_real_video(out, emu, tmp_path)
    done = fal.status(DEFAULT_ENDPOINT, handle.request_id, with_logs=True)
    assert type(done).__name__ == "Completed" and done.logs and done.metrics["inference_time"] > 0
    assert fal.result(DEFAULT_ENDPOINT, handle.request_id) == out
    with pytest.raises(fal_client.FalClientHTTPError) as late:
        handle.cancel()  # already completed: fal answers 400 ALREADY_COMPLETED
    assert late.value.status_code == 400

    emu.configure(speed=1.0)
    slow = fal.submit(DEFAULT_ENDPOINT, args)
    slow.cancel()
    with pytest.raises(fal_client.FalClientHTTPError) as cancelled:
        slow.get()
    assert cancelled.value.status_code == 499 and cancelled.value.error_type == "client_cancelled"
    final = slow.status()
    assert type(final).__name__ == "Completed" and final.error_type == "client_cancelled"


def test_iter_events_walks_the_lifecycle(fal, emu, args):
    emu.configure(speed=0.05)
    handle = fal.submit(DEFAULT_ENDPOINT, args)
    events = list(handle.iter_events(with_logs=True, interval=0.05))
    kinds = [type(e).__name__ for e in events]
    assert kinds[-1] == "Completed" and kinds.count("Completed") == 1
    order = {"Queued": 0, "InProgress": 1, "Completed": 2}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds), "never goes back in the lifecycle"
    assert "InProgress" in kinds and any(e.logs for e in events if type(e).__name__ == "InProgress")


def test_run_answers_the_output_directly(fal, emu, args, tmp_path):
    out = fal.run(DEFAULT_ENDPOINT, {**args, "seed": 11})
    assert out["seed"] == 11
    assert_real_video(out, emu, tmp_path)
    assert emu.stats()["requests"]["run"] == 1 and emu.stats()["requests"].get("submit", 0) == 0
    assert emu.stats()["billable_units"] == pytest.approx(billable_units(864, 496, 4))
    with pytest.raises(fal_client.FalClientHTTPError) as bad:
        fal.run(DEFAULT_ENDPOINT, {**args, "duration": "99"})
    assert bad.value.status_code == 422


def test_upload_file_and_the_uploaded_url_as_input(fal, emu, args, png_path, png_bytes, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        url = fal.upload_file(png_path)
        gc.collect()
    assert url.startswith(emu.cdn_url) and httpx.get(url).content == png_bytes
    assert_real_video(fal.subscribe(DEFAULT_ENDPOINT, {**args, "image_url": url}), emu, tmp_path)


def test_upload_after_the_token_expired_uses_a_fresh_token(fal, emu, png_bytes):
    emu.configure(cdn_token_ttl=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        first = fal.upload(png_bytes, "image/png", "a.png")
        time.sleep(1.1)
        second = fal.upload(png_bytes, "image/png", "b.png")
        gc.collect()
    assert httpx.get(first).content == httpx.get(second).content == png_bytes
    requests = emu.stats()["requests"]
    # fal-client read expires_at and fetched a new token; it did not fall back to the other upload route.
    assert requests["storage_token"] == 2 and requests.get("upload_initiate", 0) == 0
    assert emu.engine.stats["token_refused"] == 0


def test_upload_file_over_100_mib_goes_multipart(fal, emu, tmp_path):
    size = fc.MULTIPART_THRESHOLD + 1024 * 1024 + 7  # just over fal-client's multipart threshold
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        written = 0
        while written < size:
            chunk = block[: size - written]
            chunk = written.to_bytes(8, "big") + chunk[8:] if len(chunk) > 8 else chunk  # every MiB differs
            fh.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        url = fal.upload_file(path)
        gc.collect()
    path.unlink()
    requests = emu.stats()["requests"]
    assert requests["cdn_part"] == -(-size // fc.MULTIPART_CHUNK_SIZE) == 11
    got, length = hashlib.sha256(), 0
    with httpx.stream("GET", url) as response:
        for chunk in response.iter_bytes(1024 * 1024):
            got.update(chunk)
            length += len(chunk)
    assert length == size and got.hexdigest() == digest.hexdigest()
