"""fal's own JS client (``@fal-ai/client``, pinned with a lockfile in tests/conformance/js), unchanged, on the emulator.

``.ci/run`` installs it with ``npm ci``. The node script (js/conformance.mjs)
runs the seed document's calls both ways a JS user points the client elsewhere
(``requestMiddleware`` and ``proxyUrl``) and asserts on each answer; here the
emulator is started, the script run, and the videos it got probed with PyAV.
Without node_modules the test is skipped locally and FAILS in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import av
import httpx
import pytest

from seedance_nb.emulator import serve

JS = Path(__file__).parent / "js"
KEY = "conformance-id:conformance-secret"
EXPECTED = {
    "subscribe-polling",
    "subscribe-streaming",
    "queue-submit-status-result",
    "webhook-signed",
    "queue-cancel",
    "storage-upload-file",
    "blob-auto-upload",
    "run",
    "validation-error",
}


def _node() -> str:
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node (Node.js 20) is not on PATH")
    if not (JS / "node_modules" / "@fal-ai" / "client" / "package.json").exists():
        missing.append("tests/conformance/js/node_modules is missing: run `npm ci` in tests/conformance/js")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"the JS conformance suite must run in CI: {reason}")
        pytest.skip(reason)
    assert node is not None
    return node


@pytest.fixture(scope="module")
def js_emulator():
    """An emulator of its own: it checks the key (the proxy run proves the proxy adds it)."""
    with serve(slots=4, speed=0.05, api_key=KEY) as emu:
        yield emu


#: The model each run points the client at, and its video: (width, height), frames (24 x seconds + 1).
MODELS = {"seedance": ((864, 496), 97), "wan": ((832, 480), 121)}


@pytest.mark.parametrize(
    ("mode", "model"),
    [("middleware", "seedance"), ("proxy", "seedance"), ("middleware", "wan")],  # wan: a non-Seedance endpoint
)
def test_official_js_client_runs_unchanged(js_emulator, mode, model, png_path, tmp_path):
    node = _node()
    js_emulator.reset_stats()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAL_")}  # proxy mode: the caller has no key
    proc = subprocess.run(
        [node, str(JS / "conformance.mjs"), js_emulator.base_url, mode, str(png_path), KEY, model],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, f"node failed ({proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
    report = json.loads(lines[-1])
    extra = {"storage-upload-multipart"} if mode == "middleware" else {"proxy-refuses-multipart"}
    assert set(report["checks"]) == EXPECTED | extra
    assert len(report["videos"]) == 5
    for n, url in enumerate(report["videos"]):
        path = tmp_path / f"{n}.mp4"
        path.write_bytes(httpx.get(url).content)
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert (video.codec_context.width, video.codec_context.height) == MODELS[model][0]
            assert sum(1 for _ in container.decode(video=0)) == MODELS[model][1]
    requests = js_emulator.stats()["requests"]
    if mode == "proxy":
        assert requests["proxy"] > 10, "every fal call went through the server proxy"
    else:
        assert "proxy" not in requests
    assert requests["run"] == 1 and requests["cancel"] >= 2
