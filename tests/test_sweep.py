"""Sweeps end to end against the emulator: grids, journal, cache, budget, cancel, resume after SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from seedance_testconf import make_png

from seedance_nb import errors
from seedance_nb.client import AsyncClient
from seedance_nb.emulator import serve
from seedance_nb.media import poster, probe
from seedance_nb.runs import COLUMNS, Journal
from seedance_nb.schema import DEFAULT_ENDPOINT
from seedance_nb.sweep import Grid, Sweep, load_sweep, run_sweep, run_sweep_async, start_sweep

# --------------------------------------------------------------------------- grids (nothing sent)


def test_grid_product_takes_and_estimate(png_path):
    grid = Grid(
        image=png_path,
        prompt=["a", "b", "c"],
        duration=[4, 8],
        seed=[1, 2],
        takes=2,
        resolution="480p",
        same_seed_ok=True,
    )
    assert len(grid) == 24
    inputs = grid.inputs()
    assert {i.duration for i in inputs} == {"4", "8"} and all(i.resolution == "480p" for i in inputs)
    est = grid.estimate()
    assert est.jobs == 24 and est.usd == pytest.approx(sum(i.estimate((800, 450)).usd for i in inputs))
    preview = grid.preview()
    assert len(preview) == 24 and preview["est_cost_usd"].sum() == pytest.approx(est.usd, rel=1e-6)
    assert list(preview["take"][:2]) == [1, 2]


def test_grid_zip_and_concatenation(png_path):
    zipped = Grid(image=png_path, prompt=["a", "b"], seed=[1, 2], mode="zip")
    assert [(i.prompt, i.seed) for i in zipped.inputs()] == [("a", 1), ("b", 2)]
    both = zipped + Grid(image=png_path, prompt="c", duration=[4, 5])
    assert len(both) == 4 and both.inputs()[-1].duration == "5"
    with pytest.raises(errors.InputError, match="equal length"):
        Grid(image=png_path, prompt=["a", "b"], seed=[1], mode="zip")
    # concatenation is a real constructor: three grids at once, sum(), the images shared, not re-read
    third = Grid(image=png_path, prompt="d")
    joined = Grid.concat(zipped, Grid(image=png_path, prompt="c", duration=[4, 5]), third)
    assert [i.prompt for i in joined.inputs()] == ["a", "b", "c", "c", "d"] and joined.mode == "concat"
    assert [i.prompt for i in sum([zipped, third]).inputs()] == ["a", "b", "d"]
    assert [j.image_data for j in joined.jobs()][-1] is third.jobs()[0].image_data
    # grids for different endpoints concatenate (issue 26): each job keeps its own endpoint
    mixed = zipped + Grid(image=png_path, prompt="c", endpoint="bytedance/seedance-2.0/image-to-video")
    assert [i.endpoint for i in mixed.inputs()] == [DEFAULT_ENDPOINT] * 2 + ["bytedance/seedance-2.0/image-to-video"]
    assert mixed.axes["endpoint"] == [DEFAULT_ENDPOINT, "bytedance/seedance-2.0/image-to-video"]
    with pytest.raises(errors.InputError, match="one or more Grid"):
        Grid.concat()


def test_invalid_combinations_are_reported_all_at_once(png_path):
    with pytest.raises(errors.InputError) as info:
        Grid(image=png_path, prompt=["ok", " "], duration=[4, 99], resolution="1080p")
    text = str(info.value)
    assert set(info.value.fields) == {"prompt", "duration", "resolution"}
    assert "nothing was sent" in text and "duration=99" in text


def test_bad_images_are_refused_before_anything_runs(tmp_path):
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(make_png(200, 200))
    with pytest.raises(errors.InputError, match="at least 300"):
        Grid(image=tiny, prompt="p")
    with pytest.raises(errors.InputError, match="start image"):
        Grid(prompt="p")


# --------------------------------------------------------------------------- runs


@pytest.fixture
def run_root(tmp_path):
    return tmp_path / "sweeps"


def test_run_options_are_those_of_sweep_run_and_checked_before_anything(client, emu, png_path, run_root):
    grid = Grid(image=png_path, prompt="a", resolution="480p", duration=4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'concurency'"):
        run_sweep(grid, client=client, run_dir=run_root / "typo", concurency=2)
    with pytest.raises(errors.InputError) as info:
        run_sweep(grid, client=client, run_dir=run_root / "zero", concurrency=0)
    assert info.value.problems[0].field == "concurrency"
    assert emu.stats()["submissions"] == 0 and not run_root.exists()


def test_twelve_job_sweep_gives_twelve_probed_rows_then_a_rerun_sends_nothing(client, emu, png_path, run_root):
    grid = Grid(image=png_path, prompt=["a", "b", "c"], duration=[4, 5], seed=[1, 2], resolution="480p")
    sweep = run_sweep(grid, client=client, run_dir=run_root / "one", concurrency=4, progress=False)
    df = sweep.df
    assert len(df) == 12 and list(df["job"]) == list(range(12)) and set(COLUMNS) <= set(df.columns)
    assert (df["status"] == "completed").all()
    assert list(df["prompt"]) == [i.prompt for i in grid.inputs()]
    for row in df.itertuples():
        info = probe(row.path)
        assert (info.width, info.height, info.fps) == (864, 496, 24.0) and info.has_audio
        assert abs(info.duration - int(row.duration)) < 0.1 and Path(row.poster).is_file()
        assert row.queue_seconds >= 0 and row.generation_seconds > 0 and row.request_id
    # The runner probes and draws the poster with the file opened once: the same poster poster() draws.
    assert poster(df["path"][0], run_root / "p.jpg").read_bytes() == Path(df["poster"][0]).read_bytes()
    assert emu.stats()["submissions"] == 12

    again = run_sweep(grid, client=client, run_dir=run_root / "two", progress=False)
    assert (again.df["status"] == "cached").all() and emu.stats()["submissions"] == 12
    # The second run folder is self-contained: every cached video and poster is a file inside it, the same bytes.
    for old, new in zip(df.itertuples(), again.df.itertuples(), strict=True):
        assert Path(new.path).parent == (run_root / "two" / "videos").resolve() and Path(new.poster).is_file()
        assert Path(new.path).read_bytes() == Path(old.path).read_bytes()
        assert Path(new.poster).resolve().is_relative_to((run_root / "two").resolve())
    # A cached row keeps the original run's timings (how long the video took to make) but costs nothing now.
    assert list(again.df["generation_seconds"]) == list(df["generation_seconds"])

    forced = run_sweep(
        Grid(image=png_path, prompt="a", duration=4, seed=1, resolution="480p"),
        client=client,
        run_dir=run_root / "three",
        force=True,
        progress=False,
    )
    assert forced.df["status"].tolist() == ["completed"] and emu.stats()["submissions"] == 13


def test_budget_refusal_sends_nothing(client, emu, png_path, run_root):
    grid = Grid(image=png_path, prompt=["a", "b"], duration="auto")
    with pytest.raises(errors.BudgetExceeded) as info:
        run_sweep(grid, client=client, run_dir=run_root / "b", budget_usd=1.0)
    assert "budget of $1.00" in str(info.value) and info.value.estimate_usd > 1.0
    assert emu.stats()["http_requests"] == 0


def test_failures_do_not_stop_the_others_and_retry_skips_refusals(client, emu, png_path, run_root):
    grid = Grid(image=png_path, prompt=["fine", "a forbidden idea"], resolution="480p", duration=4)
    sweep = run_sweep(grid, client=client, run_dir=run_root / "f", progress=False)
    df = sweep.df
    assert list(df["status"]) == ["completed", "failed"]
    assert df["error_type"][1] == "content_policy_violation" and "moderation" in df["error"][1]
    sweep.retry_failed(client=client, progress=False)
    assert emu.stats()["submissions"] == 2, "an input refusal is not retried"


def test_output_moderation_is_retried(client, emu, png_path, run_root):
    emu.configure(rate_moderation=1.0)
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=run_root / "m",
        progress=False,
    )
    assert sweep.df["status"][0] == "failed"
    emu.configure(rate_moderation=0.0)
    sweep.retry_failed(client=client, progress=False)
    assert sweep.df["status"][0] == "completed" and emu.stats()["submissions"] == 2


def test_cancel_leaves_nothing_running_and_journals_cancelled(client, emu, png_path, run_root):
    emu.configure(speed=1.0, slots=2)
    grid = Grid(image=png_path, prompt=["a", "b", "c", "d"], resolution="480p", duration=4)

    async def go():
        sweep = start_sweep(grid, client=client, run_dir=run_root / "c", concurrency=4)
        while sum(j.request_id is not None for j in sweep.jobs) < 4:
            await asyncio.sleep(0.01)
        sweep.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweep.task
        await client.aclose()
        return sweep

    sweep = asyncio.run(go())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and (emu.stats()["queued"] or emu.stats()["running"]):
        time.sleep(0.02)
    assert emu.stats()["queued"] == 0 and emu.stats()["running"] == 0, (
        emu.stats(),
        [(j.id[:8], j.state, j.error_type) for j in emu.engine.jobs.values()],
        sweep.df[["status", "request_id", "error"]].to_dict("records"),
    )
    assert set(sweep.df["status"]) == {"cancelled"}
    journal = Journal.read(sweep.run_dir / "journal.jsonl")
    assert sum(e["event"] == "cancelled" for e in journal) == 4
    assert set(load_sweep(sweep.run_dir).df["status"]) == {"cancelled"}


def test_a_removed_listener_is_not_called_again(png_path, run_root):
    sweep = Sweep.create(Grid(image=png_path, prompt="p", resolution="480p", duration=4), run_root / "l")
    calls = []

    def listen(_sweep, job):
        calls.append(job.job)

    sweep.add_listener(listen)
    sweep.rate(0, rating=4)
    sweep.remove_listener(listen)
    sweep.remove_listener(listen)  # a second time changes nothing
    sweep.rate(0, rating=5)
    assert calls == [0]
    assert Sweep.load(sweep.run_dir).df["rating"].tolist() == [5]


def test_sync_wrapper_inside_a_running_loop(client, png_path, run_root):
    async def notebook_cell():
        # A Jupyter cell calling the sync helper while the kernel's loop runs.
        return run_sweep(
            Grid(image=png_path, prompt="p", resolution="480p", duration=4),
            client=client,
            run_dir=run_root / "s",
            progress=False,
        )

    assert asyncio.run(notebook_cell()).df["status"].tolist() == ["completed"]


def test_awaiting_in_a_cell_and_rating(client, png_path, run_root):
    async def cell():
        async with client:
            return await run_sweep_async(
                Grid(image=png_path, prompt=["p", "q"], resolution="480p", duration=4),
                client=client,
                run_dir=run_root / "r",
                progress=False,
            )

    sweep = asyncio.run(cell())
    sweep.rate(1, rating=5, note="best <one>")
    sweep.close()
    loaded = load_sweep(sweep.run_dir)
    assert loaded.df["rating"].tolist()[1] == 5 and loaded.df["notes"].tolist()[1] == "best <one>"
    assert loaded.df.drop(columns=["rating", "notes"]).equals(sweep.df.drop(columns=["rating", "notes"]))


def test_a_large_image_shared_by_jobs_is_uploaded_once(client, emu, tmp_path, run_root):
    noise = Image.frombytes("RGB", (640, 400), os.urandom(640 * 400 * 3))
    big = tmp_path / "big.png"
    noise.save(big)
    assert big.stat().st_size > 512 * 1024
    grid = Grid(image=big, prompt=["a", "b", "c"], resolution="480p", duration=4)
    sweep = run_sweep(grid, client=client, run_dir=run_root / "up", concurrency=3, progress=False)
    assert sweep.df["status"].tolist() == ["completed"] * 3
    requests = emu.stats()["requests"]
    assert requests.get("cdn_upload") == 1 and requests.get("storage_token") == 1, requests
    # One upload served all three jobs (each read the image from the emulator's CDN by URL).
    assert emu.stats()["submissions"] == 3


def test_a_small_shared_image_stays_inline(client, emu, png_path, run_root):
    run_sweep(
        Grid(image=png_path, prompt=["a", "b"], resolution="480p", duration=4),
        client=client,
        run_dir=run_root / "inline",
        progress=False,
    )
    assert "cdn_upload" not in emu.stats()["requests"]


class HeldDownloads(AsyncClient):
    """Our own client with each download held until the test lets it go (the emulator is real)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.started = 0

    async def download(self, url, dest, *, expected_size=None):
        self.started += 1
        await self.release.wait()
        return await super().download(url, dest, expected_size=expected_size)


def test_a_download_does_not_hold_the_slot(emu, png_path, run_root):
    grid = Grid(image=png_path, prompt=["a", "b"], resolution="480p", duration=4)

    async def go():
        async with HeldDownloads(
            queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url
        ) as client:
            sweep = start_sweep(grid, client=client, run_dir=run_root / "slot", concurrency=1, progress=False)
            # With one slot, the second job is submitted while the first one's download is still held.
            deadline = time.monotonic() + 120  # generous: the first job renders first (a loaded machine is slow)
            while sweep.jobs[1].request_id is None:
                assert time.monotonic() < deadline, "the second job waited for the first one's download"
                assert not sweep.task.done(), sweep.df[["status", "error"]]
                await asyncio.sleep(0.01)
            while client.started == 0:  # the slot frees when fal says COMPLETED, a moment before the fetch begins
                assert time.monotonic() < deadline and not sweep.task.done()
                await asyncio.sleep(0.01)
            assert sweep.jobs[0].status == "downloading" and client.started == 1
            assert sweep.jobs[1].request_id is not None  # submitted while the first video is still held
            client.release.set()
            return await sweep.task

    sweep = asyncio.run(go())
    assert sweep.df["status"].tolist() == ["completed", "completed"]
    assert emu.stats()["submissions"] == 2


def test_cancel_while_downloading_keeps_the_paid_video_for_resume(emu, png_path, run_root):
    grid = Grid(image=png_path, prompt="a", resolution="480p", duration=4)

    async def go():
        async with HeldDownloads(
            queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url
        ) as client:
            sweep = start_sweep(grid, client=client, run_dir=run_root / "dl", progress=False)
            while client.started == 0:
                await asyncio.sleep(0.01)
            sweep.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sweep.task
            return sweep

    sweep = asyncio.run(go())
    row = load_sweep(sweep.run_dir).df.iloc[0]
    assert row["status"] == "interrupted" and "resume()" in row["error"]
    resumed = Sweep.resume(
        sweep.run_dir,
        client=AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url),
        progress=False,
    )
    assert resumed.df["status"].tolist() == ["completed"]
    assert probe(sweep.run_dir / resumed.df["path"][0]).width == 864
    assert emu.stats()["submissions"] == 1, "the paid request was fetched again, not submitted again"


# --------------------------------------------------------------------------- crash and resume

CHILD = textwrap.dedent(
    """
    import sys
    from seedance_nb.client import AsyncClient
    from seedance_nb.sweep import Grid, run_sweep
    base, run_dir, image = sys.argv[1:4]
    client = AsyncClient(queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn")
    grid = Grid(image=image, prompt=["a", "b", "c"], seed=[1, 2], resolution="480p", duration=4)
    run_sweep(grid, client=client, run_dir=run_dir, concurrency=2, progress=False)
    """
)


def _events(run_dir: Path) -> list[dict]:
    return Journal.read(run_dir / "journal.jsonl")


def _no_submit_in_flight(ev: list[dict]) -> bool:
    """Every POST sent so far has its request id journalled. (fal has no idempotency key, so a kill
    between sending a submit and reading its id is the one moment that can cost a second submission:
    resume warns about it; the test accounts for it below rather than hiding it.)"""
    return sum(e["event"] == "submitting" for e in ev) == sum(e["event"] == "submitted" for e in ev)


MOMENTS = {
    # between two submissions, more jobs still to submit
    "submitting": lambda ev: 2 <= sum(e["event"] == "submitted" for e in ev) < 6 and _no_submit_in_flight(ev),
    "waiting": lambda ev: any(e["event"] == "started" for e in ev) and _no_submit_in_flight(ev),
    # a result is read (its slot already submits the next job) and its video is downloading
    "downloading": lambda ev: any(e["event"] == "result" for e in ev) and _no_submit_in_flight(ev),
}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_sigkill_then_resume_pays_once_per_job(png_path, tmp_path, moment):
    run_dir = tmp_path / "sweeps" / "crash"
    with serve(slots=2, speed=0.08, queue_latency=1.0) as emu:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, emu.base_url, str(run_dir), str(png_path)], stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if MOMENTS[moment](_events(run_dir)):
                break
            time.sleep(0.005)
        assert child.poll() is None, "the sweep finished before the kill: make it slower"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        before = load_sweep(run_dir)
        assert not before.done
        # Killed between our check and the kill, a submit may have left without its id being journalled.
        ambiguous = sum(job.status == "submitting" for job in before.jobs)
        assert ambiguous <= 2
        client = AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)
        resumed = Sweep.resume(run_dir, client=client, progress=False)
        df = resumed.df
        assert (df["status"] == "completed").all(), df[["status", "error"]]
        assert emu.stats()["submissions"] == 6 + ambiguous, "one submission per job (and per unjournalled POST)"
        assert len(set(df["request_id"])) == 6
        for path in df["path"]:
            assert probe(path).frames == 97
        assert not list(run_dir.glob("videos/*.part"))


def _cut_off(sweep, client, *, reached_fal: bool):
    """What a kill between sending the POST and journalling its id leaves behind: a ``submitting`` line
    (with the digest of what was sent), and on fal either the request or nothing."""
    import asyncio

    from seedance_nb.sweep import field_digests

    job = sweep.jobs[0]
    sweep._record(job, "submitting", digest=field_digests(job.input.to_payload()))
    if reached_fal:

        async def send():
            async with client:
                return (await client.submit(job.input)).request_id

        request_id = asyncio.run(send())
    sweep.close()
    return request_id if reached_fal else None


def test_a_submit_cut_off_that_never_reached_fal_is_proven_absent_then_sent(client, emu, png_path, run_root, caplog):
    sweep = Sweep.create(Grid(image=png_path, prompt="cut p", resolution="480p", duration=4), run_root / "cut")
    _cut_off(sweep, client, reached_fal=False)
    with caplog.at_level("INFO", logger="seedance_nb"):
        done = Sweep.resume(sweep.run_dir, client=client, progress=False)
    assert done.df["status"].tolist() == ["completed"]
    assert emu.stats()["submissions"] == 1 and emu.stats()["requests"]["history"] >= 1
    assert "history shows its earlier submit never arrived" in caplog.text


def test_a_submit_cut_off_after_fal_queued_it_is_settled_not_paid_twice(client, emu, png_path, run_root, caplog):
    sweep = Sweep.create(Grid(image=png_path, prompt="cut2 p", resolution="480p", duration=4), run_root / "cut2")
    request_id = _cut_off(sweep, client, reached_fal=True)
    with caplog.at_level("INFO", logger="seedance_nb"):
        done = Sweep.resume(sweep.run_dir, client=client, progress=False)
    row = done.df.iloc[0]
    assert row["status"] == "completed" and row["request_id"] == request_id and Path(row["path"]).is_file()
    assert emu.stats()["submissions"] == 1, "settled through fal's history, never submitted again"
    assert "settled through fal's history" in caplog.text


def test_an_unsettleable_submit_stays_unknown_until_the_user_says_resubmit(emu, png_path, run_root, caplog):
    # fal's history unreachable (a closed port): nobody can tell whether the submit arrived.
    import socket

    from seedance_nb.client import AsyncClient
    from seedance_nb.retry import RetryPolicy

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused at once
    blind = AsyncClient(
        queue_url=emu.queue_url,
        rest_url=emu.rest_url,
        cdn_url=emu.cdn_url,
        api_url=f"http://127.0.0.1:{closed.getsockname()[1]}",
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
    )
    sweep = Sweep.create(Grid(image=png_path, prompt="blind p", resolution="480p", duration=4), run_root / "blind")
    _cut_off(sweep, blind, reached_fal=False)
    with caplog.at_level("WARNING", logger="seedance_nb"):
        kept = Sweep.resume(sweep.run_dir, client=blind, progress=False)
    assert kept.df["status"].tolist() == ["unknown"] and emu.stats()["submissions"] == 0
    assert "resubmit_unknown=True" in caplog.text
    with caplog.at_level("WARNING", logger="seedance_nb"):
        sent = Sweep.resume(sweep.run_dir, client=blind, progress=False, resubmit_unknown=True)
    assert sent.df["status"].tolist() == ["completed"] and emu.stats()["submissions"] == 1
    assert "may pay twice (up to $0.45)" in caplog.text
    closed.close()


def test_a_half_written_video_is_never_taken_for_a_finished_one(client, png_path, run_root):
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=run_root / "h",
        progress=False,
    )
    video = Path(sweep.df["path"][0])
    video.unlink()
    (video.parent / (video.name + ".part")).write_bytes(b"half")
    reloaded = load_sweep(sweep.run_dir)
    assert reloaded.jobs[0].status == "downloading"
    done = Sweep.resume(sweep.run_dir, client=client, progress=False)
    assert done.df["status"][0] == "completed" and probe(done.df["path"][0]).frames == 97


# --------------------------------------------------------------------------- the CLI


def test_cli_demo_writes_run_folder_and_report(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "seedance_nb.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "8/8 videos" in proc.stdout and (out / "report.html").is_file()
    assert len(list((out / "videos").glob("*.mp4"))) == 8
    rep = subprocess.run(
        [sys.executable, "-m", "seedance_nb.cli", "report", str(out), "--out", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rep.returncode == 0 and (tmp_path / "r.html").stat().st_size > 1000


def test_cli_usage_errors_name_the_option(tmp_path, png_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seedance_nb.cli",
            "sweep",
            "--image",
            str(png_path),
            "--prompt",
            "p",
            "--duration",
            "99",
            "--emulator",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "duration" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "seedance_nb.cli", "sweep", "--prompt", "p"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--image" in proc.stderr


def test_journal_lines_are_json_and_hold_no_data_uris(client, png_path, run_root):
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=run_root / "j",
        progress=False,
    )
    text = (sweep.run_dir / "journal.jsonl").read_text()
    assert "data:image" not in text and all(json.loads(line) for line in text.splitlines())
    assert (sweep.run_dir / "inputs").is_dir() and len(list((sweep.run_dir / "inputs").iterdir())) == 1


def test_the_runner_takes_a_client_and_never_chooses_one(png_path, run_root, emu):
    """Sweep.run sends through the client it is given; only the entry points pick a default (backends)."""
    sweep = Sweep.create(Grid(image=png_path, prompt="a", resolution="480p", duration=4), run_root / "no-client")
    with pytest.raises(TypeError, match="needs a client"):
        asyncio.run(sweep.run(None))  # type: ignore[arg-type]
    assert emu.stats()["submissions"] == 0 and sweep.df["status"].tolist() == ["planned"]

    async def go() -> None:
        urls = {"queue_url": emu.queue_url, "rest_url": emu.rest_url, "cdn_url": emu.cdn_url, "api_url": emu.api_url}
        async with AsyncClient(**urls) as client:
            await sweep.run(client, progress=False)

    asyncio.run(go())
    assert sweep.df["status"].tolist() == ["completed"] and emu.stats()["submissions"] == 1
    sweep.close()
