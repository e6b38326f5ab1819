"""Money is spent on every request: faults, crashes, fuzzed inputs, hostile servers and secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import string
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from seedance_testconf import make_png

from seedance_nb import errors
from seedance_nb.client import AsyncClient, parse_status
from seedance_nb.files import load_image
from seedance_nb.reporting import report
from seedance_nb.schema import ASPECT_RATIOS, DURATIONS, RESOLUTIONS, VideoInput
from seedance_nb.sweep import Grid, Sweep, load_sweep, run_sweep

FAKE_KEY = "sk-FAKE-1234abcd:secret-5678efgh"
KEY_PARTS = ("sk-FAKE-1234abcd", "secret-5678efgh", FAKE_KEY)


# --------------------------------------------------------------------------- faults


def test_hundred_jobs_through_every_fault_lose_nothing_and_pay_once(emu, png_path, tmp_path):
    emu.configure(
        render="tiny",
        speed=0.001,
        slots=16,
        fault_seed=11,
        rate_429=0.10,
        rate_ingress=0.05,
        rate_drop=0.03,
        rate_slow=0.05,
        slow_seconds=0.2,
        rate_moderation=0.05,
    )
    grid = Grid(
        image=png_path, prompt=[f"prompt {i}" for i in range(25)], seed=[1, 2, 3, 4], resolution="480p", duration=4
    )
    client = AsyncClient(
        queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url, poll_interval=0.02
    )
    sweep = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "faults", concurrency=16, progress=False)
    df = sweep.df
    assert len(df) == 100 and set(df["status"]) <= {"completed", "failed"}
    failed = df[df["status"] == "failed"]
    assert (failed["error_type"] == "content_policy_violation").all() and failed["error"].str.len().min() > 10
    assert 0 < len(failed) < 15 and (df["status"] == "completed").sum() == 100 - len(failed)
    stats = emu.stats()
    assert stats["submissions"] == 100, "exactly one accepted submission per job"
    assert stats["faults"].get("429", 0) > 0 and stats["faults"].get("ingress", 0) > 0
    assert stats["faults"].get("drop", 0) > 0 and stats["faults"].get("slow", 0) > 0
    reloaded = load_sweep(sweep.run_dir)
    assert reloaded.df["status"].tolist() == df["status"].tolist(), "the journal alone tells the same story"
    assert all(Path(p).is_file() for p in df.loc[df["status"] == "completed", "path"])


def test_a_torn_last_journal_line_is_ignored(client, png_path, tmp_path):
    sweep = run_sweep(
        Grid(image=png_path, prompt=["a", "b"], resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "sweeps" / "torn",
        progress=False,
    )
    with (sweep.run_dir / "journal.jsonl").open("a") as fh:
        fh.write('{"event": "rated", "job": 0, "rating": 5')  # the process died mid-write
    assert load_sweep(sweep.run_dir).df["status"].tolist() == ["completed", "completed"]


def test_cancelling_the_awaited_sweep_cancels_remote_requests(client, emu, png_path, tmp_path):
    from seedance_nb.sweep import run_sweep_async

    emu.configure(speed=1.0, slots=1)
    grid = Grid(image=png_path, prompt=["a", "b", "c"], resolution="480p", duration=4)

    async def cell():
        task = asyncio.ensure_future(
            run_sweep_async(grid, client=client, run_dir=tmp_path / "sweeps" / "k", progress=False)
        )
        while emu.stats()["submissions"] < 3:
            await asyncio.sleep(0.01)
        task.cancel()  # what an interrupted cell does
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()

    asyncio.run(cell())
    deadline = time.monotonic() + 5  # a running job's cancellation completes on the emulator just after the PUT
    while time.monotonic() < deadline and emu.stats()["cancelled"] < 3:
        time.sleep(0.02)
    assert emu.stats()["queued"] == 0 and emu.stats()["cancelled"] == 3
    assert set(load_sweep(tmp_path / "sweeps" / "k").df["status"]) == {"cancelled"}


# --------------------------------------------------------------------------- fuzzed input

FIELDS = {
    "prompt": st.one_of(st.text(max_size=30), st.none(), st.integers()),
    "resolution": st.one_of(st.sampled_from(RESOLUTIONS), st.text(max_size=6), st.integers()),
    "duration": st.one_of(st.sampled_from(DURATIONS), st.integers(-5, 30), st.text(max_size=4), st.booleans()),
    "aspect_ratio": st.one_of(st.sampled_from(ASPECT_RATIOS), st.text(max_size=6)),
    "generate_audio": st.one_of(st.booleans(), st.integers(0, 2), st.text(max_size=3)),
    "seed": st.one_of(st.none(), st.integers(-(2**33), 2**33), st.booleans(), st.floats(allow_nan=False)),
    "image_url": st.one_of(
        st.just("https://x/a.png"), st.text(string.printable, max_size=20), st.just("data:image/gif;base64,R0lG")
    ),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=FIELDS))
def test_fuzzed_inputs_either_validate_or_name_every_bad_field(fields):
    fields.setdefault("prompt", "p")
    fields.setdefault("image_url", "https://x/a.png")
    try:
        inp = VideoInput(**fields)
    except errors.InputError as exc:
        assert exc.fields and set(exc.fields) <= set(FIELDS)
        assert all(str(p) and p.field in str(exc) for p in exc.problems)
        return
    assert VideoInput.from_payload(inp.to_payload()) == inp


def _png(width: int, height: int) -> bytes:
    return make_png(width, height)


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (9, 9, 9)).save(buf, "GIF")
    return buf.getvalue()


BAD_IMAGES = {
    "truncated png": (lambda: _png(800, 450)[:400], "not a readable image"),
    "empty file": (lambda: b"", "empty"),
    "31 MB file": (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * (31 * 1024 * 1024), "30 MB"),
    "200x200": (lambda: _png(200, 200), "at least 300"),
    "3:1": (lambda: _png(1500, 500), "between 0.4 and 2.5"),
    "text renamed .png": (lambda: b"hello, I am not a picture\n" * 20, "not a readable image"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_images_are_refused_locally_and_nothing_is_sent(emu, client, tmp_path, name):
    make, message = BAD_IMAGES[name]
    path = tmp_path / "input.png"
    path.write_bytes(make())
    with pytest.raises(errors.InputError) as info:
        run_sweep(Grid(image=path, prompt="p"), client=client, run_dir=tmp_path / "sweeps" / "x", progress=False)
    assert info.value.fields == ("image",) and message in str(info.value)  # the field the user wrote
    assert emu.stats()["http_requests"] == 0


def test_a_gif_is_converted_to_png_rather_than_refused():
    image = load_image(_gif())
    assert image.mime == "image/png" and image.size == (640, 480)


# --------------------------------------------------------------------------- secrets


def test_the_key_appears_nowhere(emu, png_path, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    emu.configure(api_key=FAKE_KEY)
    monkeypatch.setenv("FAL_KEY", FAKE_KEY)
    client = AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)
    sweep = run_sweep(
        Grid(image=png_path, prompt=["a", "b"], resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "sweeps" / "s",
        progress=False,
    )
    assert (sweep.df["status"] == "completed").all()
    report(sweep)
    texts = [sweep.df.to_csv(), repr(sweep), repr(client), caplog.text, json.dumps(emu.stats())]
    for file in sweep.run_dir.rglob("*"):
        if file.is_file():
            texts.append(file.read_bytes().decode("latin-1"))
    monkeypatch.setenv("FAL_KEY", "sk-FAKE-1234abcd:wrong-secret-999")
    wrong = AsyncClient(queue_url=emu.queue_url)

    async def attempt():
        async with wrong:
            await wrong.submit(VideoInput(prompt="p", image_url="https://x/a.png"))

    with pytest.raises(errors.AuthenticationError) as info:
        asyncio.run(attempt())
    texts += [str(info.value), repr(info.value), repr(info.value.__dict__), repr(wrong)]
    blob = "\n".join(texts)
    for part in (*KEY_PARTS, "wrong-secret-999"):
        assert part not in blob, part


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["01-quickstart", "05-report"])
def test_notebooks_run_with_a_key_show_it_nowhere(name, tmp_path, monkeypatch):
    """A notebook run as a fal user runs it (FAL_KEY set, so connect() picks fal), pointed at an emulator
    that demands that key: the executed outputs and every file the notebook wrote are searched for it."""
    import nbformat
    from nbclient import NotebookClient

    from seedance_nb.emulator import serve

    with serve(api_key=FAKE_KEY, slots=4, speed=0.02) as emu:
        monkeypatch.setenv("FAL_KEY", FAKE_KEY)
        monkeypatch.setenv("SEEDANCE_QUEUE_URL", emu.queue_url)
        monkeypatch.setenv("SEEDANCE_REST_URL", emu.rest_url)
        monkeypatch.setenv("SEEDANCE_CDN_URL", emu.cdn_url)
        monkeypatch.setenv("SEEDANCE_API_URL", emu.api_url)
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        runner = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
        runner.execute()
        assert emu.stats()["submissions"] >= 1, "the notebook really ran jobs on the key-checking emulator"
    outputs = nbformat.writes(nb)
    assert "using <b>fal</b>" in outputs, "connect() took the fal path, as a real user's would"
    texts = [outputs] + [f.read_bytes().decode("latin-1") for f in tmp_path.rglob("*") if f.is_file()]
    blob = "\n".join(texts)
    for part in KEY_PARTS:
        assert part not in blob, part


# --------------------------------------------------------------------------- hostile server data


def hostile(output: dict | str, video: bytes | None = None, headers: dict | None = None, status: str = "COMPLETED"):
    base = "https://queue.test/bytedance/seedance-2.0/requests/r1"

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            return httpx.Response(
                200,
                json={
                    "request_id": "r1",
                    "status_url": base + "/status",
                    "response_url": base,
                    "cancel_url": base + "/cancel",
                },
            )
        if path.endswith("/stream"):
            return httpx.Response(404)
        if path.endswith("/status"):
            return httpx.Response(200, json={"status": status, "logs": None, "metrics": {}})
        if path == "/bytedance/seedance-2.0/requests/r1":
            if isinstance(output, str):
                return httpx.Response(200, text=output, headers={"content-type": "application/json"})
            return httpx.Response(200, json=output)
        if path.startswith("/files/"):
            return httpx.Response(200, content=video or b"", headers=headers or {})
        return httpx.Response(404)

    return AsyncClient(
        queue_url="https://queue.test",
        rest_url="https://rest.test",
        cdn_url="https://cdn.test",
        transport=httpx.MockTransport(handler),
        poll_interval=0.001,
    )


def run_one(client, tmp_path, png_path):
    return run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "sweeps" / "h",
        progress=False,
    )


def test_a_file_name_with_path_parts_writes_nothing_outside_the_run_folder(tmp_path, png_path, emu):
    real = emu.engine  # a real MP4 to serve
    mp4 = next((p for p, _ in real.files.values() if p.suffix == ".mp4"), None)
    if mp4 is None:
        from seedance_nb.emulator.render import render_mp4

        mp4 = tmp_path / "real.mp4"
        render_mp4(
            Image.open(png_path).convert("RGB"), mp4, width=864, height=496, seconds=4, seed=1, prompt="p", audio=False
        )
    data = mp4.read_bytes()
    output = {
        "video": {
            "url": "https://cdn.test/files/x.mp4",
            "file_name": "../../evil.mp4",
            "content_type": "video/mp4",
            "file_size": len(data),
        },
        "seed": 1,
    }
    sweep = run_one(hostile(output, data), tmp_path, png_path)
    assert sweep.df["status"].tolist() == ["completed"]
    assert not list(tmp_path.rglob("evil.mp4"))
    assert Path(sweep.df["path"][0]).parent == (sweep.run_dir / "videos").resolve()


@pytest.mark.parametrize(
    ("output", "video", "headers", "error"),
    [
        (
            {"video": {"url": "https://cdn.test/files/x.mp4", "file_size": 999}, "seed": 1},
            b"short",
            {},
            "file_size=999",
        ),
        (
            {"video": {"url": "https://cdn.test/files/x.mp4"}, "seed": 1},
            b"abc",
            {"content-length": str(10**12)},
            "limit",
        ),
        (
            {"video": {"url": "https://cdn.test/files/x.mp4", "content_type": "text/html"}, "seed": 1},
            b"<html>not a video</html>",
            {},
            "not a readable video",
        ),
        ("{not json", None, {}, "not JSON"),
        ({"video": {"url": ""}}, None, {}, "url"),
    ],
)
def test_hostile_results_fail_clearly(tmp_path, png_path, output, video, headers, error):
    sweep = run_one(hostile(output, video, headers), tmp_path, png_path)
    (row,) = sweep.df.to_dict("records")
    assert row["status"] in ("failed", "interrupted") and error in row["error"], row["error"]
    assert (
        not list((tmp_path / "sweeps" / "h" / "videos").glob("*.mp4"))
        if (tmp_path / "sweeps" / "h" / "videos").exists()
        else True
    )


def test_an_unknown_status_is_a_clear_protocol_error():
    with pytest.raises(errors.ProtocolError, match="unknown request status 'FAILED'"):
        parse_status({"status": "FAILED"})


# --------------------------------------------------------------------------- load (slow)


@pytest.mark.slow
def test_emulator_under_load_of_streams_and_polls(emu, png_bytes):
    import base64
    import resource

    emu.configure(speed=0.3, slots=200, render="tiny")
    uri = "data:image/png;base64," + base64.b64encode(png_bytes).decode()

    async def go():
        limits = httpx.Limits(max_connections=400)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            subs = [
                (
                    await http.post(
                        emu.queue_url + "/bytedance/seedance-2.0/fast/image-to-video",
                        json={"prompt": f"p{i}", "image_url": uri, "duration": "15"},
                    )
                ).json()
                for i in range(200)
            ]

            async def stream(sub):
                async with http.stream("GET", sub["status_url"] + "/stream", params={"logs": "1"}) as r:
                    assert r.status_code == 200
                    async for _ in r.aiter_lines():
                        pass

            async def poll(sub):
                for _ in range(60):
                    r = await http.get(sub["status_url"])
                    if r.status_code == 200:
                        return
                    await asyncio.sleep(0.5)

            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            await asyncio.wait_for(asyncio.gather(*(stream(s) for s in subs), *(poll(s) for s in subs[:50])), 90)
            return rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    rss0, rss1 = asyncio.run(go())
    stats = emu.stats()
    assert stats["completed"] == 200 and stats["failed"] == 0
    assert rss1 - rss0 < 200 * 1024, f"memory grew by {(rss1 - rss0) / 1024:.0f} MB"


# --------------------------------------------------------------------------- two processes, one folder

_RESUMER = textwrap.dedent(
    """
    import sys, time
    from seedance_nb.client import AsyncClient
    from seedance_nb.errors import RunFolderBusy
    from seedance_nb.sweep import Sweep
    base, run_dir = sys.argv[1], sys.argv[2]
    client = AsyncClient(
        queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn", api_url=base + "/api"
    )
    try:
        sweep = Sweep.resume(run_dir, client=client, progress=False)
    except RunFolderBusy as exc:
        print("BUSY", exc, flush=True)
        sys.exit(3)
    print("DONE", sorted(set(sweep.df["status"])), flush=True)
    """
)


def _spawn(emu, run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-c", _RESUMER, emu.base_url, str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_processes_resuming_one_folder_submit_each_job_once(emu, png_path, tmp_path):
    emu.configure(speed=0.02)  # slow enough that both processes are alive at once
    sweep = Sweep.create(
        Grid(image=png_path, prompt=["a", "b", "c"], duration=[4, 5], resolution="480p"), tmp_path / "s"
    )
    sweep.close()
    first = _spawn(emu, sweep.run_dir)
    deadline = time.monotonic() + 30
    while not (sweep.run_dir / ".lock.owner").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = _spawn(emu, sweep.run_dir)
    outs = [p.communicate(timeout=120) for p in (first, second)]
    codes = sorted((first.returncode, second.returncode))
    assert codes == [0, 3], outs
    busy = next(out for out, _ in outs if out.startswith("BUSY"))
    assert f"in use by process {first.pid}" in busy and "pay" in busy
    assert emu.stats()["submissions"] == 6, "every job submitted exactly once"
    # The second process, run again once the first is done, finds nothing to do and pays for nothing.
    again = _spawn(emu, sweep.run_dir)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and "['completed']" in out, err
    assert emu.stats()["submissions"] == 6
    assert load_sweep(sweep.run_dir).df["status"].tolist() == ["completed"] * 6


def test_a_second_sweep_object_in_the_same_process_is_refused_while_the_first_runs(emu, png_path, tmp_path):
    emu.configure(speed=0.02)
    sweep = Sweep.create(Grid(image=png_path, prompt=["a", "b"], resolution="480p", duration=4), tmp_path / "w")

    async def both():
        async with AsyncClient(
            queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url
        ) as client:
            task = asyncio.ensure_future(sweep.run(client, progress=False))
            while not (sweep.run_dir / ".lock.owner").exists():
                await asyncio.sleep(0.01)
            other = load_sweep(sweep.run_dir)  # reading needs no lock
            with pytest.raises(errors.RunFolderBusy, match="only one process may submit"):
                await other.resume_async(client, progress=False)
            await task

    asyncio.run(both())
    assert emu.stats()["submissions"] == 2 and (sweep.df["status"] == "completed").all()
