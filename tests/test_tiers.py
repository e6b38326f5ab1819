"""Every Seedance 2.0 tier priced and sized as fal sells it: the standard tier's $0.014 and 1080p, the mini tier's
snapshot and (provisional) price, each endpoint's resolutions from its own snapshot, against the emulator over
loopback with real MP4s probed by PyAV."""

from __future__ import annotations

import base64
import time

import av
import httpx
import pytest

import seedance_nb as sd
from seedance_nb import endpoints
from seedance_nb.errors import BudgetExceeded, InputError
from seedance_nb.openapi_schema import SNAPSHOT_ENDPOINTS, load_snapshot
from seedance_nb.schema import DEFAULT_ENDPOINT, VideoInput, estimate_cost, validate_payload

STANDARD = "bytedance/seedance-2.0/image-to-video"
MINI = "bytedance/seedance-2.0/mini/image-to-video"
URL = "https://x.test/a.png"


def probe_size(path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize("endpoint", SNAPSHOT_ENDPOINTS)
def test_every_endpoint_has_its_own_price_and_source(endpoint):
    price = endpoints.endpoint_price(endpoint)
    expected = {"fast": 0.0112, "standard": 0.014, "mini": endpoints.MINI_PRICE}[endpoints.tier(endpoint)]
    assert price.per_1k_tokens == expected and price.source
    assert price.provisional == (endpoints.tier(endpoint) == "mini")
    assert ("PROVISIONAL" in price.source) == price.provisional
    assert endpoints.MINI_PRICE < endpoints.FAST_PRICE < endpoints.STANDARD_PRICE


def test_an_unknown_endpoint_is_priced_as_fast_and_says_so():
    price = endpoints.endpoint_price("fal-ai/someone/else")
    assert price.per_1k_tokens == sd.schema.PRICE_PER_1K_TOKENS == 0.0112
    assert price.provisional and "priced as 2.0 fast" in price.source


def test_a_standard_720p_5s_job_is_estimated_at_1_512(png_path):
    est = estimate_cost("720p", 5, "16:9", endpoint=STANDARD)
    assert est.tokens == 108_000 and est.usd == pytest.approx(1.512) and est.per_1k_tokens == 0.014
    assert estimate_cost("720p", 5, "16:9").usd == pytest.approx(1.2096)  # fast is unchanged
    inp = VideoInput(prompt="p", image_url=URL, duration=5, aspect_ratio="16:9", endpoint=STANDARD)
    assert inp.estimate().usd == pytest.approx(1.512)
    grid = sd.Grid(endpoint=STANDARD, image=png_path, prompt=["a", "b"], duration=5, aspect_ratio="16:9")
    assert grid.estimate().usd == pytest.approx(2 * 1.512)
    assert [job.est_cost_usd for job in grid.jobs()] == [pytest.approx(1.512)] * 2


def test_the_budget_check_uses_the_standard_price(png_path, client, tmp_path, emu):
    grid = sd.Grid(endpoint=STANDARD, image=png_path, prompt="p", duration=5, aspect_ratio="16:9", resolution="720p")
    # $1.40 covers the fast tier's $1.21 but not the standard tier's $1.512: refused, nothing sent.
    with pytest.raises(BudgetExceeded) as info:
        sd.run_sweep(grid, client=client, run_dir=tmp_path / "s", budget_usd=1.40, progress=False)
    assert info.value.estimate_usd == pytest.approx(1.512)
    assert emu.stats()["submissions"] == 0


def test_reference_videos_are_billed_at_0_6_with_their_seconds():
    plain = estimate_cost("720p", 5, "16:9", endpoint="bytedance/seedance-2.0/fast/reference-to-video")
    with_video = estimate_cost(
        "720p", 5, "16:9", endpoint="bytedance/seedance-2.0/fast/reference-to-video", input_video_seconds=3
    )
    assert with_video.tokens == pytest.approx(1280 * 720 * 8 * 24 / 1024 * 0.6)
    assert with_video.usd == pytest.approx(plain.usd * 8 / 5 * 0.6)


# --------------------------------------------------------------------------- resolutions per endpoint


def test_fast_and_mini_refuse_1080p_naming_the_field_and_the_endpoint(png_path):
    for endpoint in (DEFAULT_ENDPOINT, MINI):
        with pytest.raises(InputError) as info:
            VideoInput(prompt="p", image_url=URL, resolution="1080p", endpoint=endpoint)
        assert info.value.fields == ("resolution",)
        assert endpoint in str(info.value) and "standard tier" in str(info.value)
        with pytest.raises(InputError) as info:
            sd.Grid(endpoint=endpoint, image=png_path, prompt="p", resolution="1080p")
        assert info.value.fields == ("resolution",) and endpoint in str(info.value)
        with pytest.raises(InputError, match="resolution"):
            estimate_cost("1080p", 5, "16:9", endpoint=endpoint)
        with pytest.raises(InputError, match="resolution"):
            validate_payload({"prompt": "p", "image_url": URL, "resolution": "1080p"}, endpoint)


def test_the_emulator_refuses_1080p_on_fast(emu, png_bytes):
    payload = {"prompt": "p", "image_url": _data_uri(png_bytes), "resolution": "1080p"}
    with httpx.Client(timeout=30) as http:
        sub = http.post(f"{emu.queue_url}/{DEFAULT_ENDPOINT}", json=payload).json()
        for _ in range(500):  # at most 10 s
            if http.get(sub["status_url"]).status_code == 200:
                break
            time.sleep(0.02)
        result = http.get(sub["response_url"])
    assert result.status_code == 422 and result.json()["detail"][0]["loc"] == ["body", "resolution"]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_standard_1080p_validates_estimates_sweeps_and_renders_at_1920x1080(png_path, client, tmp_path, emu):
    assert load_snapshot(STANDARD).enum("resolution") == ("480p", "720p", "1080p")
    validate_payload({"prompt": "p", "image_url": URL, "resolution": "1080p"}, STANDARD)
    est = estimate_cost("1080p", 5, "16:9", endpoint=STANDARD)
    assert (est.width, est.height, est.tokens) == (1920, 1080, 243_000) and est.usd == pytest.approx(3.402)
    grid = sd.Grid(endpoint=STANDARD, image=png_path, prompt="p", resolution="1080p", duration=4, generate_audio=False)
    sweep = sd.run_sweep(grid, client=client, run_dir=tmp_path / "hd", progress=False)
    row = sweep.df.iloc[0]
    assert row["status"] == "completed", row["error"]
    assert probe_size(row["path"]) == (1920, 1080) == (row["width"], row["height"])
    units = 1920 * 1080 * 4 * 24 / 1024 / 1000
    assert row["billed_units"] == pytest.approx(units) and row["cost_usd"] == pytest.approx(units * 0.014)
    assert emu.stats()["billed_usd"] == pytest.approx(units * 0.014)
    reloaded = sd.load_sweep(tmp_path / "hd")  # the journal keeps the endpoint: 1080p validates again
    assert reloaded.jobs[0].input.endpoint == STANDARD and reloaded.jobs[0].input.resolution == "1080p"


def test_1080p_sizes_follow_the_ratio():
    inp = VideoInput(prompt="p", image_url=URL, resolution="1080p", endpoint=STANDARD)
    assert inp.size((450, 800)) == (1080, 1920) and inp.size((1000, 1000)) == (1440, 1440)
    assert inp.replace(aspect_ratio="21:9").size() == (2206, 946)


# --------------------------------------------------------------------------- the mini tier


@pytest.mark.parametrize("kind", endpoints.KINDS)
def test_the_mini_snapshots_are_fasts_fields_without_bitrate_mode(kind):
    mini = load_snapshot(f"bytedance/seedance-2.0/mini/{kind}")
    fast = load_snapshot(f"bytedance/seedance-2.0/fast/{kind}")
    assert set(mini.fields) == set(fast.fields) - {"bitrate_mode"} and mini.required == fast.required
    assert mini.enum("resolution") == ("480p", "720p")


def test_a_mini_sweep_validates_estimates_at_the_mini_price_and_runs(png_path, client, tmp_path, emu):
    validate_payload({"prompt": "p", "image_url": URL, "resolution": "720p"}, MINI)
    grid = sd.Grid(endpoint=MINI, image=png_path, prompt=["a", "b"], resolution="480p", duration=4)
    per_job = 864 * 496 * 4 * 24 / 1024 / 1000 * endpoints.MINI_PRICE
    assert grid.estimate().usd == pytest.approx(2 * per_job)
    sweep = sd.run_sweep(grid, client=client, run_dir=tmp_path / "mini", progress=False)
    df = sweep.df
    assert list(df["status"]) == ["completed", "completed"]
    assert list(df["est_cost_usd"]) == [pytest.approx(per_job)] * 2
    assert list(df["cost_usd"]) == [pytest.approx(per_job)] * 2  # billed units at the mini price
    assert emu.stats()["billed_usd"] == pytest.approx(2 * per_job)


def test_a_catalog_cap_counts_a_standard_job_at_the_standard_price(tmp_path, png_path, client, emu):
    from seedance_nb.catalogs import Catalog

    grid = sd.Grid(endpoint=STANDARD, image=png_path, prompt="p", duration=5, aspect_ratio="16:9", resolution="720p")
    with Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", root=tmp_path) as cat:
        cat.set_budget(1.40, per="day")  # covers the fast tier's $1.21, not the standard tier's $1.512
        with pytest.raises(BudgetExceeded, match=r"\$1\.51"):
            sd.run_sweep(grid, client=client, run_dir=tmp_path / "capped", catalog=cat, progress=False)
    assert emu.stats()["submissions"] == 0
