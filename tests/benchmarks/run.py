"""seedance-nb benchmarks, measured side by side in one run (ratios; this machine is shared and noisy).

Run:  .venv/bin/python -m tests.benchmarks.run        (writes tests/benchmarks/RESULTS.md)

Not part of the default test run. The emulator runs in a subprocess so the client's CPU is measured alone.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from PIL import Image

from seedance_nb.client import AsyncClient
from seedance_nb.sweep import Grid, run_sweep_async

HERE = Path(__file__).resolve().parent
ENDPOINT = "bytedance/seedance-2.0/fast/image-to-video"
ROWS: list[tuple[str, str, str, str]] = []  # (measurement, figure, target, met)


def row(name: str, figure: str, target: str = "", met: str = "") -> None:
    ROWS.append((name, figure, target, met))
    print(f"{name:<58} {figure:<34} {target:<28} {met}", flush=True)


class Emulator:
    """The emulator in its own process, configured over HTTP."""

    def __init__(self, **config: object) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seedance_nb.emulator", "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        self.base = self.proc.stdout.readline().split()[-1]
        self.queue, self.rest, self.cdn = self.base + "/queue", self.base + "/rest", self.base + "/cdn"
        self.configure(**config)

    def configure(self, **config: object) -> None:
        httpx.post(self.base + "/_emulator/config", json=config).raise_for_status()

    def stats(self) -> dict:
        return httpx.get(self.base + "/_emulator/stats").json()

    def reset(self) -> None:
        httpx.post(self.base + "/_emulator/reset").raise_for_status()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.proc.stdout.close()


def small_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 360), (200, 120, 40)).save(buf, "PNG")
    return buf.getvalue()


def queue_requests(stats: dict) -> int:
    return sum(v for k, v in stats["requests"].items() if k in ("submit", "status", "stream", "result", "cancel"))


async def ours(emu: Emulator, n: int, c: int, image: bytes, run_dir: Path, download: bool) -> float:
    client = AsyncClient(queue_url=emu.queue, rest_url=emu.rest, cdn_url=emu.cdn)
    grid = Grid(image=image, prompt=[f"p{i}" for i in range(n)], resolution="480p", duration=4)
    started = time.perf_counter()
    async with client:
        await run_sweep_async(grid, client=client, run_dir=run_dir, concurrency=c, download=download, progress=False)
    return time.perf_counter() - started


async def theirs(emu: Emulator, n: int, c: int, image: bytes) -> float:
    import fal_client
    import fal_client.client as fc

    fc.QUEUE_URL_FORMAT, fc.RUN_URL_FORMAT = emu.queue + "/", emu.base + "/run/"
    fc.REST_URL, fc.CDN_URL = emu.rest, emu.cdn
    os.environ["FAL_KEY"] = "bench-id:bench-secret"
    client = fal_client.AsyncClient()
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    sem = asyncio.Semaphore(c)

    async def one(i: int) -> dict:
        async with sem:
            return await client.subscribe(
                ENDPOINT, {"prompt": f"q{i}", "image_url": uri, "resolution": "480p", "duration": "4"}
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def overhead(tmp: Path) -> None:
    n, c, latency = 64, 8, 0.5
    ideal = math.ceil(n / c) * latency
    emu = Emulator(slots=c, speed=1.0, queue_latency=0.0, fixed_generation_time=latency, render="tiny")
    image = small_png()
    try:
        results = {}
        for name, make in (
            ("seedance-nb (no download)", lambda: ours(emu, n, c, image, tmp / "sweeps" / "a", False)),
            ("fal-client subscribe_async", lambda: theirs(emu, n, c, image)),
            ("seedance-nb (with download)", lambda: ours(emu, n, c, image, tmp / "sweeps" / "b", True)),
        ):
            emu.reset()
            cpu0 = cpu()
            wall = asyncio.run(make())
            spent = cpu() - cpu0
            stats = emu.stats()
            results[name] = wall
            per_job = queue_requests(stats) / n
            row(
                f"overhead: {name}, {n} jobs, {c} slots, L={latency}s",
                f"wall/ideal {wall / ideal:.3f}",
                "<= 1.05",
                "yes" if wall / ideal <= 1.05 else "NO",
            )
            row(
                f"  queue HTTP requests per job ({name})",
                f"{per_job:.2f} (+{stats['requests'].get('cdn_get', 0) / n:.2f} download)",
                "<= 4 (download excluded)",
                "yes" if per_job <= 4 else "NO",
            )
            row(f"  client CPU seconds per job ({name})", f"{spent / n * 1000:.1f} ms")
        ratio = results["seedance-nb (no download)"] / results["fal-client subscribe_async"]
        row("overhead: seedance-nb wall / fal-client wall", f"{ratio:.3f}", "<= 1.0", "yes" if ratio <= 1.0 else "NO")

        emu.reset()
        started = time.perf_counter()
        asyncio.run(ours(emu, n, c, image, tmp / "sweeps" / "c", True))
        rerun = time.perf_counter() - started
        stats = emu.stats()
        row(
            "cached re-run of the same sweep: queue requests",
            str(queue_requests(stats)),
            "0",
            "yes" if queue_requests(stats) == 0 else "NO",
        )
        row("cached re-run: wall time", f"{rerun:.2f} s (first run {results['seedance-nb (with download)']:.2f} s)")
    finally:
        emu.close()


def notebook_bytes(tmp: Path) -> None:
    import warnings

    from seedance_nb.display import LargeOutputWarning, grid_html

    emu = Emulator(slots=8, speed=0.0)
    try:
        image = small_png()
        grid = Grid(image=image, prompt=[f"p{i}" for i in range(6)], seed=[1, 2, 3, 4], resolution="480p", duration=4)

        async def go():
            client = AsyncClient(queue_url=emu.queue, rest_url=emu.rest, cdn_url=emu.cdn)
            async with client:
                return await run_sweep_async(grid, client=client, run_dir=tmp / "nb" / "g", progress=False)

        sweep = asyncio.run(go())
        by_ref = len(grid_html(sweep.df, rows="prompt", cols="seed").encode())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LargeOutputWarning)
            embedded = len(grid_html(sweep.df, rows="prompt", cols="seed", embed=True).encode())
        row(
            "notebook output, 24-video grid by reference",
            f"{by_ref / 1024:.1f} KB",
            "< 50 KB",
            "yes" if by_ref < 50 * 1024 else "NO",
        )
        row("notebook output, 24-video grid embedded", f"{embedded / 1024 / 1024:.1f} MB ({embedded / by_ref:.0f}x)")
    finally:
        emu.close()


def render_speed(tmp: Path) -> None:
    from seedance_nb.emulator.render import render_mp4

    img = Image.open(io.BytesIO(small_png())).convert("RGB")
    for resolution, size in (("480p", (864, 496)), ("720p", (1280, 720))):
        times = []
        for i in range(3):
            started = time.perf_counter()
            render_mp4(img, tmp / f"r{i}.mp4", width=size[0], height=size[1], seconds=5, seed=i, prompt="p", audio=True)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        target = "< 1 s" if resolution == "480p" else ""
        row(
            f"render a 5 s {resolution} clip with audio (median of 3)",
            f"{median:.2f} s",
            target,
            ("yes" if median < 1 else "NO") if target else "",
        )


def status_rate() -> None:
    emu = Emulator(slots=1, speed=1000.0)
    try:
        sub = httpx.post(emu.queue + "/" + ENDPOINT, json={"prompt": "p", "image_url": "https://x/a.png"}).json()

        async def go() -> float:
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32)) as http:
                sem = asyncio.Semaphore(32)

                async def one() -> None:
                    async with sem:
                        (await http.get(sub["status_url"])).raise_for_status()

                started = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(3000)))
                return 3000 / (time.perf_counter() - started)

        rate = asyncio.run(go())
        row("emulator status requests answered per second", f"{rate:.0f}/s", "> 500/s", "yes" if rate > 500 else "NO")
    finally:
        emu.close()


def scale(tmp: Path) -> None:
    n = 1000
    emu = Emulator(slots=n, speed=1.0, queue_latency=0.0, fixed_generation_time=0.5, render="tiny")
    try:
        image = small_png()
        cpu0, rss0 = cpu(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall = asyncio.run(ours(emu, n, n, image, tmp / "scale" / "s", False))
        stats = emu.stats()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ok = stats["completed"] == n
        row(
            f"scale: {n} concurrent jobs, one process",
            f"{stats['completed']}/{n} done in {wall:.1f} s",
            "all complete",
            "yes" if ok else "NO",
        )
        row("  client peak RSS / CPU", f"{rss / 1024:.0f} MB (was {rss0 / 1024:.0f}) / {cpu() - cpu0:.1f} s")
    finally:
        emu.close()


DOWNLOAD_CHILD = """
import asyncio, resource, sys, httpx
from seedance_nb.media import download
async def go():
    async with httpx.AsyncClient() as http:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await download(http, sys.argv[1], sys.argv[2])
        print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
asyncio.run(go())
"""


def download_memory(tmp: Path) -> None:
    from seedance_nb.emulator import serve

    size = 200 * 1024 * 1024
    with serve() as emu:
        path = emu.storage / "files" / "big.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            chunk = os.urandom(1024 * 1024)
            for _ in range(200):
                fh.write(chunk)
        emu.engine.files["big.bin"] = (path, "application/octet-stream")
        out = subprocess.run(
            [sys.executable, "-c", DOWNLOAD_CHILD, emu.cdn_url + "/files/big.bin", str(tmp / "big.bin")],
            capture_output=True,
            text=True,
            check=True,
        )
        before, after = (int(x) for x in out.stdout.split())
        assert (tmp / "big.bin").stat().st_size == size
    growth = (after - before) / 1024
    row(
        "download 200 MB: peak RSS growth of the downloading process",
        f"{growth:.0f} MB",
        "flat (< 20 MB)",
        "yes" if growth < 20 else "NO",
    )


NOTES = """## Where a target is missed, and why

- **Overhead vs the ideal (target 5 %).** Within about half a point of it without downloads, further with
  them. With concurrency equal to the slots, a slot only refills after the client has seen COMPLETED,
  fetched the result (and, with downloads, fetched and probed the video) and sent the next submit: one
  loopback round trip per turnover, eight turnovers per slot here, and the journal's fsyncs sit on that path.
  fal-client, with the same semaphore, pays the same turnover plus its 0.1 s polling, so it is further from the
  ideal; seedance-nb is faster in the same run. Not done yet: keep one extra job submitted per slot so the
  server's queue never drains between turnovers (it would also cost a cancel more on Ctrl-C).
- **Requests per job.** Counted as queue requests (submit, status stream or polls, result, cancel); the
  video download is shown separately. fal-client polls every 0.1 s, so its count grows with the job's length.
- **Scale.** The 1,000-job run uses `render="tiny"`; the client's peak RSS is the process peak, which earlier
  measurements in the same process had already reached.
"""


def main() -> None:
    print(f"{'measurement':<58} {'figure':<34} {'target':<28} met")
    with tempfile.TemporaryDirectory(prefix="seedance-bench-") as tmp_name:
        tmp = Path(tmp_name)
        overhead(tmp)
        notebook_bytes(tmp)
        render_speed(tmp)
        status_rate()
        download_memory(tmp)
        scale(tmp)
    lines = [
        "# Benchmark results",
        "",
        f"Run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}, with `.venv/bin/python -m tests.benchmarks.run`. The machine is shared: compare "
        "the ratios within this run, not absolute times across runs. The emulator ran in its own process "
        '(`render="tiny"` where the queue, not the encoder, is measured).',
        "",
        "| measurement | figure | target | met |",
        "| --- | --- | --- | --- |",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in ROWS),
        "",
        NOTES,
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"\nwrote {HERE / 'RESULTS.md'}")
    print(json.dumps({"rows": len(ROWS)}))


if __name__ == "__main__":
    main()
