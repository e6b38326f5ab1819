"""Catalog benchmarks: a 100,000-job catalog (prompt search, ``sd.catalog()`` load) and indexing a 1,000-job sweep.

Run from the project root::

    .venv/bin/python -m tests.benchmarks.catalog            # SQLite (the issue's targets)
    SEEDANCE_BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python -m tests.benchmarks.catalog

It writes 100 synthetic run folders of 1,000 jobs each (journals in the runner's format, no videos) into a
temporary folder, indexes them, and times what a user does: ``catalog()`` (which first checks every journal
for changes), ``search()`` for a word in 1 % of prompts and for a rare one, and indexing one more finished
1,000-job sweep. Medians of repeated calls. Writes its section of ``tests/benchmarks/RESULTS.md`` (between
the ``catalog`` markers; the rest of the file is left alone). About a minute on 2 cores. ``--smoke`` indexes
3 x 100 jobs, calls each once and writes nothing (CI's check that the script runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seedance_nb.catalogs import Catalog  # noqa: E402
from tests.benchmarks.common import fresh_home, smoke  # noqa: E402
from tests.benchmarks.results import write_section  # noqa: E402

RUNS, JOBS = 100, 1000
REPEATS, SEARCH_REPEATS = 5, 21  # calls per figure (medians)
START, END = "<!-- catalog benchmarks: start -->", "<!-- catalog benchmarks: end -->"
WORDS = (
    "slow fast gentle camera pans tilts drifts pushes pulls across over under around the a of lake city forest "
    "street harbour mountain desert river bridge tower garden market rooftop station beach cliff field valley "
    "dawn dusk night noon rain snow fog wind storm light shadow glow sparkle crowd dancer cyclist runner bird "
    "dog cat horse train boat car kite lantern"
).split()


def _journal(run_dir: Path, rng: random.Random, t0: float) -> None:
    run_dir.mkdir(parents=True)
    endpoint = "bytedance/seedance-2.0/fast/image-to-video"
    lines = [{"event": "sweep", "at": t0, "name": run_dir.name, "endpoint": endpoint, "backend": "emulator",
              "jobs": JOBS}]  # fmt: skip
    for job in range(JOBS):
        words = rng.sample(WORDS, 8)
        if rng.random() < 0.01:
            words[3] = "orbit"
        if rng.random() < 0.0001:
            words[5] = "zeppelin"
        at = t0 + job
        key = f"{rng.getrandbits(256):064x}"
        rid = f"{rng.getrandbits(128):032x}"
        lines += [
            {"event": "planned", "at": at, "job": job, "take": 1, "key": key,
             "payload": {"prompt": " ".join(words), "image_url": {"$file": "inputs/x.png", "mime": "image/png",
                         "name": "x.png"}, "resolution": "480p", "duration": "4", "seed": job},
             "labels": {"image_url": "x.png"}, "images": {"image_url": "0" * 64}, "est_cost_usd": 0.45},
            {"event": "submitted", "at": at + 0.1, "job": job, "request_id": rid},
            {"event": "started", "at": at + 1, "job": job},
            {"event": "result", "at": at + 30, "job": job, "completed_at": at + 30,
             "output": {"video": {"url": f"https://v3.fal.media/files/{rid}.mp4", "file_size": 812345}, "seed": job}},
            {"event": "downloaded", "at": at + 31, "job": job, "path": f"videos/{job:03d}-{key[:8]}.mp4",
             "poster": f"posters/{job:03d}-{key[:8]}.jpg",
             "info": {"width": 864, "height": 496, "fps": 24.0, "duration": 4.04, "frames": 97, "has_audio": True,
                      "video_codec": "h264", "audio_codec": "aac", "size_bytes": 812345}},
        ]  # fmt: skip
        if rng.random() < 0.2:
            lines.append({"event": "rated", "at": at + 40, "job": job, "rating": rng.randint(1, 5)})
    (run_dir / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")


def _median(fn, n: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _cpu(fn, n: int) -> float:
    """Median process CPU seconds of ``fn`` (this machine's 2 cores are shared: wall time includes waiting)."""
    times = []
    for _ in range(n):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


@contextlib.contextmanager
def _fresh_database(admin_url: str):
    import uuid

    import psycopg

    name = f"seedance_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(url: str | None, base: Path, label: str) -> list[tuple[str, str, str, str]]:
    rows = []
    root = base / "sweeps"
    with Catalog(url or f"sqlite:///{root / 'catalog.sqlite'}", root=root) as cat:
        t = time.perf_counter()
        cat.refresh()
        rows.append((f"{label}: index {RUNS} x {JOBS} jobs from scratch", f"{time.perf_counter() - t:.1f} s", "", ""))
        seconds, df = _median(cat.frame, REPEATS)
        cpu = _cpu(cat.frame, min(3, REPEATS))
        rows.append((f"{label}: sd.catalog() of {len(df):,} jobs (checks every journal first)",
                     f"{seconds:.2f} s (CPU {cpu:.2f} s)", "<= 2 s", "yes" if seconds <= 2 else "**NO**"))  # fmt: skip
        seconds, hits = _median(lambda: cat.search("orbit"), SEARCH_REPEATS)
        rows.append((f"{label}: search('orbit'): {len(hits):,} hits in 1 % of prompts", f"{seconds * 1000:.1f} ms",
                     "<= 50 ms", "yes" if seconds <= 0.05 else "**NO**"))  # fmt: skip
        seconds, hits = _median(lambda: cat.search("zeppelin orbit"), SEARCH_REPEATS)
        rows.append((f"{label}: search('zeppelin orbit'): {len(hits)} hits", f"{seconds * 1000:.1f} ms", "<= 50 ms",
                     "yes" if seconds <= 0.05 else "**NO**"))  # fmt: skip
        seconds, hits = _median(lambda: cat.search("orbit", rating_min=4, since="2020-01-01"), SEARCH_REPEATS)
        rows.append((f"{label}: search('orbit', rating_min=4, since=...): {len(hits)} hits",
                     f"{seconds * 1000:.1f} ms", "<= 50 ms", "yes" if seconds <= 0.05 else "**NO**"))  # fmt: skip
        seconds, hits = _median(lambda: cat.search("the"), REPEATS)
        rows.append((f"{label}: search('the'): {len(hits):,} hits (a word in ~15 % of prompts)",
                     f"{seconds * 1000:.0f} ms", "", ""))  # fmt: skip
        _journal(root / "one-more", random.Random(7), time.time())
        t = time.perf_counter()
        cat.index_run(root / "one-more")
        seconds = time.perf_counter() - t
        rows.append((f"{label}: index a finished {JOBS}-job sweep into it", f"{seconds:.2f} s", "<= 1 s",
                     "yes" if seconds <= 1 else "**NO**"))  # fmt: skip
        shutil.rmtree(root / "one-more")
    return rows


def main() -> None:
    global RUNS, JOBS, REPEATS, SEARCH_REPEATS
    quick = smoke()
    if quick:  # CI's smoke run: a small catalog, each call once
        RUNS, JOBS, REPEATS, SEARCH_REPEATS = 3, 100, 1, 1
    with tempfile.TemporaryDirectory(prefix="seedance-bench-catalog-") as tmp, fresh_home(Path(tmp)):
        base = Path(tmp)
        rng = random.Random(19)
        t0 = time.time() - 30 * 86400
        for i in range(RUNS):
            _journal(base / "sweeps" / f"run-{i:03d}", rng, t0 + i * 3600)
        rows = bench(None, base, "SQLite")
        pg = os.environ.get("SEEDANCE_BENCH_PG_URL")
        if pg:
            with _fresh_database(pg) as url:
                rows += bench(url, base, "PostgreSQL")
        load = os.getloadavg()[0]
    for a, b, c, d in rows:
        print(f"{a:<70} {b:<22} {c:<10} {d.strip('*')}")
    if quick:
        print("smoke run passed (RESULTS.md not written)")
        return
    facts = [
        f"Command: `.venv/bin/python -m tests.benchmarks.catalog`, {time.strftime('%Y-%m-%d', time.gmtime())}, on "
        f"this machine (2 cores shared with other work: load average {load:.1f} during the run)",
        f"Synthetic run folders ({RUNS} x {JOBS} jobs, runner-format journals, no videos). Medians of repeated "
        "calls; PostgreSQL figures (when `SEEDANCE_BENCH_PG_URL` is set) are for information, the targets are "
        "SQLite's.",
    ]
    write_section(START, END, "Catalog (issue 19)", facts, rows)


if __name__ == "__main__":
    main()
