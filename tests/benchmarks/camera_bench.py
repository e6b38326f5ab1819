"""Benchmark of seedance_nb.adherence (issue 29): the CPU the camera's move adds to the metrics pass, per clip.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.camera_bench

For 5 s 480p emulator clips of several moves it decodes each clip once to the metrics pass's analysis frames,
then measures the CPU (``time.process_time``: every thread of the process) of the camera tracker alone over
those frames (what the pass adds) and of the whole metrics pass with it, and the tracker's classification
against the emulator's ground truth. It writes the table into ``tests/benchmarks/RESULTS.md`` between the
``camera`` markers. ``--smoke`` measures one 1 s clip once and writes nothing (CI's check that it runs).

Memory: the tracker keeps one analysis frame (9 KB) and five numbers per 1/6 s, so it is flat in clip length.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image

from tests.benchmarks.common import smoke
from tests.benchmarks.results import write_section

BEGIN, END = "<!-- camera:begin -->", "<!-- camera:end -->"
#: (prompt, the class the emulator renders): one of each family.
MOVES = [
    ("static shot", "static"),
    ("the camera pans left", "pan left"),
    ("tilt down", "tilt down"),
    ("slow push in", "push in"),
    ("pull out", "pull out"),
    ("orbit right", "orbit right"),
    ("handheld", "handheld"),
]
SIZE, SECONDS, REPEATS, BUDGET = (864, 496), 5, 3, 0.5


def analysis_frames(path: Path) -> tuple[list, float]:
    """The clip's analysis frames as the metrics pass reduces them, and its frame rate."""
    import av

    from seedance_nb.quality import ANALYSIS_AREA
    from seedance_nb.quality._measuring import _size_for

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 24)
        w, h = _size_for(stream.codec_context.width, stream.codec_context.height, ANALYSIS_AREA)
        return [f.reformat(width=w, height=h, format="gray", interpolation="AREA").to_ndarray() for f in
                container.decode(stream)], rate  # fmt: skip


def main() -> None:
    from seedance_nb.adherence import CameraTracker
    from seedance_nb.emulator.render import render_mp4
    from seedance_nb.quality import metrics
    from seedance_nb.samples import sample_image

    quick = smoke()
    moves, seconds, repeats = (MOVES[1:2], 1, 1) if quick else (MOVES, SECONDS, REPEATS)
    picture = Image.open(sample_image()).convert("RGB")  # a photograph: texture for the flow everywhere
    rows, added, whole, right = [], [], [], 0
    with tempfile.TemporaryDirectory(prefix="seedance-camera-bench-") as name:
        for prompt, truth in moves:
            path = Path(name) / "clip.mp4"
            render_mp4(picture, path, width=SIZE[0], height=SIZE[1], seconds=seconds, seed=1, prompt=prompt, audio=True)
            frames, rate = analysis_frames(path)
            cpu = []
            for _ in range(repeats):
                started = time.process_time()
                tracker = CameraTracker(rate)
                for frame in frames:
                    tracker.add(frame)
                found = tracker.result()
                cpu.append(time.process_time() - started)
            started = time.process_time()
            measured = metrics(path, prompt=prompt)
            whole.append(time.process_time() - started)
            added.append(statistics.median(cpu))
            right += found.move == truth == measured.camera_move
            rows.append(
                (
                    f"camera CPU added, {prompt!r} (found {found.move!r}, truth {truth!r})",
                    f"{added[-1]:.3f} s (whole metrics pass {whole[-1]:.3f} s)",
                    f"<= {BUDGET} s",
                    "yes" if added[-1] <= BUDGET else "**NO**",
                )
            )
            print(
                f"{prompt:<24} camera {added[-1]:.3f} s  whole pass {whole[-1]:.3f} s  found {found.move}", flush=True
            )
    worst = max(added)
    print(f"camera CPU per {seconds} s 480p clip: worst {worst:.3f} s (budget {BUDGET} s); {right}/{len(moves)} right")
    if quick:
        print("smoke run passed (RESULTS.md not written)")
        return
    write_section(
        BEGIN,
        END,
        "Camera motion (issue 29)",
        [
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {SECONDS} s 480p emulator clips, median of {REPEATS}",
            f"worst CPU the camera adds to the metrics pass: {worst:.3f} s per clip (budget {BUDGET} s): "
            + ("met" if worst <= BUDGET else "NOT met"),
            f"classified right: {right} of {len(moves)}",
        ],
        rows,
    )


if __name__ == "__main__":
    sys.exit(main())
