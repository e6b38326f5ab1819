"""The runner with download and metrics on (issue 25, "Speed"): wall over the ideal at concurrency C with a fixed
generation time L, and the CPU the client process spends per job, apart from the metrics workers' CPU.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.speed_bench

It prints a table and writes it into ``tests/benchmarks/RESULTS.md`` between the ``speed`` markers (the other
sections are kept). Takes about a minute on 2 cores. ``--smoke`` runs each case once at a small size (L = 0.3 s,
two waves) and writes nothing: CI's check that the script runs.

Setup, and what each figure means:

- The emulator runs in its own process (``python -m seedance_nb.emulator --port 0``, :class:`EmulatorProcess`),
  with C slots, ``fixed_generation_time`` = L, ``queue_latency`` = 0 and ``render="tiny"`` (a 64x36 one-second
  MP4 whatever is asked: at C = 40 a full 480p render per job would take the emulator's 2 cores longer than L,
  and the figure would measure the emulator). The grid asks 480p, duration 4.
- The client (``run_sweep_async`` with ``download=True, metrics=True``) runs alone in a child process of its
  own, so that its CPU (``getrusage(RUSAGE_SELF)``, user + system, over the run only) is the client's and
  nobody else's. Imports are paid first, as in a kernel that has run a sweep before: the child imports the
  package and runs a one-job warm-up sweep (metrics off, its own folder) before the timed run, which then
  starts its metrics worker itself (that start is in the workers' CPU). The metrics workers are that child's
  own children: their CPU is ``getrusage(RUSAGE_CHILDREN)`` over the run (the workers kept for a next run are
  stopped and reaped right after the wall is taken, so their CPU is counted), reported separately. Metrics
  measured in a thread of the client (before issue 25) counted as client CPU.
- ideal = ceil(N / C) x L + queue latency (0 here): every slot starts its next job the instant the last ends and
  nothing else takes time. wall = from the call of ``run_sweep_async`` to its return, metrics included (the run
  waits for the last clips' measures). "last video" is when the last job was downloaded; the rest of the wall is
  the metrics tail and the run's end.
- Before the runs, :func:`claims_at_once`: a wave's claims from 6 threads of one process on one per-user store,
  with and without :func:`seedance_nb._sqlite.writer_lock` (the slowest job is what delays a wave's last submit).
"""

from __future__ import annotations

import asyncio
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

from tests.benchmarks.common import fresh_home, smoke
from tests.benchmarks.results import write_section
from tests.benchmarks.run import EmulatorProcess, png

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"
CHILD = "--client-child"
#: (C, N): concurrency and jobs, three waves each; L: fixed generation time; REPEATS: runs per case (median).
CASES, L, REPEATS = [(8, 24), (40, 120)], 3.0, 3
TARGETS = {8: 1.05, 40: 1.03}
CPU_TARGET_MS = 20.0
ROWS: list[tuple[str, str, str, str]] = []
NOTES: list[str] = []


def use_smoke_sizes() -> None:
    """Each case once, small (CI's smoke run): seconds, not minutes; the figures mean nothing."""
    global CASES, L, REPEATS
    CASES, L, REPEATS = [(4, 8)], 0.3, 1


def row(name: str, figure: str, target: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("yes" if met else "**NO**")
    ROWS.append((name, figure, target, verdict))
    print(f"{name:<58} {figure:<70} {target:<10} {verdict.strip('*')}", flush=True)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def client_child(base: str, run_dir: str, concurrency: str, jobs: str, tag: str) -> None:
    """One run of the client, alone in this process; prints its figures as JSON on the last line."""
    import seedance_nb.media  # noqa: F401  (imports paid before timing, as in a long-lived kernel)
    import seedance_nb.quality  # noqa: F401
    from seedance_nb.client import AsyncClient
    from seedance_nb.quality._worker import close_kept
    from seedance_nb.statuses import JobStatus
    from seedance_nb.sweep import Grid, run_sweep_async

    n, c = int(jobs), int(concurrency)
    grid = Grid(image=png(), prompt=[f"{tag} p{i}" for i in range(n)], resolution="480p", duration=4)
    done: dict[int, float] = {}

    def on_update(_sweep: object, job: object) -> None:
        if getattr(job, "status", None) == JobStatus.COMPLETED and job.job not in done:  # type: ignore[attr-defined]
            done[job.job] = time.perf_counter()  # type: ignore[attr-defined]

    async def go() -> object:
        client = AsyncClient(queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn")
        async with client:
            return await run_sweep_async(
                grid, client=client, run_dir=Path(run_dir), concurrency=c, download=True, metrics=True,
                on_update=on_update, progress=False,
            )  # fmt: skip

    async def warm_up() -> None:
        """One job, metrics off, in a folder of its own: what a kernel that ran a sweep before has imported
        (the run folder's lock, the claims' SQLite dialect, httpcore's sync primitives) is imported here."""
        client = AsyncClient(queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn")
        async with client:
            warm = Grid(image=png(), prompt=f"{tag} warm-up", resolution="480p", duration=4)
            await run_sweep_async(warm, client=client, run_dir=Path(run_dir + "-warm"), metrics=False, progress=False)

    asyncio.run(warm_up())
    cpu0, kids0, started = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    sweep = asyncio.run(go())
    wall = time.perf_counter() - started
    cpu = _cpu(resource.RUSAGE_SELF) - cpu0
    close_kept()  # the workers kept for a next run (60 s by default): stopped and reaped, so their CPU is counted
    kids = _cpu(resource.RUSAGE_CHILDREN) - kids0
    df = sweep.df  # type: ignore[attr-defined]
    print(
        json.dumps(
            {
                "wall": wall,
                "last_video": max(done.values()) - started if done else None,
                "cpu": cpu,
                "workers_cpu": kids,
                "completed": int((df["status"] == "completed").sum()),
                "measured": int(df["motion"].notna().sum()),
            }
        )
    )


def one_run(emu: EmulatorProcess, tmp: Path, c: int, n: int, tag: str) -> dict:
    emu.reset()
    emu_cpu0 = emu.cpu()
    child = [sys.executable, "-m", "tests.benchmarks.speed_bench", CHILD, emu.base, str(tmp / tag / "run"), str(c)]
    with fresh_home(tmp / tag):  # the child's own per-user cache (it inherits the environment)
        out = subprocess.run([*child, str(n), tag], capture_output=True, text=True, cwd=ROOT, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"the client failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["emu_cpu"] = (emu.cpu() - emu_cpu0) * n / (n + 1)  # the child's warm-up job is one of n + 1
    if res["completed"] != n or res["measured"] != n:
        raise RuntimeError(f"{tag}: {res['completed']} of {n} completed, {res['measured']} measured")
    return res


def case(tmp: Path, c: int, n: int) -> None:
    ideal = math.ceil(n / c) * L
    config = dict(slots=c, speed=1.0, queue_latency=0.0, fixed_generation_time=L, render="tiny")
    runs = []
    with EmulatorProcess(**config) as emu:
        for r in range(REPEATS):
            runs.append(one_run(emu, tmp, c, n, f"c{c}-r{r}"))
            print(f"  C={c} run {r + 1}/{REPEATS}: wall / ideal {runs[-1]['wall'] / ideal:.3f}", flush=True)
    ratios = [run["wall"] / ideal for run in runs]
    ratio = statistics.median(ratios)
    target = TARGETS.get(c, 1.05)
    middle = sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]
    row(
        f"C = {c}, {n} jobs, L = {L:g} s: wall / ideal ({ideal:g} s)",
        f"{ratio:.3f} (runs {', '.join(f'{x:.3f}' for x in ratios)}); last video at "
        f"{middle['last_video'] / ideal:.3f} of the ideal (middle run)",
        f"<= {target:g}",
        ratio <= target,
    )
    per_run = [run["cpu"] / n * 1000 for run in runs]
    cpu = statistics.median(per_run)
    row(
        "    client process CPU per job (download + metrics on)",
        f"{cpu:.1f} ms (runs {', '.join(f'{x:.1f}' for x in per_run)})",
        f"<= {CPU_TARGET_MS:g} ms",
        cpu <= CPU_TARGET_MS,
    )
    workers = statistics.median(run["workers_cpu"] / n * 1000 for run in runs)
    emu_cpu = statistics.median(run["emu_cpu"] / n * 1000 for run in runs)
    row(
        "    metrics workers' CPU per job / emulator's CPU per job",
        f"{workers:.1f} ms ({statistics.median(run['workers_cpu'] for run in runs):.2f} s a run, worker start "
        f"included) / {emu_cpu:.1f} ms",
    )
    tail = middle["wall"] - middle["last_video"]
    NOTES.append(
        f"- C = {c}: of the middle run's {middle['wall']:.2f} s, the last video was on disk at "
        f"{middle['last_video']:.2f} s ({middle['last_video'] / ideal:.3f} of the ideal: the runner's own overhead "
        f"over {math.ceil(n / c)} waves); the remaining {tail:.2f} s is measuring the last videos (queued to the "
        "worker as they arrive; the run returns when their metrics are in the journal) and stopping the worker."
    )


def claims_at_once(threads: int = 6, jobs: int = 240) -> None:
    """A wave's claims from several threads of one process (claim, then claim_submitted, as a job does) on one
    per-user store: the slowest job's wait and the whole wave's wall, with this process's writers lined up on
    :func:`seedance_nb._sqlite.writer_lock` and, for comparison, without it (SQLite's busy handler alone)."""
    import contextlib
    from concurrent.futures import ThreadPoolExecutor

    import seedance_nb.catalogs._store as store
    from seedance_nb.catalogs._claims import user_claims

    figures = {}
    for mode in ("without the lock", "with the lock"):
        with fresh_home() as home, contextlib.ExitStack() as stack:
            if mode == "without the lock":
                original = store.writer_lock
                store.writer_lock = lambda _path: contextlib.nullcontext()  # type: ignore[assignment,return-value]
                stack.callback(setattr, store, "writer_lock", original)
            claims = user_claims(home)

            def job(i: int, claims=claims, mode=mode) -> float:
                started = time.perf_counter()
                claims.claim(f"{mode} {i}", endpoint="e")
                claims.claim_submitted(f"{mode} {i}", f"r{i}")
                return time.perf_counter() - started

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(job, range(-threads, 0)))  # the threads' connections opened first
                started = time.perf_counter()
                waits = sorted(pool.map(job, range(jobs)))
                figures[mode] = (time.perf_counter() - started, waits[len(waits) // 2], waits[-1])
            claims.engine.dispose()
    row(
        f"claims from {threads} threads at once ({jobs} jobs): slowest job / median / wave",
        "; ".join(
            f"{mode}: {top * 1000:.0f} / {mid * 1000:.1f} ms / {wall:.2f} s"
            for mode, (wall, mid, top) in figures.items()
        ),
    )


def write_results(elapsed: float, loads: list[float]) -> None:
    facts = [
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; `nproc` = {os.cpu_count()}, shared with other work "
        f"(1-minute load average {loads[0]:.1f} at the start, {loads[-1]:.1f} at the end)",
        f"Command: `.venv/bin/python -m tests.benchmarks.speed_bench` (took {elapsed:.0f} s); Python "
        f"{sys.version.split()[0]}",
        "Setup: the emulator in its own process (C slots, fixed_generation_time = L, queue_latency = 0, "
        'render="tiny": a 64x36 one-second clip for the 480p duration-4 grid); the client alone in a child '
        "process, `download=True, metrics=True`, a fresh SEEDANCE_HOME per run, after a one-job warm-up sweep "
        "(metrics off) in that process, as in a kernel that has run a sweep before (imports paid); ideal = "
        "ceil(N / C) x L. Client CPU is `getrusage(RUSAGE_SELF)` of the client's process over the timed run; the "
        "metrics workers' is `getrusage(RUSAGE_CHILDREN)` of it over the run, their start included. Medians of "
        f"{REPEATS} runs per case.",
    ]
    write_section(BEGIN, END, "Speed: download and metrics on (issue 25)", facts, ROWS, NOTES)


def main() -> None:
    started = time.perf_counter()
    quick = smoke()
    if quick:
        use_smoke_sizes()
    loads = [os.getloadavg()[0]]
    claims_at_once(jobs=24 if quick else 240)
    with tempfile.TemporaryDirectory(prefix="seedance-speed-bench-") as name:
        for c, n in CASES:
            case(Path(name), c, n)
    loads.append(os.getloadavg()[0])
    print("\n".join(NOTES))
    if quick:
        print(f"smoke run passed in {time.perf_counter() - started:.0f} s (RESULTS.md not written)")
        return
    write_results(time.perf_counter() - started, loads)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        client_child(*sys.argv[2:7])
    else:
        main()
