"""The model's contract: every field's allowed and refused values, payloads, sizes, cost, URLs."""

from __future__ import annotations

import base64
import io
import math

import pytest
from PIL import Image

from seedance_nb import schema
from seedance_nb.errors import InputError, ProtocolError, SeedanceError
from seedance_nb.schema import (
    DEFAULT_ENDPOINT,
    SIZES,
    EndpointId,
    File,
    VideoInput,
    VideoOutput,
    check_payload,
    estimate_cost,
    nearest_aspect_ratio,
    output_size,
)

URL = "https://example.com/cat.png"


def encoded(width: int = 400, height: int = 300, fmt: str = "PNG") -> str:
    """A real image of that size, base64-encoded (what a data URI holds)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


PNG = encoded()


def make(**kw):
    kw.setdefault("prompt", "a slow push-in")
    kw.setdefault("image_url", URL)
    return VideoInput(**kw)


def refused(**kw) -> InputError:
    with pytest.raises(InputError) as info:
        make(**kw)
    return info.value


# --------------------------------------------------------------------------- defaults and allowed values


def test_defaults_are_fals():
    inp = make()
    assert (inp.resolution, inp.duration, inp.aspect_ratio, inp.generate_audio) == ("720p", "auto", "auto", True)
    assert inp.seed is None and inp.end_image_url is None and inp.end_user_id is None
    assert dict(inp.extra) == {}


@pytest.mark.parametrize("resolution", ["480p", "720p"])
def test_every_resolution_is_allowed(resolution):
    assert make(resolution=resolution).resolution == resolution


@pytest.mark.parametrize("ratio", ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"])
def test_every_aspect_ratio_is_allowed(ratio):
    assert make(aspect_ratio=ratio).aspect_ratio == ratio


@pytest.mark.parametrize("seconds", range(4, 16))
def test_durations_as_int_and_string_normalise_to_strings(seconds):
    assert make(duration=seconds).duration == str(seconds)
    assert make(duration=str(seconds)).duration == str(seconds)


def test_duration_auto_stays_auto():
    assert make(duration="auto").duration == "auto"


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1])
def test_seeds_in_range(seed):
    assert make(seed=seed).seed == seed


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "http://127.0.0.1:8787/cdn/files/x.jpg",
        f"data:image/png;base64,{PNG}",
        f"data:image/jpeg;base64,{encoded(fmt='JPEG')}",
        f"data:image/webp;base64,{encoded(fmt='WEBP')}",
        f"data:image/jpeg;base64,{PNG}",  # the type is read from the bytes, as fal reads it
    ],
)
def test_image_urls_allowed(url):
    assert make(image_url=url).image_url == url
    assert make(end_image_url=url).end_image_url == url


def test_generate_audio_and_end_user_id():
    assert make(generate_audio=False).generate_audio is False
    assert make(end_user_id="team-7").end_user_id == "team-7"


# --------------------------------------------------------------------------- refused values, named


@pytest.mark.parametrize("resolution", ["1080p", "720", "", None, 720, "720P"])
def test_bad_resolution_names_field_and_allowed_values(resolution):
    err = refused(resolution=resolution)
    assert err.fields == ("resolution",)
    assert "'480p', '720p'" in str(err)


@pytest.mark.parametrize("duration", [3, 16, 0, -5, "3", "16", "5s", "", None, True, 4.5, "auto "])
def test_bad_duration(duration):
    err = refused(duration=duration)
    assert err.fields == ("duration",)
    assert "'auto'" in str(err) and "4..15" in str(err)


@pytest.mark.parametrize("ratio", ["2:1", "16/9", "", None, "AUTO", 1.77])
def test_bad_aspect_ratio(ratio):
    err = refused(aspect_ratio=ratio)
    assert err.fields == ("aspect_ratio",)
    assert "'21:9'" in str(err) and "'9:16'" in str(err)


@pytest.mark.parametrize("seed", [-1, 2**31, True, False, 1.0, "7"])
def test_bad_seed(seed):
    err = refused(seed=seed)
    assert err.fields == ("seed",)
    assert "2147483647" in str(err)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t", None, 42])
def test_bad_prompt(prompt):
    err = refused(prompt=prompt)
    assert err.fields == ("prompt",)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "example.com/a.png",
        "/tmp/cat.png",
        "https://",
        "https://exa mple.com/a.png",
        "data:image/gif;base64,R0lGOD",
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png,notbase64",
        "data:image/png;base64,!!!not-base64!!!",
        "data:image/png;base64,",
        42,
    ],
)
def test_bad_image_urls(url):
    assert refused(image_url=url).fields == ("image_url",)
    assert refused(end_image_url=url).fields == ("end_image_url",)


def test_data_uri_over_30_mb_is_refused_with_the_size():
    big = "data:image/png;base64," + "A" * (31 * 1024 * 1024 * 4 // 3)
    err = refused(image_url=big)
    assert err.fields == ("image_url",)
    assert "30 MB" in str(err)
    assert len(str(err)) < 1000, "the message must not dump the data URI"


def test_generate_audio_must_be_bool():
    assert refused(generate_audio="yes").fields == ("generate_audio",)
    assert refused(generate_audio=1).fields == ("generate_audio",)


def test_all_problems_are_reported_at_once():
    err = refused(prompt=" ", resolution="4k", duration=99, seed=-3, aspect_ratio="2:1")
    assert set(err.fields) == {"prompt", "resolution", "duration", "seed", "aspect_ratio"}
    assert "5 problems" in str(err)
    assert isinstance(err, ValueError) and isinstance(err, SeedanceError)


def test_extra_fields_may_not_shadow_known_ones():
    assert refused(extra={"seed": 3}).fields == ("extra",)


def test_check_payload_does_not_raise():
    problems = check_payload({"image_url": "ftp://x"})
    assert [p.field for p in problems] == ["prompt", "image_url"]
    detail = problems[0].to_fal_detail()
    assert detail["loc"] == ["body", "prompt"] and detail["type"] == "missing"


# --------------------------------------------------------------------------- payloads


def test_payload_leaves_out_unset_fields():
    assert make().to_payload() == {"prompt": "a slow push-in", "image_url": URL}


def test_payload_carries_set_fields_in_fal_form():
    inp = make(duration=8, seed=7, resolution="480p", aspect_ratio="9:16", generate_audio=False, end_user_id="u1")
    assert inp.to_payload() == {
        "prompt": "a slow push-in",
        "image_url": URL,
        "resolution": "480p",
        "duration": "8",
        "aspect_ratio": "9:16",
        "generate_audio": False,
        "seed": 7,
        "end_user_id": "u1",
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"prompt": "A cat turns its head", "image_url": URL},
        {
            "prompt": "The camera orbits the lighthouse as waves crash",
            "image_url": URL,
            "resolution": "720p",
            "duration": "auto",
            "aspect_ratio": "auto",
            "generate_audio": True,
        },
        {
            "prompt": "p",
            "image_url": URL,
            "end_image_url": URL,
            "resolution": "480p",
            "duration": "5",
            "aspect_ratio": "16:9",
            "generate_audio": False,
            "seed": 123456789,
            "end_user_id": "me",
            "bitrate_mode": "high",
        },
    ],
)
def test_payloads_round_trip_unchanged(payload):
    assert VideoInput.from_payload(payload).to_payload() == payload


def test_unknown_fields_pass_through_untouched():
    inp = VideoInput.from_payload({"prompt": "p", "image_url": URL, "bitrate_mode": "high", "x": {"y": [1]}})
    assert inp.extra == {"bitrate_mode": "high", "x": {"y": [1]}}
    assert inp.to_payload()["x"] == {"y": [1]}


def test_from_payload_names_missing_required_fields():
    with pytest.raises(InputError) as info:
        VideoInput.from_payload({"duration": "5"})
    assert set(info.value.fields) == {"prompt", "image_url"}


def test_canonical_json_treats_explicit_defaults_as_equal():
    a = VideoInput.from_payload({"prompt": "p", "image_url": URL})
    b = VideoInput.from_payload({"prompt": "p", "image_url": URL, "resolution": "720p", "duration": "auto"})
    assert a.canonical_json() == b.canonical_json()
    assert a.canonical_json() != make(prompt="p", seed=1).canonical_json()


def test_replace_validates_again():
    inp = make()
    assert inp.replace(seed=5).seed == 5
    with pytest.raises(InputError):
        inp.replace(duration=2)


def test_repr_shortens_data_uris():
    inp = make(image_url="data:image/png;base64," + encoded(2000, 1500))
    assert len(repr(inp)) < 300


# --------------------------------------------------------------------------- output


def test_output_parses_fals_json():
    data = {
        "video": {
            "url": "https://v3b.fal.media/files/b/x/output.mp4",
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": 4194304,
        },
        "seed": 123456789,
    }
    out = VideoOutput.from_json(data)
    assert out.video == File("https://v3b.fal.media/files/b/x/output.mp4", "video/mp4", "output.mp4", 4194304)
    assert out.seed == 123456789
    assert out.to_json() == data


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"video": None},
        {"video": {"url": ""}},
        {"video": {"url": "u", "file_size": -1}},
        {"video": {"url": "u"}, "seed": "x"},
    ],
)
def test_malformed_output_is_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        VideoOutput.from_json(data)


# --------------------------------------------------------------------------- sizes


EXPECTED_SIZES = {
    ("480p", "21:9"): (992, 432),
    ("480p", "16:9"): (864, 496),
    ("480p", "4:3"): (752, 560),
    ("480p", "1:1"): (640, 640),
    ("480p", "3:4"): (560, 752),
    ("480p", "9:16"): (496, 864),
    ("720p", "21:9"): (1470, 630),
    ("720p", "16:9"): (1280, 720),
    ("720p", "4:3"): (1112, 834),
    ("720p", "1:1"): (960, 960),
    ("720p", "3:4"): (834, 1112),
    ("720p", "9:16"): (720, 1280),
}


@pytest.mark.parametrize(("key", "size"), sorted(EXPECTED_SIZES.items()))
def test_size_table(key, size):
    assert output_size(*key) == size
    assert SIZES[key] == size


@pytest.mark.parametrize(
    ("image", "ratio"),
    [
        ((1920, 1080), "16:9"),
        ((1000, 1000), "1:1"),
        ((1080, 1920), "9:16"),
        ((2560, 1080), "21:9"),
        ((1024, 768), "4:3"),
        ((768, 1024), "3:4"),
        ((1500, 1000), "4:3"),  # 1.5 is nearer 1.33 than 1.78 on a log scale
        ((1600, 1000), "16:9"),
        ((3000, 1000), "21:9"),
        ((1000, 3000), "9:16"),
    ],
)
def test_auto_ratio_picks_nearest(image, ratio):
    assert nearest_aspect_ratio(*image) == ratio
    assert output_size("480p", "auto", image) == SIZES[("480p", ratio)]


def test_auto_ratio_without_image_size_says_what_is_missing():
    with pytest.raises(ValueError, match="image_size"):
        output_size("720p", "auto")


def test_unknown_resolution_in_output_size():
    with pytest.raises(InputError, match="resolution"):
        output_size("1080p", "16:9")


# --------------------------------------------------------------------------- cost


def test_cost_of_720p_16_9_five_seconds():
    est = estimate_cost("720p", 5, "16:9")
    assert est.usd == pytest.approx(1.2096, abs=1e-9)
    assert est.tokens == pytest.approx(108_000)
    assert not est.is_range


def test_cost_per_second_matches_model_md():
    assert estimate_cost("720p", "4", "16:9").usd / 4 == pytest.approx(0.2419, abs=1e-4)
    # MODEL.md rounds this to "about $0.1129"; the formula gives 864*496*24/1024 tokens = $0.11249 a second.
    assert estimate_cost("480p", "4", "16:9").usd / 4 == pytest.approx(0.11249, abs=1e-5)


def test_cost_scales_linearly_with_seconds():
    assert estimate_cost("480p", 15, "1:1").usd == pytest.approx(estimate_cost("480p", 5, "1:1").usd * 3)


def test_auto_duration_gives_a_range_and_a_stated_point():
    est = estimate_cost("720p", "auto", "16:9")
    assert est.is_range
    assert est.low_usd == pytest.approx(estimate_cost("720p", 4, "16:9").usd)
    assert est.high_usd == pytest.approx(estimate_cost("720p", 15, "16:9").usd)
    assert est.low_usd <= est.usd <= est.high_usd
    assert "auto" in est.assumption and "4-15" in est.assumption
    assert "range" in str(est)


def test_auto_ratio_cost_uses_image_or_the_largest_frame():
    by_image = estimate_cost("720p", 5, "auto", image_size=(1920, 1080))
    assert by_image.usd == pytest.approx(1.2096)
    unknown = estimate_cost("720p", 5, "auto")
    assert unknown.usd >= max(estimate_cost("720p", 5, r).usd for r in ("16:9", "1:1", "21:9", "4:3")) - 1e-12


def test_cost_of_an_unknown_duration_names_the_value_given():
    with pytest.raises(InputError) as info:
        estimate_cost("720p", 3, "16:9")
    assert info.value.problems[0].field == "duration"
    assert "(got 3)" in str(info.value)


def test_video_input_estimate():
    assert make(duration=5, aspect_ratio="16:9").estimate().usd == pytest.approx(1.2096)


def test_frame_count():
    assert schema.frame_count(5) == 121
    assert schema.FPS == 24


# --------------------------------------------------------------------------- endpoint ids and URLs

Q = "https://queue.fal.run"


def test_seedance_endpoint_urls():
    ep = EndpointId.parse(DEFAULT_ENDPOINT)
    assert (ep.owner, ep.alias, ep.path, ep.namespace) == ("bytedance", "seedance-2.0", "fast/image-to-video", None)
    assert ep.submit_url(Q) == "https://queue.fal.run/bytedance/seedance-2.0/fast/image-to-video"
    base = "https://queue.fal.run/bytedance/seedance-2.0/requests/abc"
    assert ep.status_url(Q, "abc") == base + "/status"
    assert ep.stream_url(Q, "abc") == base + "/status/stream"
    assert ep.request_url(Q, "abc") == base
    assert ep.cancel_url(Q + "/", "abc") == base + "/cancel"


def test_namespaced_endpoint_keeps_namespace_and_drops_path():
    ep = EndpointId.parse("workflows/alice/my-flow/run/v2")
    assert (ep.namespace, ep.owner, ep.alias, ep.path) == ("workflows", "alice", "my-flow", "run/v2")
    assert ep.submit_url("http://127.0.0.1:1/queue") == "http://127.0.0.1:1/queue/workflows/alice/my-flow/run/v2"
    assert ep.status_url("http://h/queue", "r1") == "http://h/queue/workflows/alice/my-flow/requests/r1/status"
    assert str(EndpointId.parse("comfy/bob/graph")) == "comfy/bob/graph"


def test_legacy_numeric_id():
    assert EndpointId.parse("1234-my-app").app == "1234/my-app"


@pytest.mark.parametrize("bad", ["", "single", "workflows/only", "a//b", None])
def test_bad_endpoint_ids(bad):
    with pytest.raises(ValueError, match="endpoint id"):
        EndpointId.parse(bad)


def test_price_constant():
    assert math.isclose(schema.PRICE_PER_1K_TOKENS, 0.0112)
