"""The emulator speaks fal's queue protocol over loopback HTTP and renders real MP4s."""

from __future__ import annotations

import base64
import gc
import json
import time
import warnings
from pathlib import Path

import av
import httpx
import pytest
from conftest import make_png

from seedance_nb.emulator.render import auto_duration
from seedance_nb.schema import DEFAULT_ENDPOINT, SIZES

SUBMIT = "/bytedance/seedance-2.0/fast/image-to-video"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client


def submit(http, emu, png_bytes, **fields):
    payload = {"prompt": "a slow push-in", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"}
    payload.update(fields)
    r = http.post(emu.queue_url + SUBMIT, json=payload)
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


# --------------------------------------------------------------------------- the official client, unchanged


@pytest.fixture
def fal(emu, monkeypatch):
    fal_client = pytest.importorskip("fal_client")
    import fal_client.client as fc

    monkeypatch.setattr(fc, "QUEUE_URL_FORMAT", emu.queue_url + "/")
    monkeypatch.setattr(fc, "RUN_URL_FORMAT", emu.base_url + "/run/")
    monkeypatch.setattr(fc, "REST_URL", emu.rest_url)
    monkeypatch.setattr(fc, "CDN_URL", emu.cdn_url)
    monkeypatch.setenv("FAL_KEY", "test-id:test-secret")
    client = fal_client.SyncClient()
    yield client
    # fal_client caches an httpx.Client it never closes; close it so no socket leaks into later tests.
    for name in ("_client",):
        cached = client.__dict__.get(name)
        if cached is not None:
            cached.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_official_fal_client_runs_the_queue_unchanged(fal, emu, png_bytes):
    args = {"prompt": "official", "image_url": data_uri(png_bytes), "resolution": "480p", "duration": "4"}
    handle = fal.submit(DEFAULT_ENDPOINT, args)
    status = handle.status(with_logs=True)
    assert type(status).__name__ in ("Queued", "InProgress", "Completed")
    result = handle.get()
    assert result["video"]["url"].startswith(emu.cdn_url)
    updates = []
    out = fal.subscribe(DEFAULT_ENDPOINT, args, with_logs=True, on_queue_update=updates.append)
    assert out["video"]["file_size"] > 0 and type(updates[-1]).__name__ == "Completed"
    emu.configure(speed=1.0)
    slow = fal.submit(DEFAULT_ENDPOINT, args)
    slow.cancel()
    # fal_client.SyncClient.upload opens an httpx.Client for the CDN and never closes it (its defect,
    # not ours); collect it here, with its ResourceWarning silenced, so the socket cannot surface later.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        url = fal.upload(png_bytes, "image/png", "x.png")
        gc.collect()
    assert httpx.get(url).content == png_bytes


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


@pytest.mark.parametrize(("resolution", "ratio"), sorted(SIZES))
def test_every_size_renders_exactly(http, emu, png_bytes, tmp_path, resolution, ratio):
    out, data = render(http, emu, png_bytes, resolution=resolution, aspect_ratio=ratio, generate_audio=False)
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
        assert httpx.get(base + "/_emulator/stats").json()["submissions"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
