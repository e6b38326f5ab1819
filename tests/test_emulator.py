"""The emulator speaks fal's queue protocol over loopback HTTP and renders real MP4s."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import httpx
import pytest
from seedance_testconf import make_png

from seedance_nb.emulator.engine import RENDER_NICE, billable_units
from seedance_nb.emulator.render import auto_duration
from seedance_nb.schema import DEFAULT_ENDPOINT, SIZES, estimate_cost

SUBMIT = "/bytedance/seedance-2.0/fast/image-to-video"
STANDARD = "bytedance/seedance-2.0/image-to-video"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def _restore_config(emulator):
    """Options outside conftest's TEST_CONFIG (retention, tokens, fetching, webhooks...) go back after each test."""
    before = dataclasses.asdict(emulator.config)
    yield
    emulator.configure(**before)


def submit(http, emu, png_bytes, *, endpoint=DEFAULT_ENDPOINT, **fields):
    payload = {"prompt": "a slow push-in", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"}
    payload.update(fields)
    r = http.post(f"{emu.queue_url}/{endpoint}", json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def wait_done(http, sub, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.get(sub["status_url"])
        if r.status_code == 200:
            return r.json()
        assert r.status_code == 202
        time.sleep(0.02)
    raise AssertionError("request did not complete")


def test_submit_answers_fals_shape_with_owner_alias_urls(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    assert sub["status"] == "IN_QUEUE" and isinstance(sub["queue_position"], int)
    rid = sub["request_id"]
    base = f"{emu.queue_url}/bytedance/seedance-2.0/requests/{rid}"
    assert (sub["response_url"], sub["status_url"], sub["cancel_url"]) == (base, base + "/status", base + "/cancel")


def test_status_is_202_until_completed_then_200_with_metrics(http, emu, png_bytes):
    emu.configure(speed=0.05)
    sub = submit(http, emu, png_bytes)
    first = http.get(sub["status_url"])
    assert first.status_code == 202
    assert first.headers["x-fal-request-id"] == sub["request_id"]
    body = first.json()
    assert body["status"] in ("IN_QUEUE", "IN_PROGRESS") and body["logs"] is None and body["metrics"] == {}
    done = wait_done(http, sub)
    assert done["status"] == "COMPLETED" and done["metrics"]["inference_time"] > 0 and "error" not in done


def test_logs_only_with_logs_flag_in_every_spelling(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    wait_done(http, sub)
    for flag in ("1", "true", "True"):
        logs = http.get(sub["status_url"], params={"logs": flag}).json()["logs"]
        assert logs and {"message", "level", "source", "timestamp", "labels"} <= set(logs[0])
    for flag in ("0", "false"):
        assert http.get(sub["status_url"], params={"logs": flag}).json()["logs"] is None


def test_sse_stream_sends_incremental_logs_and_closes_after_completed(http, emu, png_bytes):
    emu.configure(speed=0.05, log_interval=0.5)
    sub = submit(http, emu, png_bytes)
    events = []
    with http.stream("GET", sub["status_url"] + "/stream", params={"logs": "1"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "COMPLETED"
    assert [e for e in events if e["status"] == "IN_PROGRESS"]
    messages = [entry["message"] for e in events for entry in (e["logs"] or [])]
    assert len(messages) == len(set(messages)) > 2, "each log entry is sent once (incremental)"


def test_stream_of_a_completed_request_sends_one_event(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    wait_done(http, sub)
    with http.stream("GET", sub["status_url"] + "/stream") as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert len(lines) == 1 and json.loads(lines[0][6:])["status"] == "COMPLETED"


def test_result_is_the_raw_output_and_the_video_is_served_with_ranges(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes, seed=42)
    wait_done(http, sub)
    out = http.get(sub["response_url"]).json()
    assert out["seed"] == 42 and out["video"]["content_type"] == "video/mp4"
    full = http.get(out["video"]["url"])
    assert full.status_code == 200 and len(full.content) == out["video"]["file_size"]
    part = http.get(out["video"]["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]


def test_trailing_slashes_are_accepted(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    wait_done(http, sub)
    assert http.get(sub["status_url"] + "/").status_code == 200
    assert http.get(sub["response_url"] + "/").status_code == 200


def test_subpath_status_urls_are_404_when_strict(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    url = f"{emu.queue_url}{SUBMIT}/requests/{sub['request_id']}/status"
    assert http.get(url).status_code == 404
    emu.configure(strict_subpath=False)
    assert http.get(url).status_code in (200, 202)


def test_queue_paths_name_the_app_as_fal_does(http, emu, png_bytes):
    """A namespace belongs to the app; empty segments are ignored; a path that names no app is 404."""
    payload = {"prompt": "x", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"}
    sub = http.post(emu.queue_url + "/workflows/someone/flow//step", json=payload).json()
    base = f"{emu.queue_url}/workflows/someone/flow/requests/{sub['request_id']}"
    assert (sub["response_url"], sub["status_url"], sub["cancel_url"]) == (base, base + "/status", base + "/cancel")
    assert http.get(base + "/status").status_code in (200, 202)
    # The same request id under another app is not found (its cancel answers fal's NOT_FOUND body).
    other = f"{emu.queue_url}/workflows/someone/other/requests/{sub['request_id']}"
    assert http.get(other + "/status").json() == {"detail": "Request not found"}
    assert http.put(other + "/cancel").json() == {"status": "NOT_FOUND"}
    for path in ("/bytedance", "/workflows/someone", "/workflows"):
        r = http.post(emu.queue_url + path, json=payload)
        assert (r.status_code, r.json()) == (404, {"detail": "Application not found"})
    assert http.get(f"{base}/bogus").json() == {"detail": "Not Found"}
    assert http.put(base + "/cancel").json()["status"] in ("CANCELLATION_REQUESTED", "ALREADY_COMPLETED")


@pytest.mark.parametrize(
    ("method", "path", "strict", "route"),
    [
        ("POST", "fast/image-to-video", True, ("submit", None)),
        ("GET", "requests/r1", True, ("result", "r1")),
        ("GET", "requests/r1/status", True, ("status", "r1")),
        ("GET", "requests/r1/status/stream", True, ("stream", "r1")),
        ("PUT", "requests/r1/cancel", True, ("cancel", "r1")),
        ("GET", "requests", True, ("unknown", None)),
        ("GET", "requests/r1/logs", True, ("unknown", None)),
        ("GET", "fast/requests/r1/status", True, ("subpath", None)),
        ("GET", "fast/requests/r1/status", False, ("status", "r1")),
        ("GET", "", True, ("unknown", None)),
    ],
)
def test_queue_route_names_what_follows_the_app(method, path, strict, route):
    from seedance_nb.emulator.queue_routes import queue_route

    assert queue_route(method, [p for p in path.split("/") if p], strict_subpath=strict) == route


def test_result_before_completion_is_400(http, emu, png_bytes):
    emu.configure(speed=1.0)
    sub = submit(http, emu, png_bytes)
    r = http.get(sub["response_url"])
    assert r.status_code == 400 and "progress" in r.json()["detail"]
    http.put(sub["cancel_url"])


def test_cancel_codes(http, emu, png_bytes):
    emu.configure(speed=1.0, slots=1)
    running = submit(http, emu, png_bytes)
    queued = submit(http, emu, png_bytes)
    assert http.get(queued["status_url"]).json()["queue_position"] == 0
    for sub in (queued, running):
        r = http.put(sub["cancel_url"])
        assert (r.status_code, r.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    for sub in (queued, running):
        done = wait_done(http, sub)
        assert done["error_type"] == "client_cancelled"
        result = http.get(sub["response_url"])
        assert result.status_code == 499 and result.json()["error_type"] == "client_cancelled"
    assert http.put(running["cancel_url"]).status_code == 400
    assert http.put(running["cancel_url"]).json() == {"status": "ALREADY_COMPLETED"}
    unknown = running["cancel_url"].replace(running["request_id"], "00000000-0000-0000-0000-000000000000")
    assert (http.put(unknown).status_code, http.put(unknown).json()) == (404, {"status": "NOT_FOUND"})
    stats = emu.stats()
    assert stats["cancelled"] == 2 and stats["queued"] == 0 and stats["running"] == 0


def test_bad_input_is_accepted_then_fails_with_422_at_the_result(http, emu, png_bytes):
    r = http.post(emu.queue_url + SUBMIT, json={"prompt": "x", "image_url": data_uri(png_bytes), "duration": "99"})
    assert r.status_code == 200
    sub = r.json()
    done = wait_done(http, sub)
    assert done["status"] == "COMPLETED" and done["error"]
    result = http.get(sub["response_url"])
    assert result.status_code == 422
    (item,) = result.json()["detail"]
    assert item["loc"] == ["body", "duration"] and item["input"] == "99"


@pytest.mark.parametrize(
    ("png", "error_type"),
    [
        (make_png(200, 200), "image_too_small"),
        (make_png(1500, 450), "image_aspect_ratio_error"),
        (b"GIF89a" + b"\0" * 40, "image_load_error"),
    ],
)
def test_images_are_checked_as_fal_does(http, emu, png, error_type):
    sub = submit(http, emu, png)
    wait_done(http, sub)
    result = http.get(sub["response_url"])
    assert result.status_code == 422 and result.json()["detail"][0]["type"] == error_type


def test_unreachable_image_url_is_a_file_download_error(http, emu):
    r = http.post(emu.queue_url + SUBMIT, json={"prompt": "x", "image_url": "https://example.invalid/a.png"})
    sub = r.json()
    wait_done(http, sub)
    assert http.get(sub["response_url"]).json()["detail"][0]["type"] == "file_download_error"


def test_moderation_word_and_output_moderation(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes, prompt="something forbidden here")
    wait_done(http, sub)
    assert http.get(sub["response_url"]).json()["detail"][0]["type"] == "content_policy_violation"
    emu.configure(rate_moderation=1.0)
    sub = submit(http, emu, png_bytes)
    wait_done(http, sub)
    detail = http.get(sub["response_url"]).json()["detail"][0]
    assert detail["type"] == "content_policy_violation" and "sensitive" in detail["msg"]


def test_priority_low_waits_behind_normal(http, emu, png_bytes):
    emu.configure(slots=1, speed=1.0)
    blocker = submit(http, emu, png_bytes)
    low = http.post(
        emu.queue_url + SUBMIT,
        headers={"X-Fal-Queue-Priority": "low"},
        json={"prompt": "low", "image_url": data_uri(png_bytes)},
    ).json()
    normal = submit(http, emu, png_bytes)
    assert http.get(normal["status_url"]).json()["queue_position"] == 0
    assert http.get(low["status_url"]).json()["queue_position"] == 1
    for sub in (blocker, low, normal):
        http.put(sub["cancel_url"])


def test_start_timeout_gives_504_request_timeout(http, emu, png_bytes):
    emu.configure(slots=1, speed=1.0)
    blocker = submit(http, emu, png_bytes)
    r = http.post(
        emu.queue_url + SUBMIT,
        headers={"X-Fal-Request-Timeout": "1.2"},
        json={"prompt": "late", "image_url": data_uri(png_bytes)},
    )
    sub = r.json()
    done = wait_done(http, sub, timeout=10)
    assert done["error_type"] == "request_timeout"
    result = http.get(sub["response_url"])
    assert result.status_code == 504 and result.headers["x-fal-request-timeout-type"] == "user"
    assert (
        http.post(
            emu.queue_url + SUBMIT,
            headers={"X-Fal-Request-Timeout": "0.5"},
            json={"prompt": "x", "image_url": "https://x"},
        ).status_code
        == 400
    )
    http.put(blocker["cancel_url"])


def test_api_key_is_required_when_configured(http, emu, png_bytes):
    emu.configure(api_key="id:secret")
    r = http.post(emu.queue_url + SUBMIT, json={"prompt": "x", "image_url": data_uri(png_bytes)})
    assert r.status_code == 401 and r.json() == {"detail": "No user found for Key ID and Secret"}
    ok = http.post(
        emu.queue_url + SUBMIT,
        headers={"Authorization": "Key id:secret"},
        json={"prompt": "x", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"},
    )
    assert ok.status_code == 200
    assert "secret" not in json.dumps(emu.stats()) and "secret" not in http.get(emu.base_url + "/_emulator/stats").text


def test_faults_429_and_ingress_look_like_fals(http, emu, png_bytes):
    emu.configure(rate_429=1.0)
    r = http.get(emu.queue_url + "/bytedance/seedance-2.0/requests/x/status")
    assert r.status_code == 429
    emu.configure(rate_429=0.0, rate_ingress=1.0)
    r = http.get(emu.queue_url + "/bytedance/seedance-2.0/requests/x/status")
    assert r.status_code in (502, 503, 504) and "nginx" in r.text and "x-fal-request-id" not in r.headers
    assert emu.stats()["faults"] == {"429": 1, "ingress": 1}


def test_fault_drop_cuts_get_responses_but_never_submits(http, emu, png_bytes):
    emu.configure(rate_drop=1.0)
    sub = submit(http, emu, png_bytes)  # submits are never dropped
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(sub["status_url"])


def test_fault_slow_delays(http, emu, png_bytes):
    emu.configure(rate_slow=1.0, slow_seconds=0.3)
    started = time.monotonic()
    http.get(emu.queue_url + "/bytedance/seedance-2.0/requests/x/status")
    assert time.monotonic() - started >= 0.3


def test_faults_are_reproducible_from_the_seed(http, emu):
    def pattern():
        emu.configure(rate_429=0.5, fault_seed=7)
        return [http.get(emu.queue_url + "/a/b/requests/x/status").status_code for _ in range(20)]

    assert pattern() == pattern()
    assert set(pattern()) == {404, 429}


def test_stats_and_config_over_http(http, emu, png_bytes):
    sub = submit(http, emu, png_bytes)
    wait_done(http, sub)
    stats = http.get(emu.base_url + "/_emulator/stats").json()
    assert stats["submissions"] == 1 and stats["completed"] == 1 and stats["billed_video_seconds"] == 4
    assert stats["requests"]["submit"] == 1 and stats["requests"]["status"] >= 1
    r = http.post(emu.base_url + "/_emulator/config", json={"slots": 3})
    assert r.status_code == 200 and r.json()["slots"] == 3
    bad = http.post(emu.base_url + "/_emulator/config", json={"nope": 1})
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]


def test_storage_flows_and_upload_url_is_usable_as_input(http, emu, png_bytes):
    token = http.post(emu.rest_url + "/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}).json()
    assert {"token", "token_type", "base_url", "expires_at"} <= set(token)
    up = http.post(
        emu.cdn_url + "/files/upload",
        content=png_bytes,
        headers={"Content-Type": "image/png", "Authorization": f"Bearer {token['token']}"},
    ).json()
    assert http.get(up["access_url"]).content == png_bytes
    init = http.post(
        emu.rest_url + "/storage/upload/initiate",
        params={"storage_type": "gcs"},
        json={"file_name": "a.png", "content_type": "image/png"},
    ).json()
    assert http.put(init["upload_url"], content=png_bytes, headers={"Content-Type": "image/png"}).status_code == 200
    assert http.get(init["file_url"]).content == png_bytes
    sub = submit(http, emu, png_bytes, image_url=init["file_url"])
    assert wait_done(http, sub).get("error") is None


# --------------------------------------------------------------------------- fal as it really is (REAL_FAL.md)


class _Files(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        status, body, delay = self.routes.get(self.path, (404, b"not here", 0.0))
        time.sleep(delay)
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", body.decode())
            body = b""
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_server():
    """An ordinary http host on loopback serving images: {path: (status, body, delay)}."""
    handler = type("Files", (_Files,), {"routes": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads, server.block_on_close = True, False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.routes = handler.routes
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def result_of(http, sub):
    wait_done(http, sub)
    return http.get(sub["response_url"])


def test_image_urls_on_an_http_host_are_downloaded(http, emu, image_server, png_bytes, tmp_path):
    red = make_png(colour=(250, 20, 20))
    image_server.routes.update({"/first.png": (200, png_bytes, 0), "/moved": (302, b"/last.png", 0)})
    image_server.routes["/last.png"] = (200, red, 0)
    sub = submit(
        http, emu, png_bytes, image_url=image_server.url + "/first.png", end_image_url=image_server.url + "/moved"
    )
    r = result_of(http, sub)
    assert r.status_code == 200, r.text
    info = probe(http.get(r.json()["video"]["url"]).content, tmp_path)
    assert info["size"] == SIZES[("480p", "16:9")] and info["frames"] == 97


@pytest.mark.parametrize(
    ("route", "config", "says"),
    [
        ({"/a.png": (404, b"gone", 0)}, {}, "answered 404"),
        ({"/a.png": (200, make_png(), 0)}, {"fetch_max_bytes": 1000}, "limit"),
        ({"/a.png": (200, make_png(), 1.5)}, {"fetch_timeout": 0.3}, "Timeout"),
        ({"/a.png": (200, make_png(), 0)}, {"fetch_hosts": ("images.example.org",)}, "fetch_hosts"),
    ],
    ids=["http-404", "too-large", "too-slow", "host-not-allowed"],
)
def test_a_failed_download_is_fals_422_file_download_error(http, emu, image_server, route, config, says):
    image_server.routes.update(route)
    emu.configure(**config)
    r = result_of(http, submit(http, emu, b"", image_url=image_server.url + "/a.png"))
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["type"] == "file_download_error" and item["loc"] == ["body", "image_url"] and says in item["msg"]


def test_an_unreachable_loopback_port_is_a_file_download_error(http, emu, png_bytes):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    r = result_of(http, submit(http, emu, png_bytes, end_image_url=f"http://127.0.0.1:{port}/x.png"))
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "file_download_error"
    assert r.json()["detail"][0]["loc"] == ["body", "end_image_url"]


def test_cdn_tokens_expire_and_a_fresh_token_uploads_again(http, emu, png_bytes):
    emu.configure(cdn_token_ttl=0.5)

    def token():
        body = http.post(emu.rest_url + "/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}).json()
        return body, f"{body['token_type']} {body['token']}"

    def upload(auth):
        return http.post(
            emu.cdn_url + "/files/upload",
            content=png_bytes,
            headers={"Content-Type": "image/png", "Authorization": auth},
        )

    body, auth = token()
    expires = body["expires_at"]
    assert 0 < (datetime.fromisoformat(expires) - datetime.now(timezone.utc)).total_seconds() <= 0.5
    assert upload(auth).status_code == 200
    time.sleep(0.6)
    expired = upload(auth)
    assert (expired.status_code, expired.json()) == (401, {"detail": "Token expired"})
    assert upload("Bearer not-a-token").json() == {"detail": "Invalid token"}
    _, fresh = token()
    again = upload(fresh)
    assert again.status_code == 200 and http.get(again.json()["access_url"]).content == png_bytes


def test_result_retention_follows_fals_rules(http, emu, png_bytes):
    emu.configure(result_ttl=0.4)
    sub = submit(http, emu, png_bytes)
    assert result_of(http, sub).status_code == 200
    time.sleep(0.5)
    assert http.get(sub["response_url"]).status_code == 404
    assert http.get(sub["status_url"]).status_code == 404
    # A result of 10 KB or more is kept 6 minutes, not an hour (the threshold lowered to our small result).
    emu.configure(result_ttl=3600, large_result_bytes=50, large_result_ttl=0.4)
    sub = submit(http, emu, png_bytes)
    assert result_of(http, sub).status_code == 200
    time.sleep(0.5)
    assert http.get(sub["response_url"]).status_code == 404
    # With payload storage on, the storage period applies, unless the request said X-Fal-Store-IO: 0.
    emu.configure(payload_storage_ttl=3600)
    kept = submit(http, emu, png_bytes)
    opted_out = http.post(
        emu.queue_url + SUBMIT,
        headers={"X-Fal-Store-IO": "0"},
        json={"prompt": "x", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"},
    ).json()
    # The opted-out result lives 0.4 s: watch it first (kept lives an hour), or a loaded machine misses it.
    wait_done(http, opted_out), wait_done(http, kept)
    time.sleep(0.5)
    assert http.get(kept["response_url"]).status_code == 200
    assert http.get(opted_out["response_url"]).status_code == 404
    assert emu.stats()["expired"] >= 3  # older tests' results expire too once the TTL is this short


def test_results_carry_billable_units_in_fals_unit(http, emu, png_bytes):
    r = result_of(http, submit(http, emu, png_bytes))
    assert r.headers["x-fal-billable-units"] == "40.176"
    units = float(r.headers["x-fal-billable-units"])
    assert units == pytest.approx(864 * 496 * 4 * 24 / 1024 / 1000) == billable_units(864, 496, 4)
    estimate = estimate_cost("480p", "4", "16:9")
    assert units * 0.0112 == pytest.approx(estimate.usd)
    assert emu.stats()["billable_units"] == pytest.approx(units)
    failed = result_of(http, submit(http, emu, png_bytes, prompt="forbidden"))
    assert failed.status_code == 422 and "x-fal-billable-units" not in failed.headers


def test_openapi_document_is_served_at_fals_path(http, emu):
    r = http.get(emu.openapi_url, params={"endpoint_id": DEFAULT_ENDPOINT})
    assert r.status_code == 200
    doc = r.json()
    schema = doc["components"]["schemas"]["BytedanceSeedance20FastImageToVideoInput"]
    assert schema["properties"]["bitrate_mode"]["enum"] == ["standard", "high"]
    assert schema["properties"]["duration"]["enum"][:2] == ["auto", "4"] and "seed" not in schema["properties"]
    assert schema["required"] == ["prompt", "image_url"] and doc["servers"] == [{"url": emu.queue_url}]
    post = doc["paths"]["/" + DEFAULT_ENDPOINT]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert post == {"$ref": "#/components/schemas/BytedanceSeedance20FastImageToVideoInput"}
    assert http.get(emu.openapi_url, params={"endpoint_id": "fal-ai/nope"}).status_code == 404
    emu.configure(openapi={"openapi": "3.0.4", "paths": {}})
    assert http.get(emu.openapi_url, params={"endpoint_id": DEFAULT_ENDPOINT}).json() == {
        "openapi": "3.0.4",
        "paths": {},
    }


def test_bitrate_mode_is_accepted_and_checked(http, emu, png_bytes):
    assert result_of(http, submit(http, emu, png_bytes, bitrate_mode="high")).status_code == 200
    bad = result_of(http, submit(http, emu, png_bytes, bitrate_mode="ultra"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "bitrate_mode"]


def test_cancel_of_a_queued_request_can_answer_ok(http, emu, png_bytes):
    emu.configure(speed=1.0, slots=1, cancel_queued_ok=True)
    running, queued = submit(http, emu, png_bytes), submit(http, emu, png_bytes)
    r = http.put(queued["cancel_url"])
    assert (r.status_code, r.json(), r.headers["x-fal-request-id"]) == (200, {"status": "OK"}, queued["request_id"])
    r = http.put(running["cancel_url"])
    assert (r.status_code, r.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert result_of(http, queued).status_code == 499 and result_of(http, running).status_code == 499


def test_sync_run_route_answers_the_output(http, emu, png_bytes, tmp_path):
    payload = {"prompt": "sync", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4", "seed": 5}
    r = http.post(emu.run_url + SUBMIT, json=payload)
    assert r.status_code == 200 and r.json()["seed"] == 5 and r.headers["x-fal-request-id"]
    assert float(r.headers["x-fal-billable-units"]) == billable_units(864, 496, 4)
    assert probe(http.get(r.json()["video"]["url"]).content, tmp_path)["frames"] == 97
    bad = http.post(emu.run_url + SUBMIT, json={"prompt": "x", "image_url": data_uri(png_bytes), "duration": "99"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "duration"]
    emu.configure(api_key="id:secret")
    assert http.post(emu.run_url + SUBMIT, json=payload).status_code == 401
    assert emu.stats()["requests"]["run"] == 3


def test_server_proxy_forwards_fals_allowed_targets(http, emu, png_bytes):
    emu.configure(api_key="id:secret")  # the proxy holds the key; the browser-side caller has none
    target = "https://queue.fal.run/" + DEFAULT_ENDPOINT
    payload = {"prompt": "proxied", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"}
    r = http.post(emu.proxy_url, json=payload, headers={"x-fal-target-url": target, "X-Fal-Queue-Priority": "low"})
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["status_url"].startswith(emu.queue_url) and r.headers["x-fal-request-id"] == sub["request_id"]
    status_target = f"https://queue.fal.run/bytedance/seedance-2.0/requests/{sub['request_id']}/status?logs=1"
    deadline = time.monotonic() + 30
    while (s := http.get(emu.proxy_url, headers={"x-fal-target-url": status_target})).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert s.status_code == 200 and s.json()["logs"]
    out = http.get(emu.proxy_url, headers={"x-fal-target-url": status_target.rsplit("/status", 1)[0]})
    assert out.status_code == 200 and out.json()["video"]["url"] and out.headers["x-fal-billable-units"]
    # fal.run and the storage initiate route are allowed too (mapped onto /run and /rest).
    ran = http.post(emu.proxy_url, json=payload, headers={"x-fal-target-url": "https://fal.run/" + DEFAULT_ENDPOINT})
    assert ran.status_code == 200 and ran.json()["video"]["file_size"] > 0
    init = http.post(
        emu.proxy_url,
        json={"content_type": "image/png", "file_name": "a.png"},
        headers={"x-fal-target-url": "https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3"},
    )
    assert init.status_code == 200 and set(init.json()) == {"upload_url", "file_url"}


@pytest.mark.parametrize(
    "target",
    [
        None,
        "https://example.com/bytedance/seedance-2.0",
        "https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3",
        "https://rest.fal.ai/storage/upload/initiate?storage_type=gcs",
        "https://rest.fal.ai/storage/upload/initiate-multipart?storage_type=fal-cdn-v3",
        "ftp://queue.fal.run/a/b",
    ],
)
def test_server_proxy_refuses_what_fals_refuses(http, emu, target):
    headers = {"x-fal-target-url": target} if target else {}
    r = http.post(emu.proxy_url, json={}, headers=headers)
    assert (r.status_code, r.text) == (400, "Invalid request")


def test_server_proxy_streams_the_status_stream(http, emu, png_bytes):
    emu.configure(speed=1.0)
    sub = submit(http, emu, png_bytes)
    target = f"https://queue.fal.run/bytedance/seedance-2.0/requests/{sub['request_id']}/status/stream"
    with http.stream("GET", emu.proxy_url, headers={"x-fal-target-url": target}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(line for line in r.iter_lines() if line.startswith("data: "))
        # The event came through while the job still runs: the proxy relays the stream, it does not buffer it.
        assert http.get(sub["status_url"]).status_code == 202
    assert json.loads(first[6:])["status"] in ("IN_QUEUE", "IN_PROGRESS")
    http.put(sub["cancel_url"])


def test_jwks_route_serves_the_webhook_key(http, emu):
    jwks = http.get(emu.jwks_url).json()
    (key,) = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA") and len(key["x"]) == 43
    assert jwks == emu.jwks() == http.get(emu.base_url + "/.well-known/jwks.json").json()
    emu.configure(webhook_private_key="11" * 32)
    assert http.get(emu.jwks_url).json()["keys"][0]["x"] != key["x"]
    with pytest.raises(ValueError, match="ED25519"):
        emu.configure(webhook_private_key="not a key")


def test_cdn_multipart_upload_of_fal_client(http, emu):
    token = http.post(emu.rest_url + "/storage/auth/token", json={}).json()
    auth = {"Authorization": f"Bearer {token['token']}"}
    start = http.post(
        emu.cdn_url + "/files/upload/multipart",
        headers={**auth, "Content-Type": "video/mp4", "X-Fal-File-Name": "big.mp4"},
    ).json()
    chunks = [bytes([n]) * (300_000 + n) for n in range(1, 4)]
    parts = []
    for number in (3, 1, 2):  # fal-client sends parts from 10 threads: any order
        r = http.put(
            f"{start['access_url']}/multipart/{start['uploadId']}/{number}", content=chunks[number - 1], headers=auth
        )
        assert r.status_code == 200
        assert r.headers["etag"].strip('"') == hashlib.md5(chunks[number - 1]).hexdigest()
        parts.append({"partNumber": number, "etag": r.headers["etag"]})
    assert http.put(f"{start['access_url']}/multipart/{start['uploadId']}/1", content=b"x").status_code == 401
    wrong = http.post(
        f"{start['access_url']}/multipart/{start['uploadId']}/complete",
        json={"parts": [{"partNumber": 1, "etag": "nope"}]},
        headers=auth,
    )
    assert wrong.status_code == 400
    done = http.post(
        f"{start['access_url']}/multipart/{start['uploadId']}/complete", json={"parts": parts}, headers=auth
    )
    assert done.json() == {"access_url": start["access_url"]}
    got = http.get(start["access_url"])
    assert got.content == b"".join(chunks) and got.headers["content-type"] == "video/mp4"


def test_js_client_multipart_routes(http, emu):
    init = http.post(
        emu.rest_url + "/storage/upload/initiate-multipart",
        params={"storage_type": "fal-cdn-v3"},
        json={"content_type": "application/octet-stream", "file_name": "big.bin"},
    ).json()
    chunks = [b"a" * 200_000, b"b" * 100]
    parts = [http.put(f"{init['upload_url']}/{n}", content=c).json() for n, c in enumerate(chunks, 1)]
    assert [p["partNumber"] for p in parts] == [1, 2] and all(len(p["etag"]) == 32 for p in parts)
    done = http.post(init["upload_url"] + "/complete", json={"parts": parts})
    assert done.status_code == 200
    assert http.get(init["file_url"]).content == b"".join(chunks)
    assert http.post(init["upload_url"] + "/complete", json={"parts": parts}).status_code == 404


# --------------------------------------------------------------------------- rendered files


def render(http, emu, png, **fields) -> tuple[dict, bytes]:
    sub = submit(http, emu, png, **fields)
    done = wait_done(http, sub, timeout=60)
    assert "error" not in done, http.get(sub["response_url"]).text
    out = http.get(sub["response_url"]).json()
    return out, http.get(out["video"]["url"]).content


def probe(data: bytes, tmp_path: Path):
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        return {
            "size": (v.codec_context.width, v.codec_context.height),
            "fps": float(c.streams.video[0].guessed_rate),
            "frames": frames,
            "duration": c.duration / 1e6,
            "audio": [s.codec_context.name for s in c.streams.audio],
            "pix_fmt": c.streams.video[0].codec_context.pix_fmt,
            "codec": c.streams.video[0].codec_context.name,
        }


#: 1080p renders are slow on a shared CI machine: two ratios (the reference one and 21:9's rounded 2206x946) here.
RENDERED_SIZES = sorted(k for k in SIZES if k[0] != "1080p" or k[1] in ("16:9", "21:9"))


@pytest.mark.parametrize(("resolution", "ratio"), RENDERED_SIZES)
def test_every_size_renders_exactly(http, emu, png_bytes, tmp_path, resolution, ratio):
    # 1080p is the standard tier's only (fal's model page); fast refuses it (test_tiers.py).
    endpoint = STANDARD if resolution == "1080p" else DEFAULT_ENDPOINT
    fields = {"resolution": resolution, "aspect_ratio": ratio, "generate_audio": False}
    out, data = render(http, emu, png_bytes, endpoint=endpoint, **fields)
    info = probe(data, tmp_path)
    assert info["size"] == SIZES[(resolution, ratio)]
    assert info["fps"] == 24 and info["frames"] == 97 and info["audio"] == []
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"mdat"), "moov atom first (fast start)"


def test_audio_duration_and_determinism(http, emu, png_bytes, tmp_path):
    out1, data1 = render(http, emu, png_bytes, duration="5", seed=9, generate_audio=True)
    out2, data2 = render(http, emu, png_bytes, duration="5", seed=9, generate_audio=True)
    info = probe(data1, tmp_path)
    assert info["audio"] == ["aac"] and info["frames"] == 121
    assert abs(info["duration"] - 5.0) < 0.1
    assert data1 == data2 and out1["seed"] == 9
    _, data3 = render(http, emu, png_bytes, duration="5", seed=10, generate_audio=True)
    assert data3 != data1


def test_auto_ratio_and_auto_duration_follow_image_and_prompt(http, emu, tmp_path):
    portrait = make_png(450, 800)
    _, data = render(http, emu, portrait, duration="auto", prompt="auto length", aspect_ratio="auto")
    info = probe(data, tmp_path)
    assert info["size"] == SIZES[("480p", "9:16")]
    assert info["frames"] == 24 * auto_duration("auto length") + 1


def test_end_image_changes_the_last_frame(http, emu, png_bytes, tmp_path):
    other = make_png(colour=(250, 20, 20))
    _, plain = render(http, emu, png_bytes, seed=1)
    _, ended = render(http, emu, png_bytes, seed=1, end_image_url=data_uri(other))

    def last_frame(data: bytes):
        path = tmp_path / "f.mp4"
        path.write_bytes(data)
        with av.open(str(path)) as c:
            *_, frame = c.decode(video=0)
            return frame.to_ndarray(format="rgb24").mean(axis=(0, 1))

    assert last_frame(ended)[0] > last_frame(plain)[0] + 30, "the clip ends on the (red) end image"


def test_cli_emulator_prints_its_urls(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "seedance_nb.emulator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("seedance-nb emulator on http://127.0.0.1:")
        base = line.split()[-1]
        listed = {name: url for name, url, *_ in (proc.stdout.readline().split() for _ in range(7))}
        assert listed == {
            "queue": base + "/queue",
            "rest": base + "/rest",
            "cdn": base + "/cdn",
            "run": base + "/run",
            "proxy": base + "/api/fal/proxy",
            "jwks": base + "/rest/.well-known/jwks.json",
            "stats": base + "/_emulator/stats",
        }
        assert httpx.get(base + "/_emulator/stats").json()["submissions"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_renders_run_at_a_lower_priority_than_the_loop_that_answers(http, emu, png_bytes):
    """fal renders elsewhere; the emulator renders on the user's cores, below the requests (its own and the
    client's) that a wave of renders would otherwise slow."""
    wait_done(http, submit(http, emu, png_bytes))
    threads = list(emu.engine.workers._threads)  # noqa: SLF001 (the render threads are what is tested)
    assert threads
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for thread in threads:
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(19, base + RENDER_NICE)
