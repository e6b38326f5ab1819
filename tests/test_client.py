"""The async client: status parsing, errors, retries (MockTransport), and real runs against the emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time

import httpx
import pytest

from seedance_nb import errors
from seedance_nb.client import AsyncClient, Completed, InProgress, Queued, parse_status, resolve_key
from seedance_nb.files import load_image, to_image_url
from seedance_nb.retry import RetryPolicy, backoff_seconds, is_ingress_error, retry_after_seconds, should_retry
from seedance_nb.schema import VideoInput

FAKE_KEY = "sk-FAKE-1234abcd:secret-5678efgh"
Q = "https://queue.test"


def run(coro):
    return asyncio.run(coro)


# --------------------------------------------------------------------------- status shapes


def test_parse_every_status_shape():
    assert parse_status({"status": "IN_QUEUE", "queue_position": 3, "logs": None}) == Queued(3)
    progress = parse_status({"status": "IN_PROGRESS", "logs": [{"message": "hi", "level": "INFO", "timestamp": "t"}]})
    assert isinstance(progress, InProgress) and progress.logs[0].message == "hi"
    done = parse_status({"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.5}})
    assert done == Completed((), {"inference_time": 1.5}) and done.ok
    failed = parse_status({"status": "COMPLETED", "logs": None, "metrics": {}, "error": "x", "error_type": "y"})
    assert not failed.ok and failed.error_type == "y"


@pytest.mark.parametrize(
    "body", [{"status": "FAILED"}, {"nope": 1}, None, {"status": "IN_QUEUE", "queue_position": "a"}]
)
def test_unknown_or_malformed_status_is_a_protocol_error(body):
    with pytest.raises(errors.ProtocolError):
        parse_status(body)


# --------------------------------------------------------------------------- retry decisions


def resp(code, text="", headers=None):
    return httpx.Response(code, text=text, headers=headers or {}, request=httpx.Request("GET", Q))


@pytest.mark.parametrize("code", [408, 409, 429])
def test_retryable_codes(code):
    assert should_retry("POST", response=resp(code), is_submit=True)


def test_ingress_errors_are_retried_but_fal_5xx_are_not():
    nginx = "<html><center>nginx</center></html>"
    assert is_ingress_error(503, {}, nginx)
    assert should_retry("GET", response=resp(502, nginx))
    # A submit answered 5xx may have been queued behind the edge: never re-sent (AmbiguousSubmit, settled later).
    assert not should_retry("POST", response=resp(502, nginx), is_submit=True)
    assert not should_retry("POST", response=resp(503, nginx, {"x-fal-request-id": "r"}), is_submit=True)
    assert not should_retry("GET", response=resp(500, "boom"))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_semantic_4xx_never_retried(code):
    assert not should_retry("GET", response=resp(code))


def test_submit_is_repeated_only_when_fal_provably_never_saw_it():
    req = httpx.Request("POST", Q)
    assert should_retry("POST", error=httpx.ConnectError("refused", request=req), is_submit=True)
    assert not should_retry("POST", error=httpx.ReadError("reset", request=req), is_submit=True)
    assert not should_retry("POST", error=httpx.ReadTimeout("slow", request=req), is_submit=True)
    assert should_retry("GET", error=httpx.ReadError("reset", request=req))


def test_result_504_right_after_completed_is_retried_but_a_start_timeout_is_not():
    assert should_retry("GET", response=resp(504, "{}", {"x-fal-request-id": "r"}), after_completed=True)
    assert not should_retry(
        "GET",
        response=resp(504, "{}", {"x-fal-request-id": "r", "X-Fal-Request-Timeout-Type": "user"}),
        after_completed=True,
    )
    assert not should_retry("GET", response=resp(504, "{}", {"x-fal-request-id": "r"}))


def test_backoff_grows_is_capped_and_honours_retry_after():
    rng = random.Random(0)
    policy = RetryPolicy(base_delay=0.1, max_delay=2.0)
    delays = [backoff_seconds(n, policy, rng=rng) for n in range(1, 12)]
    assert delays[0] < 0.2 and max(delays) <= 2.0 and delays[-1] > delays[0]
    assert backoff_seconds(1, policy, retry_after=5.0, rng=rng) == 5.0
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0 and retry_after_seconds({"Retry-After": "soon"}) is None


# --------------------------------------------------------------------------- MockTransport: errors and retries


def mock_client(handler, **kw):
    return AsyncClient(
        FAKE_KEY,
        queue_url=Q,
        rest_url="https://rest.test",
        cdn_url="https://cdn.test",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(base_delay=0.001, max_delay=0.01),
        **kw,
    )


INPUT = VideoInput(prompt="p", image_url="https://x/a.png")


def test_submit_retries_429_and_sends_auth_and_payload():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "0"})
        return httpx.Response(
            200, json={"request_id": "r1", "status_url": f"{Q}/s", "response_url": f"{Q}/r", "cancel_url": f"{Q}/c"}
        )

    async def go():
        async with mock_client(handler) as c:
            return await c.submit(INPUT, priority="low", start_timeout=30)

    handle = run(go())
    assert handle.request_id == "r1" and handle.status_url == f"{Q}/s"
    assert len(calls) == 3
    sent = calls[-1]
    assert sent.url.path == "/bytedance/seedance-2.0/fast/image-to-video"
    assert sent.headers["authorization"] == f"Key {FAKE_KEY}"
    assert sent.headers["x-fal-queue-priority"] == "low" and sent.headers["x-fal-request-timeout"] == "30.0"
    assert json.loads(sent.content) == {"prompt": "p", "image_url": "https://x/a.png"}


def test_submit_dropped_mid_response_is_not_repeated():
    calls = []

    def handler(request):
        calls.append(request)
        raise httpx.ReadError("connection reset", request=request)

    async def go():
        async with mock_client(handler) as c:
            await c.submit(INPUT)

    with pytest.raises(errors.AmbiguousSubmit, match="not sent again"):
        run(go())
    assert len(calls) == 1


def test_invalid_input_sends_nothing():
    calls = []

    async def go():
        async with mock_client(lambda r: calls.append(r)) as c:
            await c.submit({"prompt": "", "image_url": "ftp://x", "duration": 3})

    with pytest.raises(errors.InputError) as info:
        run(go())
    assert set(info.value.fields) == {"prompt", "image_url", "duration"} and calls == []


@pytest.mark.parametrize(
    ("code", "body", "kind", "text"),
    [
        (401, {"detail": "No user found for Key ID and Secret"}, errors.AuthenticationError, "FAL_KEY"),
        (403, {"detail": "User is locked. Reason: Exhausted balance."}, errors.AuthenticationError, "balance"),
        (404, {"detail": "Application not found"}, errors.NotFoundError, "not found"),
        # A 5xx answer to a submit does not say whether fal queued it: ambiguous, never re-sent blindly.
        (500, {"detail": "Internal Server Error"}, errors.AmbiguousSubmit, "500"),
    ],
)
def test_http_errors_map_to_the_tree_and_never_show_the_key(code, body, kind, text):
    async def go():
        async with mock_client(lambda r: httpx.Response(code, json=body)) as c:
            await c.submit(INPUT)

    with pytest.raises(kind) as info:
        run(go())
    assert info.value.status_code == code and text in str(info.value)
    assert "FAKE-1234abcd" not in str(info.value) and "secret-5678efgh" not in repr(info.value.__dict__)


@pytest.mark.parametrize(
    ("code", "body", "headers", "kind", "error_type"),
    [
        (
            422,
            {"detail": [{"loc": ["body", "image_url"], "msg": "bad", "type": "image_too_small"}]},
            {},
            errors.RejectedInput,
            "image_too_small",
        ),
        (
            422,
            {"detail": [{"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}]},
            {},
            errors.ModerationError,
            "content_policy_violation",
        ),
        (
            504,
            {"detail": "Request timed out", "error_type": "request_timeout"},
            {"X-Fal-Request-Timeout-Type": "user", "x-fal-request-id": "r"},
            errors.StartTimeout,
            "request_timeout",
        ),
        (500, {"detail": "Internal Server Error"}, {"x-fal-request-id": "r"}, errors.RequestFailed, None),
    ],
)
def test_result_failures(code, body, headers, kind, error_type):
    async def go():
        async with mock_client(lambda r: httpx.Response(code, json=body, headers=headers)) as c:
            await c.handle("r-1").result()

    with pytest.raises(kind) as info:
        run(go())
    assert info.value.request_id == "r-1" and info.value.error_type == error_type
    if kind is errors.RejectedInput:
        assert info.value.fields == ("image_url",) and isinstance(info.value, errors.InputError)


def test_result_504_after_completion_is_retried():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(504, json={"detail": "gateway"}, headers={"x-fal-request-id": "r"})
        return httpx.Response(200, json={"video": {"url": "https://cdn/v.mp4"}, "seed": 1})

    async def go():
        async with mock_client(handler) as c:
            return await c.handle("r").result()

    assert run(go()).seed == 1 and len(calls) == 2


def test_events_fall_back_to_polling_and_deduplicate_windowed_logs():
    polls = []
    log_a = {"message": "a", "level": "INFO", "timestamp": "1"}
    log_b = {"message": "b", "level": "INFO", "timestamp": "2"}
    bodies = [
        {"status": "IN_QUEUE", "queue_position": 1, "logs": None},
        {"status": "IN_PROGRESS", "logs": [log_a]},
        {"status": "IN_PROGRESS", "logs": [log_a, log_b]},
        {"status": "COMPLETED", "logs": [log_b], "metrics": {"inference_time": 2}},
    ]

    def handler(request):
        if request.url.path.endswith("/stream"):
            return httpx.Response(404, json={"detail": "no stream"})
        polls.append(request)
        return httpx.Response(200 if len(polls) >= 4 else 202, json=bodies[min(len(polls), 4) - 1])

    async def go():
        async with mock_client(handler, poll_interval=0.001) as c:
            return [e async for e in c.handle("r").events()]

    events = run(go())
    assert [type(e).__name__ for e in events] == ["Queued", "InProgress", "InProgress", "Completed"]
    assert [entry.message for entry in events[-1].logs] == ["a", "b"]


def test_key_is_read_lazily_from_the_environment(monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    client = AsyncClient(queue_url=Q)
    monkeypatch.setenv("FAL_KEY_ID", "id-1")
    monkeypatch.setenv("FAL_KEY_SECRET", "sec-2")
    assert resolve_key() == "id-1:sec-2" and client.api_key() == "id-1:sec-2"
    monkeypatch.setenv("FAL_KEY", FAKE_KEY)
    assert client.api_key() == FAKE_KEY
    assert "FAKE" not in repr(client) and "key=set" in repr(client)


# --------------------------------------------------------------------------- against the emulator


def test_subscribe_with_logs_through_sse(client, emu, png_bytes, tmp_path):
    seen, enqueued = [], []

    async def go():
        async with client:
            url = await to_image_url(png_bytes, client)
            inp = VideoInput(prompt="push", image_url=url, resolution="480p", duration=4)
            out = await client.subscribe(inp, on_enqueue=enqueued.append, on_update=seen.append)
            path = await client.download(out.video.url, tmp_path / "v.mp4", expected_size=out.video.file_size)
            return out, path

    out, path = run(go())
    assert enqueued and isinstance(seen[-1], Completed) and seen[-1].logs
    assert path.stat().st_size == out.video.file_size
    stats = emu.stats()["requests"]
    # One job costs four requests: submit, one stream, result, download.
    assert (stats.get("submit"), stats.get("stream"), stats.get("result"), stats.get("cdn_get")) == (1, 1, 1, 1)
    assert "status" not in stats


def test_polling_when_the_stream_drops(client, emu, png_bytes):
    emu.configure(rate_drop=1.0)

    async def go():
        async with client:
            client.poll_interval = 0.01
            url = await to_image_url(png_bytes, client)
            handle = await client.submit(VideoInput(prompt="p", image_url=url, resolution="480p", duration=4))
            emu.configure(rate_drop=0.0)
            return await handle.wait(timeout=30)

    assert run(go()).video.file_size > 0


def test_cancel_while_queued_and_while_running(client, emu, png_bytes):
    emu.configure(slots=1, speed=1.0)

    async def go():
        async with client:
            url = await to_image_url(png_bytes, client)
            inp = VideoInput(prompt="p", image_url=url, resolution="480p", duration=4)
            running, queued = await client.submit(inp), await client.submit(inp)
            assert isinstance(await queued.status(), Queued)
            assert await queued.cancel() and await running.cancel()
            for handle in (queued, running):
                with pytest.raises(errors.RequestCancelled):
                    await handle.wait(timeout=10)

    run(go())
    assert emu.stats()["cancelled"] == 2


def test_wait_timeout_cancels_the_remote_request(client, emu, png_bytes):
    emu.configure(speed=1.0)

    async def go():
        async with client:
            url = await to_image_url(png_bytes, client)
            handle = await client.submit(VideoInput(prompt="p", image_url=url, resolution="480p", duration=4))
            with pytest.raises(errors.WaitTimeout) as info:
                await handle.wait(timeout=0.2)
            assert info.value.request_id == handle.request_id

    run(go())
    deadline = time.monotonic() + 5  # a running job's cancellation completes on the emulator just after the PUT
    while time.monotonic() < deadline and emu.stats()["cancelled"] < 1:
        time.sleep(0.02)
    assert emu.stats()["cancelled"] == 1


def test_reattach_from_a_second_client(emu, png_bytes):
    def make():
        return AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)

    async def go():
        async with make() as first:
            url = await to_image_url(png_bytes, first)
            handle = await first.submit(VideoInput(prompt="p", image_url=url, resolution="480p", duration=4))
        async with make() as second:
            return await second.handle(handle.request_id).wait(timeout=30)

    assert run(go()).video.url.startswith(emu.cdn_url)
    assert emu.stats()["submissions"] == 1


def test_upload_then_generate_from_the_uploaded_url(client, emu, png_bytes):
    async def go():
        async with client:
            url = await client.upload(png_bytes, "image/png", "in.png")
            return url, await client.subscribe(VideoInput(prompt="p", image_url=url, resolution="480p", duration=4))

    url, out = run(go())
    assert url.startswith(emu.cdn_url) and out.video.file_size > 0


def test_moderation_and_bad_key_against_the_emulator(client, emu, png_bytes, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    uri = load_image(png_bytes).data_uri()

    async def go():
        async with client:
            with pytest.raises(errors.ModerationError):
                await client.subscribe(VideoInput(prompt="a forbidden thing", image_url=uri, resolution="480p"))
        emu.configure(api_key="right-id:right-secret")
        async with AsyncClient(FAKE_KEY, queue_url=emu.queue_url) as wrong:
            with pytest.raises(errors.AuthenticationError) as info:
                await wrong.submit(VideoInput(prompt="p", image_url=uri))
            return info.value, repr(wrong)

    err, text = run(go())
    for part in ("sk-FAKE-1234abcd", "secret-5678efgh"):
        assert part not in str(err) and part not in repr(err) and part not in text and part not in caplog.text


def test_one_client_works_across_event_loops(client, png_bytes):
    """Scripts may call asyncio.run several times (the sync helpers do); the client follows the loop."""

    async def once():
        async with client:  # closes this loop's connections; the next loop gets fresh ones
            url = await to_image_url(png_bytes, client)
            return await client.subscribe(VideoInput(prompt="p", image_url=url, resolution="480p", duration=4))

    assert run(once()).video.file_size > 0
    assert run(once()).video.file_size > 0
