"""Every cassette in tests/cassettes/ replayed through fal's own clients (fal-client and @fal-ai/client), unchanged.

For each cassette an emulator replays it (``serve(replay=..., speed=0)``: every poll moves to the next recorded
answer, so the status sequence does not depend on the polling rate). Each official client submits the recorded
input, polls the status with logs until COMPLETED and reads the result; what it saw must be what the cassette
recorded: the status sequence (repeats folded), and the result JSON key for key and value for value (the video's
URL aside, which is the replaying emulator's stand-in: it is downloaded and probed, and has the recorded size).
Both clients' answers are also compared with each other. The JS side needs tests/conformance/js/node_modules
(``npm ci`` there); without it the JS test is skipped locally and FAILS in CI (``CI=true``).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import av
import httpx
import pytest

from seedance_nb.cassette_format import jobs, load, status_sequence, with_hosts
from seedance_nb.emulator import serve

if os.environ.get("CI") == "true":
    import fal_client  # in CI the suite must run: a missing fal-client fails here
else:
    fal_client = pytest.importorskip("fal_client", reason="fal-client comes with the [test] extra")
import fal_client.client as fc  # noqa: E402

CASSETTES = sorted((Path(__file__).parents[1] / "cassettes").glob("*.cassette.json"))
JS = Path(__file__).parent / "js"
KEY = "replay-id:replay-secret"
_NAMES = {"Queued": "IN_QUEUE", "InProgress": "IN_PROGRESS", "Completed": "COMPLETED"}


@dataclasses.dataclass
class Seen:
    """What one official client saw of one replayed job."""

    statuses: list[str]
    result: dict
    logs: int


def _folded(statuses: list[str]) -> list[str]:
    return [s for n, s in enumerate(statuses) if n == 0 or statuses[n - 1] != s]


def _without_video_urls(value):
    if isinstance(value, dict):
        return {
            k: ("<video>" if k == "url" and "content_type" in value else _without_video_urls(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_video_urls(v) for v in value]
    return value


def _recorded(path: Path):
    job = jobs(load(path))[0]
    result = job.routes["result"][-1]["response"]["body"]["json"]
    return job, result


def _check(seen: Seen, path: Path, emu, tmp_path: Path, name: str) -> None:
    job, result = _recorded(path)
    assert _folded(seen.statuses) == status_sequence(job), name
    assert _without_video_urls(seen.result) == _without_video_urls(result), name
    assert seen.logs >= 1, name
    video = seen.result["video"]
    assert video["url"].startswith(emu.cdn_url)
    target = tmp_path / f"{name}.mp4"
    target.write_bytes(httpx.get(video["url"]).content)
    assert target.stat().st_size == result["video"]["file_size"]
    with av.open(str(target)) as container:
        assert container.streams.video[0].codec_context.width > 0


def _python_client(emu, monkeypatch, job) -> Seen:
    monkeypatch.setattr(fc, "QUEUE_URL_FORMAT", emu.queue_url + "/")
    monkeypatch.setattr(fc, "REST_URL", emu.rest_url)
    monkeypatch.setattr(fc, "CDN_URL", emu.cdn_url)
    monkeypatch.setenv("FAL_KEY", KEY)
    client = fal_client.SyncClient()
    try:
        handle = client.submit(job.endpoint, arguments=with_hosts(job.input, {"cdn": emu.cdn_url}))
        statuses, logs = ["IN_QUEUE"], 0  # the submit's own answer (fal-client keeps only its request id)
        for _ in range(2000):  # bounded
            status = handle.status(with_logs=True)
            statuses.append(_NAMES[type(status).__name__])
            logs = max(logs, len(getattr(status, "logs", None) or []))
            if statuses[-1] == "COMPLETED":
                break
        return Seen(statuses, handle.get(), logs)
    finally:
        cached = client.__dict__.get("_client")
        if cached is not None:
            cached.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def _js_client(emu, job, tmp_path: Path) -> Seen:
    node = shutil.which("node")
    missing = [] if node else ["node (Node.js 20) is not on PATH"]
    if not (JS / "node_modules" / "@fal-ai" / "client" / "package.json").exists():
        missing.append("tests/conformance/js/node_modules is missing: run `npm ci` in tests/conformance/js")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the JS cassette replay must run in CI: {'; '.join(missing)}")
        pytest.skip("; ".join(missing))
    inputs = tmp_path / "input.json"
    inputs.write_text(json.dumps(with_hosts(job.input, {"cdn": emu.cdn_url})))
    proc = subprocess.run(
        [str(node), str(JS / "replay.mjs"), emu.base_url, job.endpoint, str(inputs), KEY],
        capture_output=True,
        text=True,
        cwd=JS,
        timeout=120,
    )
    assert proc.returncode == 0, f"node failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return Seen([report["submit_status"], *report["statuses"]], report["result"], report["logs"])


@pytest.mark.parametrize("path", CASSETTES, ids=[p.name for p in CASSETTES])
def test_cassette_replays_identically_through_both_official_clients(path, monkeypatch, tmp_path):
    assert CASSETTES, "tests/cassettes/ holds at least the emulator cassette"
    job, _result = _recorded(path)
    with serve(replay=path, speed=0, api_key=KEY) as emu:
        python = _python_client(emu, monkeypatch, job)
        _check(python, path, emu, tmp_path, "python")
        js = _js_client(emu, job, tmp_path)
        _check(js, path, emu, tmp_path, "js")
    assert _folded(python.statuses) == _folded(js.statuses)
    assert _without_video_urls(python.result) == _without_video_urls(js.result)
