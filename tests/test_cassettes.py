"""Cassettes: sd.record redacts what must never be stored, the emulator replays a cassette, the canary diffs.

Everything runs over loopback HTTP against real emulators; the canary's "fal" is an emulator standing in for it
(``--against`` or FAL_KEY with ``SEEDANCE_*_URL``, the seam the CLI's cost-question tests use).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import json
from pathlib import Path

import av
import httpx
import pytest

import seedance_nb as sd
from seedance_nb.cassette_format import Redactor, jobs, load, save, status_sequence, stream_events, with_hosts
from seedance_nb.cli import main
from seedance_nb.client import AsyncClient
from seedance_nb.emulator import serve
from seedance_nb.errors import InputError

SENTINEL = "sentinelkeyid-7d1c4e:sentinelkeysecret-0b9a8f7e6d5c"
COMMITTED = Path(__file__).parent / "cassettes" / "emulator-fast-480p-4s.cassette.json"


def _client(emu, key=None) -> AsyncClient:
    return AsyncClient(key, queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)


async def _one_job(client: AsyncClient, image_url: str, dest: Path, statuses: list[str] | None = None):
    inputs = {"prompt": "a slow push-in", "image_url": image_url, "resolution": "480p", "duration": "4"}
    seen = statuses if statuses is not None else []
    names = {"Queued": "IN_QUEUE", "InProgress": "IN_PROGRESS", "Completed": "COMPLETED"}
    output = await client.subscribe(inputs, on_update=lambda s: seen.append(names[type(s).__name__]))
    await client.download(output.video.url, dest)
    return output


def test_record_redacts_the_key_tokens_and_user_files(emu, png_bytes, tmp_path):
    emu.configure(api_key=SENTINEL)
    data_uri = "data:image/png;base64," + base64.b64encode(png_bytes).decode()
    path = tmp_path / "s.cassette.json"

    async def session():
        client = _client(emu, SENTINEL)
        try:
            with sd.record(path) as rec:
                uploaded = await client.upload(png_bytes, "image/png", "me.png")
                await _one_job(client, data_uri, tmp_path / "v.mp4")
            return rec, client._cdn_token[0], uploaded  # noqa: SLF001 (the CDN token the session used)
        finally:
            await client.aclose()

    rec, cdn_auth, uploaded = asyncio.run(session())
    text = path.read_text()
    for secret in (
        SENTINEL,
        *SENTINEL.split(":"),
        cdn_auth.split(" ", 1)[1],
        base64.b64encode(png_bytes).decode()[:64],
    ):
        assert secret not in text
    document = load(path)
    assert len(rec) == len(document["interactions"]) >= 6
    methods = [(i["request"]["method"], i["request"]["url"].split("?")[0]) for i in document["interactions"]]
    assert ("POST", "<queue>/bytedance/seedance-2.0/fast/image-to-video") in methods
    submit = jobs(document)[0].submit
    assert submit["request"]["headers"]["authorization"] == "Key <redacted>"
    assert submit["request"]["body"]["json"]["image_url"].startswith("data:image/png;base64,<redacted ")
    upload = next(i for i in document["interactions"] if i["request"]["url"] == "<cdn>/files/upload")
    assert upload["request"]["body"] == {
        "size": len(png_bytes),
        "sha256": upload["request"]["body"]["sha256"],
        "content_type": "image/png",
    }
    video = document["interactions"][-1]["response"]["body"]
    assert video["content_type"] == "video/mp4" and video["size"] == (tmp_path / "v.mp4").stat().st_size
    assert set(video) == {"size", "sha256", "content_type"}  # no bytes of the video
    assert status_sequence(jobs(document)[0])[-1] == "COMPLETED"
    assert uploaded.startswith(emu.cdn_url)


def test_redactor_removes_signed_queries_jwts_and_key_values():
    redactor = Redactor({"queue": "http://127.0.0.1:9/queue", "cdn": "http://127.0.0.1:9/cdn"}, "kid:ksecret")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"
    text = redactor.text(
        f"https://v3.fal.media/files/x.mp4?fal_token={jwt}&X-Amz-Signature=abcd&logs=1 Key kid:ksecret "
        f"http://127.0.0.1:9/queue/a/b/requests/1/status?logs=1 bearer {jwt} token {jwt}"
    )
    assert "<cdn>/files/x.mp4?fal_token=<redacted>&X-Amz-Signature=<redacted>&logs=1" in text
    assert "<queue>/a/b/requests/1/status?logs=1" in text
    assert jwt not in text and "ksecret" not in text and "abcd" not in text
    assert redactor.json({"token": "t0k", "access_token": "a", "nested": [{"secret": "s"}]}) == {
        "token": "<redacted>",
        "access_token": "<redacted>",
        "nested": [{"secret": "<redacted>"}],
    }


def test_emulator_replays_the_committed_cassette_through_seedance_client(tmp_path):
    recorded = jobs(load(COMMITTED))[0]
    result = next(i for i in [recorded.routes["result"][-1]])["response"]["body"]["json"]
    with serve(replay=COMMITTED, speed=0) as emu:
        statuses: list[str] = []
        inputs = with_hosts(recorded.input, {"cdn": emu.cdn_url})
        output = asyncio.run(_replay_job(emu, inputs["image_url"], tmp_path / "r.mp4", statuses))
        assert emu.stats()["requests"]["replay"] >= 3
    folded = [s for n, s in enumerate(statuses) if n == 0 or statuses[n - 1] != s]
    assert ["IN_QUEUE", *folded] == status_sequence(recorded) or folded == status_sequence(recorded)
    assert output.seed == result["seed"] and output.video.file_size == result["video"]["file_size"]
    assert (tmp_path / "r.mp4").stat().st_size == result["video"]["file_size"]  # the stand-in, padded
    with av.open(str(tmp_path / "r.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (864, 496)
        assert float(stream.duration * stream.time_base) == pytest.approx(4.0, abs=0.1)


async def _replay_job(emu, image_url: str, dest: Path, statuses: list[str]):
    client = _client(emu)
    try:
        return await _one_job(client, image_url, dest, statuses)
    finally:
        await client.aclose()


def test_replay_refuses_what_it_cannot_read(tmp_path, capsys):
    bad = tmp_path / "bad.cassette.json"
    bad.write_text(json.dumps({"format": "seedance-nb-cassette", "version": 99, "interactions": []}))
    with pytest.raises(InputError, match="format version 99"):
        serve(replay=bad).__enter__()
    assert main(["emulator", "--replay", str(tmp_path / "missing.json")]) == 2
    assert "--replay takes a cassette file" in capsys.readouterr().err
    with serve(replay=COMMITTED, speed=0) as emu:
        answer = httpx.post(f"{emu.queue_url}/fal-ai/other/model", json={})
        assert answer.status_code == 404 and "recorded no request" in answer.json()["detail"]


def _canary(tmp_path: Path, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    from seedance_nb.cassettes.canary import run
    from seedance_nb.cli import _parser

    args = _parser().parse_args(["canary", "--out", str(tmp_path), *extra])
    return run(args, confirm=lambda grid: True, out=out), out.getvalue()


def test_canary_reports_no_drift_against_an_emulator_standing_in_for_fal(emu, tmp_path, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "canary-id:canary-secret")
    for role in ("queue", "rest", "cdn", "api"):
        monkeypatch.setenv(f"SEEDANCE_{role.upper()}_URL", getattr(emu, f"{role}_url"))
    monkeypatch.setenv("SEEDANCE_OPENAPI_URL", emu.openapi_url)
    code, text = _canary(tmp_path / "a", "--yes")
    assert code == 0, text
    assert text.strip().endswith("no drift")
    assert "bytedance/seedance-2.0/mini/image-to-video" in text and "$0.28" in text
    assert emu.stats()["submissions"] == 1
    live = load(tmp_path / "a" / "fal.cassette.json")
    assert "canary-secret" not in json.dumps(live)
    assert (tmp_path / "a" / "fal.mp4").stat().st_size > 1000  # the paid video is kept


def test_canary_reports_drift_when_the_stand_in_differs(emu, tmp_path):
    code, text = _canary(tmp_path / "a", "--yes", "--against", emu.base_url)
    assert code == 0, text
    doctored = copy.deepcopy(load(tmp_path / "a" / "fal.cassette.json"))
    job = jobs(doctored)[0]
    result = job.routes["result"][-1]["response"]
    result["body"]["json"]["seed_value"] = result["body"]["json"].pop("seed")
    result["headers"].pop("x-fal-billable-units")
    for item in job.routes["stream"]:
        body = item["response"]["body"]
        body["text"] = "\n\n".join(e for e in body["text"].split("\n\n") if '"IN_PROGRESS"' not in e)
    save(doctored, tmp_path / "doctored.cassette.json")
    with serve(replay=tmp_path / "doctored.cassette.json", speed=0) as stand_in:
        code, text = _canary(tmp_path / "b", "--yes", "--against", stand_in.base_url)
    assert code == 1
    assert "drift: status sequence: IN_QUEUE > COMPLETED on fal, IN_QUEUE > IN_PROGRESS > COMPLETED" in text
    assert "drift: result: fal has seed_value (number); the emulator has not" in text
    assert "drift: result: the emulator has seed (number); fal has not" in text
    assert "drift: result: header x-fal-billable-units is sent by the emulator only" in text
    assert "no drift" not in text


def test_canary_asks_before_spending(emu, tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["canary", "--against", emu.base_url, "--out", str(tmp_path)]) == 1
    said = capsys.readouterr().out
    assert "Spend $0.28 on 1 video? [y/N]" in said and "nothing was sent" in said
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["canary", "--against", emu.base_url, "--out", str(tmp_path)]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert emu.stats()["submissions"] == 0
    monkeypatch.delenv("FAL_KEY", raising=False)
    assert main(["canary", "--yes", "--out", str(tmp_path)]) == 2
    assert "FAL_KEY: is not set" in capsys.readouterr().err


def test_replay_paces_statuses_by_the_recorded_times_scaled_by_speed():
    recorded = jobs(load(COMMITTED))[0]
    submit_body = recorded.submit["request"]["body"]["json"]
    endpoint = f"/{recorded.endpoint}"
    events = len(stream_events(recorded.routes["stream"][0]))

    def polls(speed: float) -> list[str]:
        with serve(replay=COMMITTED, speed=speed) as emu, httpx.Client() as http:
            answer = http.post(emu.queue_url + endpoint, json=submit_body).json()
            assert answer["status_url"].startswith(emu.queue_url) and answer["request_id"] != recorded.request_id
            return [http.get(answer["status_url"]).json()["status"] for _ in range(events + 1)]

    # x100: the recorded IN_PROGRESS (about 0.1 s after the submit) is 10 s away, so a quick poller waits in queue
    assert set(polls(100.0)) == {"IN_QUEUE"}
    # x0: every poll moves on to the next recorded answer, the recorded sequence at any polling rate
    stepped = polls(0.0)
    assert [s for n, s in enumerate(stepped) if n == 0 or stepped[n - 1] != s] == status_sequence(recorded)
