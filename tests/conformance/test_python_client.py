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
from seedance_nb.schema import DEFAULT_ENDPOINT, EndpointId

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


@dataclasses.dataclass(frozen=True)
class Model:
    """One endpoint the official client is pointed at, with what its output must be."""

    endpoint: str
    args: dict
    size: tuple[int, int]
    seconds: int
    billable_units: float  # Seedance: thousands of tokens; Wan: seconds (its per-second rule)


@pytest.fixture(params=["seedance", "wan"])
def model(request, args) -> Model:
    """Seedance 2.0 fast, and one non-Seedance endpoint (Wan 2.5: its own schema, output shape and price rule)."""
    if request.param == "seedance":
        return Model(DEFAULT_ENDPOINT, args, (864, 496), 4, billable_units(864, 496, 4))
    wan = {"prompt": "official client", "image_url": args["image_url"], "resolution": "480p", "duration": "5"}
    return Model("fal-ai/wan-25-preview/image-to-video", wan, (832, 480), 5, 5.0)


def assert_real_video(output: dict, emu, tmp_path: Path, model: Model | None = None) -> None:
    """The output names a real MP4 on the emulator's CDN (Seedance's 480p 16:9 4 s unless ``model`` says)."""
    size, seconds = (model.size, model.seconds) if model else ((864, 496), 4)
    video = output["video"]
    assert video["url"].startswith(emu.cdn_url) and video["content_type"] == "video/mp4"
    data = httpx.get(video["url"]).content
    assert len(data) == video["file_size"] and data[4:8] == b"ftyp"
    path = tmp_path / f"{output['seed']}-{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == size
        assert stream.codec_context.name == "h264" and sum(1 for _ in container.decode(video=0)) == 24 * seconds + 1


def test_subscribe_with_logs_and_queue_updates(fal, emu, model, tmp_path):
    emu.configure(speed=0.05)
    updates, enqueued = [], []
    out = fal.subscribe(
        model.endpoint, model.args, with_logs=True, on_enqueue=enqueued.append, on_queue_update=updates.append
    )
    assert_real_video(out, emu, tmp_path, model)
    kinds = [type(u).__name__ for u in updates]
    assert kinds[-1] == "Completed" and "InProgress" in kinds and len(enqueued) == 1
    messages = [log["message"] for u in updates if getattr(u, "logs", None) for log in u.logs]
    assert any(f"Generating {model.seconds}s at {model.size[0]}x{model.size[1]}" in m for m in messages)
    assert updates[-1].metrics["inference_time"] > 0 and updates[-1].error is None


def test_async_subscribe(emu, args, tmp_path, fal):
    async def main():
        client = fal_client.AsyncClient()
        try:
            return await client.subscribe(DEFAULT_ENDPOINT, args, with_logs=True)
        finally:
            await (await client._client).aclose()  # fal_client never closes its cached httpx.AsyncClient

    assert_real_video(asyncio.run(main()), emu, tmp_path)


def test_submit_status_result_and_cancel(fal, emu, model, tmp_path):
    handle = fal.submit(model.endpoint, model.args)
    app = EndpointId.parse(model.endpoint).app  # status, result and cancel name the app only
    assert handle.status_url.startswith(f"{emu.queue_url}/{app}/requests/")
    first = handle.status(with_logs=True)
    assert type(first).__name__ in ("Queued", "InProgress", "Completed")
    out = handle.get()
    assert_real_video(out, emu, tmp_path, model)
    done = fal.status(model.endpoint, handle.request_id, with_logs=True)
    assert type(done).__name__ == "Completed" and done.logs and done.metrics["inference_time"] > 0
    assert fal.result(model.endpoint, handle.request_id) == out
    with pytest.raises(fal_client.FalClientHTTPError) as late:
        handle.cancel()  # already completed: fal answers 400 ALREADY_COMPLETED
    assert late.value.status_code == 400

    emu.configure(speed=1.0)
    slow = fal.submit(model.endpoint, model.args)
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


def test_run_answers_the_output_directly(fal, emu, model, tmp_path):
    out = fal.run(model.endpoint, {**model.args, "seed": 11})
    assert out["seed"] == 11
    assert_real_video(out, emu, tmp_path, model)
    assert emu.stats()["requests"]["run"] == 1 and emu.stats()["requests"].get("submit", 0) == 0
    assert emu.stats()["billable_units"] == pytest.approx(model.billable_units)
    with pytest.raises(fal_client.FalClientHTTPError) as bad:
        fal.run(model.endpoint, {**model.args, "duration": "99"})  # refused by that endpoint's own schema
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
