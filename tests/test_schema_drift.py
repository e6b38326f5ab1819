"""The input schema from fal's OpenAPI: shipped snapshots, validation driven by them, drift reports against the
emulator's served document over loopback, the daily check's on-disk cache, unsupported-field warnings, seeds."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import socket
import time

import httpx
import pytest

from seedance_nb import endpoints, errors, schema
from seedance_nb.openapi_schema import SNAPSHOT_ENDPOINTS, InputSchema, diff_schemas
from seedance_nb.runs import seedance_home
from seedance_nb.schema import (
    DEFAULT_ENDPOINT,
    VideoInput,
    check_drift_daily,
    check_payload,
    current_schema,
    load_snapshot,
    refresh,
    seed_honoured,
    snapshot_document,
    validate_payload,
    warn_unsupported_fields,
)

URL = "https://x.test/a.png"
INPUT = "BytedanceSeedance20FastImageToVideoInput"


def drifted_document() -> dict:
    """The default endpoint's snapshot with one change of every kind (and a field name that is HTML)."""
    doc = snapshot_document(DEFAULT_ENDPOINT)
    props = doc["components"]["schemas"][INPUT]["properties"]
    props["seed"] = {"title": "Seed", "type": "integer"}
    del props["bitrate_mode"]
    props["resolution"]["enum"] = ["480p", "720p", "1080p"]
    props["aspect_ratio"]["enum"] = [r for r in props["aspect_ratio"]["enum"] if r != "21:9"]
    props["duration"]["default"] = "5"
    props["generate_audio"]["type"] = "string"
    props["<img src=x onerror=alert(1)>"] = {"type": "string"}
    doc["components"]["schemas"][INPUT]["required"].append("end_user_id")
    return doc


@pytest.fixture(autouse=True)
def _served_document_restored(emulator):
    """``configure(openapi=...)`` is not in conftest's TEST_CONFIG: put the built-in document back after each test."""
    yield
    emulator.configure(openapi=None)


def openapi_fetches(emu) -> int:
    return emu.stats()["requests"].get("openapi", 0)


# --------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("endpoint", SNAPSHOT_ENDPOINTS)
def test_every_family_endpoint_has_a_snapshot_with_its_sources(endpoint):
    doc = snapshot_document(endpoint)
    meta = doc["x-seedance-nb-snapshot"]
    assert meta["endpoint_id"] == endpoint and meta["sources"] and "seed" in meta["inferred"]
    assert f"/{endpoint}" in doc["paths"]
    spec = load_snapshot(endpoint)
    assert spec.required == ("prompt", *(("image_url",) if endpoint.endswith("image-to-video") else ()))
    tier = endpoints.tier(endpoint)
    assert spec.enum("resolution") == ("480p", "720p", *(("1080p",) if tier == "standard" else ()))
    assert spec.enum("bitrate_mode") == (None if tier == "mini" else ("standard", "high"))
    assert spec.enum("duration") == ("auto", *(str(s) for s in range(4, 16)))
    assert "seed" not in spec.fields  # the decision documented in docs/fal-fidelity.md


def test_each_kind_has_its_own_fields():
    t2v = load_snapshot("bytedance/seedance-2.0/fast/text-to-video")
    r2v = load_snapshot("bytedance/seedance-2.0/reference-to-video")
    assert "image_url" not in t2v.fields and "image_urls" not in t2v.fields
    assert {"image_urls", "video_urls", "audio_urls"} <= set(r2v.fields)
    assert r2v.fields["image_urls"].type == "array<string>"


def test_the_default_snapshot_drives_the_public_enums():
    assert schema.RESOLUTIONS == load_snapshot().enum("resolution")
    assert schema.ASPECT_RATIOS == load_snapshot().enum("aspect_ratio")
    assert schema.BITRATE_MODES == ("standard", "high")


@pytest.mark.parametrize("bad", ["fal-ai/nope", "bytedance/seedance-2.0/fast/image-to-vdeo", "", None, ["x"]])
def test_an_endpoint_without_a_snapshot_is_an_input_error_naming_it(bad):
    with pytest.raises(errors.InputError) as info:
        load_snapshot(bad)
    assert info.value.fields == ("endpoint",) and DEFAULT_ENDPOINT in str(info.value)
    with pytest.raises(errors.InputError):
        validate_payload({"prompt": "p"}, bad)


# --------------------------------------------------------------------------- validation follows the schema


def test_bitrate_mode_is_checked_against_the_snapshot_keeping_the_field_name():
    assert VideoInput(prompt="p", image_url=URL, extra={"bitrate_mode": "high"}).to_payload()["bitrate_mode"] == "high"
    with pytest.raises(errors.InputError) as info:
        VideoInput(prompt="p", image_url=URL, extra={"bitrate_mode": "ultra"})
    assert info.value.fields == ("bitrate_mode",) and "'standard', 'high'" in str(info.value)
    with pytest.raises(errors.InputError, match="must be text"):
        VideoInput(prompt="p", image_url=URL, extra={"bitrate_mode": 2})


def test_a_schema_with_other_enums_changes_what_is_accepted():
    wider = InputSchema.from_openapi(drifted_document(), DEFAULT_ENDPOINT)
    payload = {"prompt": "p", "image_url": URL, "resolution": "1080p", "aspect_ratio": "21:9", "end_user_id": "u"}
    assert [p.field for p in check_payload(payload)] == ["resolution"]
    assert [p.field for p in check_payload(payload, wider)] == ["aspect_ratio"]
    missing = check_payload({"prompt": "p", "image_url": URL}, wider)
    assert [(p.field, p.type) for p in missing] == [("end_user_id", "missing")]


def test_other_endpoints_are_validated_with_their_own_schema():
    t2v = "bytedance/seedance-2.0/fast/text-to-video"
    assert validate_payload({"prompt": "a lighthouse at dusk", "duration": "5"}, t2v)["duration"] == "5"
    with pytest.raises(errors.InputError) as info:
        validate_payload({"duration": "3", "resolution": "1080p"}, t2v)
    assert info.value.fields == ("prompt", "resolution", "duration") and t2v in str(info.value)
    r2v = "bytedance/seedance-2.0/fast/reference-to-video"
    assert validate_payload({"prompt": "@Image1 walks", "image_urls": [URL]}, r2v)["image_urls"] == [URL]
    with pytest.raises(errors.InputError) as info:
        validate_payload({"prompt": "p", "image_urls": URL}, r2v)
    assert info.value.fields == ("image_urls",) and "a list of text" in str(info.value)


# --------------------------------------------------------------------------- drift against the emulator


def test_identical_schema_gives_no_drift(emu):
    drift = refresh(DEFAULT_ENDPOINT, url=emu.openapi_url)
    assert not drift.changed and drift.changes == ()
    assert "matches" in str(drift) and "matches" in drift._repr_html_()
    assert openapi_fetches(emu) == 1
    assert not refresh("bytedance/seedance-2.0/image-to-video", url=emu.openapi_url).changed


def test_a_served_schema_that_differs_produces_one_readable_drift_report(emu):
    emu.configure(openapi=drifted_document())
    drift = refresh(DEFAULT_ENDPOINT, url=emu.openapi_url)
    assert drift.changed
    kinds = {(c.field, c.kind) for c in drift.changes}
    assert kinds == {
        ("seed", "added"),
        ("bitrate_mode", "removed"),
        ("resolution", "enum_added"),
        ("aspect_ratio", "enum_removed"),
        ("duration", "default"),
        ("generate_audio", "type"),
        ("end_user_id", "required"),
        ("<img src=x onerror=alert(1)>", "added"),
    }
    text = str(drift)
    for line in (
        "+ seed: added (integer)",
        "- bitrate_mode: removed (was string, one of 'standard', 'high', default 'standard')",
        "~ resolution: values added: '1080p'",
        "~ aspect_ratio: values removed: '21:9'",
        "~ duration: default 'auto' -> '5'",
        "~ generate_audio: type boolean -> string",
        "~ end_user_id: now required",
    ):
        assert line in text
    assert text.startswith(f"fal's input schema for {DEFAULT_ENDPOINT} differs") and "8 changes" in text
    page = drift._repr_html_()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_snapshot_against_itself_and_a_reordered_copy_has_no_changes():
    doc = snapshot_document()
    props = doc["components"]["schemas"][INPUT]["properties"]
    doc["components"]["schemas"][INPUT]["properties"] = dict(reversed(list(props.items())))
    props_desc = doc["components"]["schemas"][INPUT]["properties"]["prompt"]
    props_desc["description"] = "reworded"
    assert diff_schemas(load_snapshot(), InputSchema.from_openapi(doc, DEFAULT_ENDPOINT)) == ()


def test_refs_and_nullable_any_of_are_read_like_fal_writes_them():
    doc = snapshot_document()
    props = doc["components"]["schemas"][INPUT]["properties"]
    doc["components"]["schemas"]["ResolutionEnum"] = {"type": "string", "enum": ["480p", "720p"]}
    props["resolution"] = {"allOf": [{"$ref": "#/components/schemas/ResolutionEnum"}], "default": "720p"}
    props["end_user_id"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    changes = diff_schemas(load_snapshot(), InputSchema.from_openapi(doc, DEFAULT_ENDPOINT))
    assert [(c.field, c.kind, c.new) for c in changes] == [("end_user_id", "type", "string|null")]


def test_an_endpoint_fal_does_not_serve_is_a_clear_not_found(emu):
    with pytest.raises(errors.NotFoundError, match="no OpenAPI document for endpoint") as info:
        refresh("bytedance/seedance-2.0/fast/text-to-video", url=emu.openapi_url)
    assert info.value.status_code == 404


def test_an_unknown_endpoint_is_refused_before_any_request(emu):
    with pytest.raises(errors.InputError) as info:
        refresh("fal-ai/nope", url=emu.openapi_url)
    assert info.value.fields == ("endpoint",)
    assert openapi_fetches(emu) == 0


def test_a_document_without_an_input_schema_is_a_protocol_error(emu):
    emu.configure(openapi={"openapi": "3.0.4", "paths": {}})
    with pytest.raises(errors.ProtocolError, match="no input schema"):
        refresh(DEFAULT_ENDPOINT, url=emu.openapi_url)


def test_refresh_async_uses_a_given_client_and_sends_no_key(emu, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "id:secret-never-sent")
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    async def go() -> tuple[schema.SchemaDrift, bool]:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            drift = await schema.refresh_async(DEFAULT_ENDPOINT, url=emu.openapi_url, client=http)
            return drift, http.is_closed

    drift, closed = asyncio.run(go())
    assert not drift.changed and not closed and len(seen) == 1 and "authorization" not in seen[0].headers


# --------------------------------------------------------------------------- the daily check


def cache_file(endpoint: str = DEFAULT_ENDPOINT):
    return seedance_home() / "openapi" / (endpoint.replace("/", "__") + ".json")


def test_the_daily_check_fetches_at_most_once_a_day(emu, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "id:secret")
    emu.configure(openapi=drifted_document())
    first = check_drift_daily(url=emu.openapi_url)
    assert first is not None and first.changed and openapi_fetches(emu) == 1
    assert cache_file().is_file() and str(seedance_home()) == os.environ["SEEDANCE_HOME"]
    assert "secret" not in cache_file().read_text()

    second = check_drift_daily(url=emu.openapi_url)  # within the day: answered from the cache
    assert openapi_fetches(emu) == 1 and second is not None and second.changes == first.changes

    entry = json.loads(cache_file().read_text())
    entry["checked_at"] = time.time() - 25 * 3600  # a stale cache fetches again
    cache_file().write_text(json.dumps(entry))
    emu.configure(openapi=None)
    third = check_drift_daily(url=emu.openapi_url)
    assert openapi_fetches(emu) == 2 and third is not None and not third.changed


def test_the_daily_check_needs_a_key(emu, monkeypatch):
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert check_drift_daily(url=emu.openapi_url) is None
    assert openapi_fetches(emu) == 0 and not cache_file().exists()


def test_the_daily_check_logs_drift_as_a_warning(emu, caplog):
    emu.configure(openapi=drifted_document())
    with caplog.at_level(logging.WARNING, logger="seedance_nb.schema"):
        check_drift_daily(url=emu.openapi_url, key="id:secret")
    assert any("+ seed: added" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() for r in caplog.records)


def test_an_offline_daily_check_returns_none_and_waits_a_day():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/openapi/queue/openapi.json"  # nothing listens there
    assert check_drift_daily(url=url, key="k", timeout=5) is None
    checked = json.loads(cache_file().read_text())["checked_at"]
    assert check_drift_daily(url=url, key="k", timeout=5) is None
    assert json.loads(cache_file().read_text())["checked_at"] == checked  # no second attempt within the day


# --------------------------------------------------------------------------- warnings and seeds


def test_a_seed_gets_a_warning_while_fals_schema_lacks_it():
    job = VideoInput(prompt="p", image_url=URL, seed=42)
    (message,) = warn_unsupported_fields(job, load_snapshot())
    assert "'seed'" in message and "seed_honoured" in message and DEFAULT_ENDPOINT in message
    assert warn_unsupported_fields(VideoInput(prompt="p", image_url=URL), load_snapshot()) == []


def test_warnings_count_jobs_and_name_misspelt_fields():
    jobs = [VideoInput(prompt="p", image_url=URL, seed=s) for s in (1, 2)] + [
        {"prompt": "p", "image_url": URL, "bitrat_mode": "high"}
    ]
    messages = warn_unsupported_fields(jobs, load_snapshot())
    assert messages[0].startswith("2 of 3 jobs set 'seed'")
    assert messages[1].startswith("1 of 3 jobs set 'bitrat_mode'") and "spelling" in messages[1]


def test_current_schema_follows_fals_latest_document(emu):
    assert current_schema() == load_snapshot()
    emu.configure(openapi=drifted_document())
    refresh(url=emu.openapi_url)
    assert "seed" in current_schema().fields
    assert warn_unsupported_fields(VideoInput(prompt="p", image_url=URL, seed=1), current_schema()) == []


@pytest.mark.parametrize(
    ("requested", "output", "honoured"),
    [(7, 7, True), (7, 8, False), (0, 0, True), (None, 8, None), (7, None, None), (True, 1, None), (7, "7", None)],
)
def test_seed_honoured(requested, output, honoured):
    assert seed_honoured(requested, output) is honoured


def test_schema_module_surface_keeps_its_old_names():
    old = {"ASPECT_RATIOS", "DURATIONS", "RESOLUTIONS", "VideoInput", "check_payload", "DEFAULT_ENDPOINT"}
    new = {"refresh", "check_drift_daily", "warn_unsupported_fields", "seed_honoured", "validate_payload"}
    assert old | new <= set(schema.__all__)
    assert copy.copy(schema.__all__) == sorted(schema.__all__, key=lambda n: (not n.isupper(), n))
