"""The endpoint registry: each endpoint validated, priced and served by its own snapshot and rule.

Prices are checked against fal's published figures by hand (the arithmetic is written out in each case); the
emulator is driven over loopback HTTP and its MP4s probed with PyAV.
"""

from __future__ import annotations

import base64
import json
import time

import av
import httpx
import pytest
from seedance_testconf import make_png

import seedance_nb as sd
from seedance_nb.endpoints import registry
from seedance_nb.errors import InputError

KLING = "fal-ai/kling-video/v2.1/standard/image-to-video"
HAILUO = "fal-ai/minimax/hailuo-02/standard/image-to-video"
WAN = "fal-ai/wan-25-preview/image-to-video"
FAST = "bytedance/seedance-2.0/fast/image-to-video"
STANDARD = "bytedance/seedance-2.0/image-to-video"
FAST_R2V = "bytedance/seedance-2.0/fast/reference-to-video"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# --------------------------------------------------------------------------- the table


def test_sd_endpoints_lists_every_seedance_tier_and_kind_and_three_other_models():
    table = sd.endpoints()
    assert list(table.columns[:8]) == [
        "id",
        "model",
        "family",
        "tier",
        "modality",
        "resolutions",
        "durations",
        "price_rule",
    ]
    assert {"snapshot_date", "price_source", "provisional"} <= set(table.columns)
    seedance = table[table.family == "bytedance/seedance-2.0"]
    assert len(seedance) == 9 and set(seedance.tier) == {"mini", "fast", "standard"}
    assert set(seedance.modality) == {"image-to-video", "text-to-video", "reference-to-video"}
    others = table.set_index("id").loc[[KLING, HAILUO, WAN]]
    assert list(others.price_rule) == [
        "$0.056 per second",
        "$0.017/s at 512P, $0.045/s at 768P",
        "$0.05/s at 480p, $0.1/s at 720p, $0.15/s at 1080p",
    ]
    assert (others.snapshot_date == "2026-12-07").all() and not others.provisional.any()
    assert table.set_index("id").loc["bytedance/seedance-2.0/mini/image-to-video"].provisional  # mini's price
    assert table.set_index("id").loc[STANDARD].resolutions == "480p, 720p, 1080p"


def test_an_unknown_endpoint_is_an_input_error_naming_the_field_and_the_known_ids():
    with pytest.raises(InputError) as caught:
        registry.get("fal-ai/kling-video/v9/image-to-video")
    (problem,) = caught.value.problems
    assert problem.field == "endpoint" and KLING in str(problem.allowed) and "add_endpoint" in problem.message


# --------------------------------------------------------------------------- prices, by hand


@pytest.mark.parametrize(
    ("endpoint", "inputs", "usd"),
    [
        # Seedance 2.0 fast, 720p 16:9, 5 s: 1280 x 720 x 5 x 24 / 1024 = 108,000 tokens; x $0.0112 / 1000 = $1.2096
        (FAST, {"resolution": "720p", "aspect_ratio": "16:9", "duration": "5"}, 1.2096),
        # Seedance 2.0 standard, 1080p 16:9, 5 s: 1920 x 1080 x 5 x 24 / 1024 = 243,000 tokens; x $0.014 / 1000 = $3.402
        (STANDARD, {"resolution": "1080p", "aspect_ratio": "16:9", "duration": 5}, 3.402),
        # Kling 2.1 standard, 10 s: $0.28 for the first 5 s + 5 x $0.056 = $0.56
        (KLING, {"duration": "10"}, 0.56),
        # Hailuo-02 standard, 768P, 6 s: 6 x $0.045 = $0.27 (fal: "a single 6 second 768p video will cost $0.27")
        (HAILUO, {"resolution": "768P", "duration": "6"}, 0.27),
        # Hailuo-02 standard, 512P, 10 s: 10 x $0.017 = $0.17
        (HAILUO, {"resolution": "512P", "duration": "10"}, 0.17),
        # Wan 2.5, 1080p, 10 s: 10 x $0.15 = $1.50
        (WAN, {"resolution": "1080p", "duration": "10"}, 1.50),
    ],
)
def test_the_estimate_matches_each_endpoints_published_price(endpoint, inputs, usd):
    assert registry.get(endpoint).estimate(inputs).usd == pytest.approx(usd, abs=1e-9)


def test_reference_to_video_bills_its_input_video_seconds_by_the_formula():
    # fast R2V, 720p 16:9, 5 s out + 3 s of input video: 1280 x 720 x (3 + 5) x 24 / 1024 x 0.6 = 103,680 tokens
    # x $0.0112 / 1000 = $1.161216
    estimate = registry.get(FAST_R2V).estimate({"resolution": "720p", "aspect_ratio": "16:9", "duration": 5}, None, 3)
    assert estimate.tokens == pytest.approx(103_680) and estimate.usd == pytest.approx(1.161216)


def test_defaults_come_from_each_schema_and_the_estimate_says_its_rule():
    kling = registry.get(KLING).estimate({})  # duration "5" by default: $0.28
    assert (kling.usd, kling.seconds, kling.unit, kling.units) == (pytest.approx(0.28), 5, "second", 5.0)
    wan = registry.get(WAN).estimate({})  # 1080p and 5 s by default: 5 x $0.15
    assert wan.usd == pytest.approx(0.75) and (wan.width, wan.height) == (1920, 1080) and "1080p" in wan.rule


# --------------------------------------------------------------------------- inputs


def test_common_inputs_map_onto_each_endpoint_and_what_it_lacks_is_dropped_by_name():
    common = {"prompt": "a slow push-in", "image": "https://x/a.png", "end_image": "https://x/b.png", "duration": 10}
    common |= {"seed": 7, "generate_audio": True, "resolution": "768p"}
    sent, dropped = registry.get(KLING).map_inputs(common)
    assert sent == {"prompt": "a slow push-in", "image_url": "https://x/a.png", "duration": "10"}
    assert set(dropped) == {"end_image", "seed", "generate_audio", "resolution"}
    sent, dropped = registry.get(HAILUO).map_inputs(common)
    assert sent["end_image_url"] == "https://x/b.png" and sent["resolution"] == "768P" and sent["duration"] == "10"
    assert set(dropped) == {"seed", "generate_audio"}
    sent, dropped = registry.get(WAN).map_inputs(common)
    assert sent["seed"] == 7 and set(dropped) == {"end_image", "generate_audio"}
    sent, dropped = registry.get(FAST).map_inputs(common)
    assert sent["image_url"] == "https://x/a.png" and sent["end_image_url"] == "https://x/b.png" and not dropped


@pytest.mark.parametrize(
    ("endpoint", "payload", "field"),
    [
        (KLING, {"duration": "6"}, "duration"),  # Hailuo's length: not Kling's
        (KLING, {"cfg_scale": 1.5}, "cfg_scale"),  # fal: 0..1
        (HAILUO, {"resolution": "720p"}, "resolution"),  # 512P or 768P only
        (WAN, {"prompt": "x" * 801}, "prompt"),  # fal: at most 800 characters
        (WAN, {"duration": 7}, "duration"),
    ],
)
def test_each_endpoint_refuses_by_its_own_schema_naming_it_and_the_field(endpoint, payload, field):
    body = {"prompt": "a slow push-in", "image_url": "https://x/a.png", **payload}
    with pytest.raises(InputError) as caught:
        registry.get(endpoint).validate(body)
    assert [p.field for p in caught.value.problems] == [field] and endpoint in str(caught.value)


def test_valid_inputs_pass_and_a_duration_may_be_a_number():
    body = {"prompt": "a slow push-in", "image_url": "https://x/a.png", "duration": 10, "resolution": "512P"}
    assert registry.get(HAILUO).validate(body) == {**body, "duration": "10"}  # sent as fal's schema types it
    with pytest.raises(InputError, match="image_url: is required"):
        registry.get(WAN).validate({"prompt": "p"})


# --------------------------------------------------------------------------- the emulator


@pytest.fixture
def http():
    with httpx.Client(timeout=30) as client:
        yield client


def _run(http, emu, endpoint, payload, timeout=60.0):
    sub = http.post(f"{emu.queue_url}/{endpoint}", json=payload)
    assert sub.status_code == 200, sub.text
    sub = sub.json()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and http.get(sub["status_url"]).status_code != 200:
        time.sleep(0.02)
    return http.get(sub["response_url"])


@pytest.mark.parametrize(
    ("endpoint", "fields", "size", "seconds", "keys", "render"),
    [  # one real full-size MP4 (the smallest); the others rendered tiny, their size read from the job's log
        (
            WAN,
            {"resolution": "480p", "duration": "5", "seed": 11},
            (832, 480),
            5,
            {"video", "seed", "actual_prompt"},
            "full",
        ),
        (KLING, {"duration": "5"}, (1280, 720), 5, {"video"}, "tiny"),
        (HAILUO, {"resolution": "512P", "duration": 6}, (912, 512), 6, {"video"}, "tiny"),
    ],
)
def test_the_emulator_serves_each_endpoint_in_its_shape_size_and_price(
    http, emu, tmp_path, endpoint, fields, size, seconds, keys, render
):
    emu.configure(render=render)
    payload = {"prompt": "a slow push-in", "image_url": data_uri(make_png(800, 450)), **fields}
    result = _run(http, emu, endpoint, payload)
    assert result.status_code == 200, result.text
    body = result.json()
    assert set(body) == keys and body.get("seed", 11) == 11
    expected = registry.get(endpoint).estimate(dict(fields)).usd
    assert emu.stats()["billed_usd"] == pytest.approx(expected, abs=1e-6)
    assert float(result.headers["x-fal-billable-units"]) == seconds  # per-second rules bill seconds
    video = tmp_path / "out.mp4"
    video.write_bytes(http.get(body["video"]["url"]).content)
    with av.open(str(video)) as container:  # a real MP4 either way; the full render at the endpoint's size
        stream = container.streams.video[0]
        if render == "full":
            assert (stream.codec_context.width, stream.codec_context.height) == size
            assert float(stream.duration * stream.time_base) == pytest.approx(seconds, abs=0.1)
    logs = http.get(result.url.copy_with(path=result.url.path + "/status"), params={"logs": 1}).json()["logs"]
    assert any(f"{seconds}s at {size[0]}x{size[1]}" in entry["message"] for entry in logs)


@pytest.mark.parametrize(
    ("endpoint", "fields", "field"),
    [
        (KLING, {"duration": "6"}, "duration"),
        (HAILUO, {"resolution": "1080p"}, "resolution"),
        (WAN, {"seed": "x"}, "seed"),
    ],
)
def test_the_emulator_refuses_by_each_endpoints_schema_with_fals_422(http, emu, endpoint, fields, field):
    payload = {"prompt": "a slow push-in", "image_url": data_uri(make_png(800, 450)), **fields}
    result = _run(http, emu, endpoint, payload)
    assert result.status_code == 422
    (item,) = result.json()["detail"]
    assert item["loc"] == ["body", field] and item["input"] == fields[field] and item["msg"] and item["type"]
    assert emu.stats()["billed_usd"] == 0


def test_the_emulator_serves_each_registered_endpoints_openapi_document(http, emu):
    r = http.get(emu.openapi_url, params={"endpoint_id": KLING})
    assert r.status_code == 200
    document = r.json()
    assert document["servers"] == [{"url": emu.queue_url}] and "x-seedance-nb-snapshot" not in document
    assert f"/{KLING}" in document["paths"]


# --------------------------------------------------------------------------- sd.add_endpoint


@pytest.fixture
def added():
    ids: list[str] = []
    yield ids
    for endpoint in ids:
        registry.unregister(endpoint)


def _renamed_wan(endpoint: str) -> dict:
    text = json.dumps(registry.get(WAN).openapi_document()).replace(WAN, endpoint)
    return json.loads(text.replace("fal-ai/wan-25-preview/requests", "fal-ai/example-video/requests"))


def test_add_endpoint_fetches_fals_openapi_caches_it_and_the_emulator_serves_the_new_model(
    http, emu, added, monkeypatch
):
    endpoint = "fal-ai/example-video/image-to-video"
    added.append(endpoint)
    emu.configure(openapi=_renamed_wan(endpoint))
    try:
        new = sd.add_endpoint(endpoint, price={"per_video": 0.2}, fetch=True, url=emu.openapi_url)
    finally:
        emu.configure(openapi=None)
    assert emu.stats()["requests"].get("openapi") == 1
    assert (
        registry.get(endpoint) is new
        and new.resolutions == ("480p", "720p", "1080p")
        and new.source.startswith(emu.openapi_url)
    )
    assert new.estimate({"resolution": "480p", "duration": "10"}).usd == pytest.approx(0.2)  # per video
    registry.unregister(endpoint)
    monkeypatch.delenv("FAL_KEY", raising=False)
    again = sd.add_endpoint(endpoint, price={"per_second": {"480p": 0.01}})  # offline: from the cache
    assert again.schema.fields == new.schema.fields
    emu.configure(render="tiny")
    result = _run(http, emu, endpoint, {"prompt": "p", "image_url": data_uri(make_png(800, 450)), "resolution": "480p"})
    assert result.status_code == 200 and set(result.json()) == {"video", "seed", "actual_prompt"}
    assert emu.stats()["billed_usd"] == pytest.approx(0.05)  # 5 s (the schema's default) x $0.01


def test_add_endpoint_offline_without_a_document_says_what_to_do(added, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    with pytest.raises(InputError, match="FAL_KEY"):
        sd.add_endpoint("fal-ai/never-seen/image-to-video", price={"per_second": 0.1})
    with pytest.raises(InputError, match="price"):
        sd.add_endpoint(_renamed_wan("fal-ai/x/image-to-video"), price=0.1)
    added.append("fal-ai/x/image-to-video")
    added_one = sd.add_endpoint(_renamed_wan("fal-ai/x/image-to-video"), price={"per_video": {"720p": 0.3}})
    assert added_one.id == "fal-ai/x/image-to-video" and added_one.estimate({"resolution": "720p"}).usd == 0.3


def test_a_jobs_cost_reads_fals_billed_units_by_its_endpoints_rule():
    from seedance_nb.runs import actual_cost_usd

    assert actual_cost_usd(5, WAN, "480p") == pytest.approx(0.25)  # 5 billed seconds x $0.05 at 480p
    assert actual_cost_usd(10, HAILUO, "768P") == pytest.approx(0.45)  # 10 s x $0.045 at 768P
    assert actual_cost_usd(5, KLING) == pytest.approx(0.28)  # 5 s x $0.056 (one price for every resolution)
    assert actual_cost_usd(108, FAST) == pytest.approx(1.2096)  # Seedance: 108 k-tokens x $0.0112


def test_seedance_nbs_client_refuses_locally_then_runs_a_kling_job(client, emu):
    import asyncio

    emu.configure(render="tiny")
    good = {"prompt": "a slow push-in", "image_url": data_uri(make_png(800, 450)), "duration": 5}

    async def go():
        async with client:
            with pytest.raises(InputError) as caught:  # Kling's own snapshot: "5" or "10", nothing sent
                await client.submit({**good, "duration": 6}, endpoint=KLING)
            assert emu.stats()["requests"].get("submit", 0) == 0
            handle = await client.submit(good, endpoint=KLING)  # 5 -> fal's "5" is accepted as either
            return caught.value, await handle.wait(timeout=60)

    refused, out = asyncio.run(go())
    assert refused.fields == ("duration",) and KLING in str(refused)
    assert out.video.url.startswith(emu.cdn_url) and out.seed is None  # Kling's output has no seed
    assert emu.stats()["billed_usd"] == pytest.approx(0.28)  # 5 s x $0.056
