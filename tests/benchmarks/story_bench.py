"""Benchmarks of issue 28: a 3 x 3 grid video (time, size, memory) and a storyboard's film stitched by remuxing.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.story_bench

It prints a table and writes it into ``tests/benchmarks/RESULTS.md`` between the ``story`` markers. ``--smoke``
runs a 2 x 2 grid of 4 s takes and a 2-shot film, checks nothing and writes nothing (CI's check that it runs).

- Grid video: ``sd.grid_video`` over 9 emulator takes of 5 s at 480p (864 x 496), cells 480 px wide, H.264.
  Targets: <= 40 s wall time on this machine's 2 cores, <= 8 MB.
- Memory: the peak resident memory of a fresh process writing a 2 x 2 grid of 5 s takes and one of 15 s takes
  (three times the frames). Target: flat (the 15 s grid's peak within 15 % of the 5 s grid's), since frames are
  streamed, not held.
- Film: ``board.film`` over 6 shots of 5 s 480p (one board, one take per shot, each shot continuing from the
  last), every stream alike, so it is remuxed, not re-encoded. Target: <= 2 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.benchmarks.common import fresh_home, smoke
from tests.benchmarks.results import write_section

BEGIN, END = "<!-- story:begin -->", "<!-- story:end -->"
COMMAND = ".venv/bin/python -m tests.benchmarks.story_bench"
ROWS: list[tuple[str, str, str, str]] = []
NOTES: list[str] = [
    "The film's figure is all of `board.film()`: reading each shot run's journal, checking the streams, copying the "
    "packets, the poster strip and the cost; the packet copy itself is a small part of it. The grid video's wall "
    "time on a shared machine is mostly waiting for a core (compare its CPU time). Peak memory is the whole "
    "process's (Python, pandas, PyAV and FFmpeg's buffers): what matters is that it does not grow with the frames.",
]
PROMPTS = ["a slow push in", "pan left", "orbit"]

MEMORY_CHILD = """
import resource, sys
import seedance_nb as sd
sd.grid_video(sd.load_sweep(sys.argv[1]), sys.argv[2], rows=2, cols=2)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def row(name: str, figure: str, target: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("yes" if met else "**NO**")
    ROWS.append((name, figure, target, verdict))
    print(f"{name:<56} {figure:<40} {target:<16} {verdict.strip('*')}", flush=True)


def takes(client: object, base: Path, name: str, n: int, duration: int) -> object:
    """``n`` (4 or 9) emulator takes: a square of prompts by seeds."""
    import seedance_nb as sd

    side = round(n**0.5)
    grid = sd.Grid(
        image=sd.sample_image(),
        prompt=PROMPTS[:side],
        seed=list(range(1, side + 1)),
        resolution="480p",
        duration=duration,
    )
    sweep = sd.run_sweep(grid, client=client, run_dir=base / name, progress=False, metrics=False)
    return sd.load_sweep(sweep.run_dir)


def grid_video(client: object, base: Path, quick: bool) -> None:
    import seedance_nb as sd

    n, duration = (4, 4) if quick else (9, 5)
    sweep = takes(client, base, "grid", n, duration)
    df = sweep.df  # type: ignore[attr-defined]
    side = 2 if quick else 3
    started = time.perf_counter()
    cpu = time.process_time()
    out = sd.grid_video(df, base / "grid.mp4", rows=side, cols=side, audio=int(df["job"].iloc[0]))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    label = f"{side} x {side} grid video of {duration} s 480p takes ({out.width} x {out.height}, {out.frames} frames)"
    row(label + ": wall", f"{wall:.1f} s (CPU {cpu:.1f} s)", "<= 40 s", None if quick else wall <= 40)
    row(label + ": size", f"{out.size_bytes / 1e6:.2f} MB", "<= 8 MB", None if quick else out.size_bytes <= 8e6)


def memory(client: object, base: Path, quick: bool) -> None:
    peaks = {}
    for duration in (4, 8) if quick else (5, 15):
        sweep = takes(client, base, f"mem{duration}", 4, duration)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(sweep.run_dir), str(base / f"mem{duration}.mp4")],  # type: ignore[attr-defined]
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        peaks[duration] = int(out.stdout.split()[-1]) / 1024
    (short, a), (long, b) = sorted(peaks.items())
    row(
        f"peak memory, 2 x 2 grid video: {short} s vs {long} s takes",
        f"{a:.0f} MB vs {b:.0f} MB ({b / a:.2f} x)",
        "flat (<= 1.15 x)",
        None if quick else b / a <= 1.15,
    )


def film(client: object, base: Path, quick: bool) -> None:
    import seedance_nb as sd

    shots = 2 if quick else 6
    board = sd.Storyboard(
        image=sd.sample_image(),
        shots=[{"prompt": PROMPTS[i % 3], "resolution": "480p", "duration": 4 if quick else 5} for i in range(shots)],
        folder=base / "board",
        client=client,
    )
    for shot in range(1, shots + 1):
        board.run(progress=False, metrics=False)
        board.choose(shot=shot, job=0)
    started = time.perf_counter()
    made = board.film(base / "film.mp4")
    wall = time.perf_counter() - started
    row(
        f"film of {shots} shots of {4 if quick else 5} s 480p ({made.frames} frames, re-encoded: {made.reencoded})",
        f"{wall:.2f} s",
        "<= 2 s",
        None if quick else wall <= 2 and not made.reencoded,
    )


def main() -> None:
    from seedance_nb.client import AsyncClient
    from seedance_nb.emulator import serve

    started = time.perf_counter()
    quick = smoke()
    with tempfile.TemporaryDirectory(prefix="seedance-story-bench-") as name, fresh_home(Path(name)):
        base = Path(name)
        with serve(slots=9, speed=0.002, queue_latency=0.2) as emu:
            client = AsyncClient(
                queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url
            )
            grid_video(client, base, quick)
            memory(client, base, quick)
            film(client, base, quick)
    if quick:
        print("smoke run passed (RESULTS.md not written)")
        return
    facts = [
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; `nproc` = {os.cpu_count()}, shared (load average "
        f"{os.getloadavg()[0]:.1f} at the end: wall times include waiting for a core, CPU times do not)",
        f"Command: `{COMMAND}` (took {time.perf_counter() - started:.0f} s)",
    ]
    write_section(BEGIN, END, "Grid videos and films (issue 28)", facts, ROWS, NOTES)


if __name__ == "__main__":
    main()
