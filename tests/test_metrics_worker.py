"""Metrics measured in a worker process during a run (seedance_nb.quality._worker, issue 25): the measures land
in the DataFrame, a worker that is killed costs no video and no hang, and a run leaves no process behind.
Against the emulator over loopback, with real MP4s and real worker processes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

import av
import httpx
import pytest

import seedance_nb as sd
from seedance_nb.client import AsyncClient
from seedance_nb.client._network import pooled_transport
from seedance_nb.hooks import HookChain, RunnerHooks
from seedance_nb.quality import MetricsHooks
from seedance_nb.statuses import JobStatus
from seedance_nb.sweep import Grid, Sweep


@pytest.fixture(autouse=True)
def stop_with_the_run(monkeypatch):
    """These tests watch one run's workers from start to exit: none is kept for a next run (keep time 0)."""
    from seedance_nb.quality._worker import close_kept

    close_kept()  # a pool kept by an earlier test of the session is not this test's
    monkeypatch.setenv("SEEDANCE_METRICS_KEEP_SECONDS", "0")


def alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (a worker this test process started and its pool reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Watch(RunnerHooks):
    """After each download (and after the metrics hook queued it): note the metrics workers' process ids, and
    optionally kill them once, right after the first video was queued to them."""

    def __init__(self, metrics: MetricsHooks, kill_first: bool = False) -> None:
        self.metrics, self.kill_first = metrics, kill_first
        self.pids: set[int] = set()
        self.killed: list[int] = []
        self.killed_job: int | None = None

    async def after_download(self, run: Any, job: Any, path: Any) -> None:
        assert self.metrics.pool is not None
        for _ in range(500):  # the worker's process is started by the pool's thread: give it up to 5 s
            pids = self.metrics.pool.pids()
            if pids:
                break
            await asyncio.sleep(0.01)
        self.pids.update(pids)
        if self.kill_first and not self.killed:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)  # the measure it was just given is still importing its libraries
            self.killed, self.killed_job = pids, job.job


def run(client: AsyncClient, grid: Grid, run_dir: Any, hooks: list[RunnerHooks]) -> Sweep:
    async def go() -> Sweep:
        sweep = Sweep.create(grid, run_dir)
        async with client:
            await asyncio.wait_for(sweep.run(client, concurrency=2, catalog=HookChain(hooks), progress=False), 120)
        return sweep

    return asyncio.run(go())


def test_metrics_come_from_another_process_and_land_in_the_dataframe(emu, client, tmp_path, png_path):
    grid = Grid(image=png_path, prompt=["a", "b", "c"], seed=1, duration=4, resolution="480p")
    metrics = MetricsHooks()
    watch = Watch(metrics)
    sweep = run(client, grid, tmp_path / "r", [metrics, watch])
    df = sweep.df
    assert (df["status"] == JobStatus.COMPLETED).all()
    assert df["motion"].notna().all() and df["start_fidelity"].notna().all()  # measured against the input image
    assert watch.pids and os.getpid() not in watch.pids  # measured in a worker process, not in this one
    assert metrics.pool is None and not any(alive(pid) for pid in watch.pids)  # stopped and reaped at the run's end
    again = sd.load_sweep(sweep.run_dir).df  # journalled, as before
    assert again["motion"].notna().all()


def test_a_killed_worker_loses_no_video_and_the_run_ends(emu, client, tmp_path, png_path, caplog):
    grid = Grid(image=png_path, prompt=["a", "b", "c", "d"], seed=1, duration=4, resolution="480p")
    metrics = MetricsHooks(bound=1)
    watch = Watch(metrics, kill_first=True)
    with caplog.at_level(logging.WARNING, logger="seedance_nb.quality"):
        sweep = run(client, grid, tmp_path / "r", [metrics, watch])
    df = sweep.df.set_index("job")
    assert watch.killed and (df["status"] == JobStatus.COMPLETED).all()
    for path in df["path"]:  # every paid video is on disk, whole
        with av.open(str(sweep.run_dir / path)) as container:
            assert container.streams.video[0].frames > 0
    killed = watch.killed_job
    assert pd_isna(df.loc[killed, "motion"])  # the measure the dead worker held is missing ...
    assert any(f"job {killed}:" in r.getMessage() and "metrics are missing" in r.getMessage() for r in caplog.records)
    others = df.drop(index=killed)
    assert others["motion"].notna().all()  # ... and the next videos got a new worker
    assert len(watch.pids) >= 2 and not any(alive(pid) for pid in watch.pids)  # none left behind


def test_a_cancelled_run_stops_its_workers(emu, client, tmp_path, png_path):
    emu.configure(fixed_generation_time=0.3)
    grid = Grid(image=png_path, prompt=[f"p{i}" for i in range(6)], seed=1, duration=4, resolution="480p")
    metrics = MetricsHooks()
    watch = Watch(metrics)

    async def go() -> Sweep:
        sweep = Sweep.create(grid, tmp_path / "r")
        async with client:
            task = asyncio.ensure_future(sweep.run(client, concurrency=1, catalog=HookChain([metrics, watch])))
            for _ in range(1000):  # until the first video was queued to a worker (10 s at most)
                if watch.pids:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return sweep

    sweep = asyncio.run(go())
    assert watch.pids and metrics.pool is None and not any(alive(pid) for pid in watch.pids)
    assert sweep.counts().get(JobStatus.COMPLETED, 0) >= 1  # what was paid for is kept


def test_a_second_worker_starts_only_when_measures_pile_up_and_both_yield_the_cores(tmp_path):
    """One video: one worker. A pile of them: a second (the most asked for), never a third. Each worker runs at a
    lower priority than the run (nice +10), so a wave's submits and downloads get the cores first."""
    from PIL import Image

    from seedance_nb.emulator.render import render_mp4
    from seedance_nb.quality._worker import NICE, WorkerPool

    clips = []
    for seed in range(6):
        clip = tmp_path / f"{seed}.mp4"
        render_mp4(Image.new("RGB", (64, 36)), clip, width=64, height=36, seconds=1, seed=seed, prompt="p", audio=False)
        clips.append(str(clip))
    ask = {"image": None, "end_image": None, "requested": 1, "prompt": "a slow pan left"}
    pool = WorkerPool(workers=2)
    try:
        assert pool.submit({**ask, "video": clips[0]}).result(timeout=60)["frames"] > 0
        assert len(pool.pids()) == 1  # a lone video never starts a second interpreter
        futures = [pool.submit({**ask, "video": clip}) for clip in clips]
        pids = set(pool.pids())
        assert all(f.result(timeout=60)["frames"] > 0 for f in futures)
        pids |= set(pool.pids())
        assert len(pids) == 2
        if hasattr(os, "getpriority"):
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in pids} == {min(19, mine + NICE)}
    finally:
        pool.close()
    assert not any(alive(pid) for pid in pids)


@pytest.mark.skipif(not hasattr(os, "nice"), reason="Unix nice")
def test_a_worker_lowers_its_priority_before_it_imports_the_package(tmp_path):
    """The pool starts its first worker as a run's first wave of submits goes out: importing the package is 0.2 s
    of CPU, which must not take the cores from those submits. The boot lines lower the priority first: a stand-in
    package, put where the worker looks for seedance_nb, records the priority its import runs at."""
    import subprocess
    import sys

    from seedance_nb.quality._worker import _BOOT, NICE

    fake = tmp_path / "seedance_nb" / "quality"
    fake.mkdir(parents=True)
    seen = tmp_path / "priority.txt"
    (tmp_path / "seedance_nb" / "__init__.py").write_text(
        f"import os\nopen({str(seen)!r}, 'w').write(str(os.getpriority(os.PRIO_PROCESS, 0)))\n"
    )
    (fake / "__init__.py").write_text("")
    (fake / "_worker.py").write_text("def main():\n    pass\n")
    subprocess.run([sys.executable, "-c", _BOOT, str(tmp_path), str(NICE)], check=True, timeout=60)
    assert int(seen.read_text()) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE)


def test_the_next_run_in_the_same_process_reuses_the_kept_workers_which_then_expire(
    emu, client, tmp_path, png_path, monkeypatch
):
    """A kernel's second sweep measures with the first one's worker (no interpreter started again); the worker
    exits by itself once no run has used it for the keep time."""
    from seedance_nb.quality._worker import _LENDER

    monkeypatch.setenv("SEEDANCE_METRICS_KEEP_SECONDS", "3")
    seen = []
    for name in ("first", "second"):
        metrics = MetricsHooks(workers=1)
        watch = Watch(metrics)
        grid = Grid(image=png_path, prompt=[f"{name} a", f"{name} b"], seed=1, duration=4, resolution="480p")
        sweep = run(client, grid, tmp_path / name, [metrics, watch])
        assert sweep.df["motion"].notna().all() and metrics.pool is None
        seen.append(watch.pids)
    assert seen[0] == seen[1] and len(seen[0]) == 1  # the same worker measured both runs
    (pid,) = seen[0]
    assert alive(pid) and _LENDER.pool is not None  # kept after the second run ...
    for _ in range(200):  # ... and gone a little after the keep time (10 s at most)
        if not alive(pid):
            break
        time.sleep(0.05)
    assert not alive(pid) and _LENDER.pool is None


def test_the_client_keeps_httpx_default_transport_behind_a_proxy(monkeypatch):
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=8)
    assert pooled_transport(httpx.create_ssl_context(), limits) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert pooled_transport(httpx.create_ssl_context(), limits) is None  # httpx's own, which honours the proxy


def pd_isna(value: Any) -> bool:
    return value is None or value != value  # NaN is not equal to itself
