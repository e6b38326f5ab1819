"""One user, several notebooks, no team catalog: each request is submitted once (real processes sharing one
SEEDANCE_HOME, each with its own run folder, against the emulator over loopback), and the claims a dead
process left behind do not block the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seedance_nb.catalogs._claims import ClaimStore, user_claims
from seedance_nb.media import probe

#: One notebook: waits for the go file (so that every process starts the grid at the same moment), runs the
#: same 12-job grid into its own run folder, prints each job's status, request id and video path.
NOTEBOOK = textwrap.dedent(
    """
    import json, os, pathlib, sys, time
    import seedance_nb as sd
    from seedance_nb.client import AsyncClient

    base, run_dir, image, barrier, catalog = sys.argv[1:6]
    client = AsyncClient(queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn")
    grid = sd.Grid(image=image, prompt=["orbit", "pan", "push in"], seed=[1, 2, 3, 4], resolution="480p", duration=4)
    options = {"catalog": False} if catalog == "off" else {}
    pathlib.Path(barrier, f"ready-{os.getpid()}").touch()  # one file per process (two folders may share a parent)
    deadline = time.monotonic() + 60
    while not pathlib.Path(barrier, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    sweep = sd.run_sweep(grid, client=client, run_dir=run_dir, progress=False, **options)
    print(json.dumps([[j.status, j.request_id, j.path] for j in sweep.jobs]))
    """
)


def _notebooks(emu, tmp_path: Path, png_path: Path, run_dirs: list[Path], catalogs: list[str]) -> list[list]:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "SEEDANCE_RUNS": str(tmp_path / "sweeps")}  # one SEEDANCE_HOME: the test's
    env.pop("SEEDANCE_CATALOG_URL", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", NOTEBOOK, emu.base_url, str(run_dir), str(png_path), str(barrier), catalog],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for run_dir, catalog in zip(run_dirs, catalogs, strict=True)
    ]
    outs = []
    try:
        deadline = time.monotonic() + 60
        while len(list(barrier.glob("ready-*"))) < len(procs):
            assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs if p.poll()]
            assert time.monotonic() < deadline, "the notebooks did not all get ready in 60 s"
            time.sleep(0.02)
        (barrier / "go").touch()
        end = time.monotonic() + 240
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, end - time.monotonic()))
            assert proc.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return outs


@pytest.mark.parametrize(
    ("folders", "catalogs"),
    [
        # two notebooks, run folders outside the sweeps root: no catalog at all, the per-user claims only
        (["nb1/run", "nb2/run"], ["default", "default"]),
        # three: two under the sweeps root (its local catalog gives the cap and the index), one catalog=False
        (["sweeps/nb1", "sweeps/nb2", "nb3/run"], ["default", "default", "off"]),
    ],
    ids=["two-processes", "three-processes"],
)
def test_one_users_notebooks_running_the_same_grid_at_once_pay_once(emu, tmp_path, png_path, folders, catalogs):
    emu.configure(render="tiny", queue_latency=0.3)
    run_dirs = [tmp_path / folder for folder in folders]
    results = _notebooks(emu, tmp_path, png_path, run_dirs, catalogs)
    assert emu.stats()["submissions"] == 12, "each of the 12 requests submitted once, by one of the processes"
    ids_per_folder = []
    for run_dir, jobs in zip(run_dirs, results, strict=True):
        assert len(jobs) == 12 and {status for status, _, _ in jobs} <= {"completed", "cached"}, jobs
        for _, _, path in jobs:
            video = run_dir / path
            assert video.is_file() and video.resolve().is_relative_to(run_dir.resolve())
            assert probe(video).frames > 0
        ids_per_folder.append({rid for status, rid, _ in jobs if status == "completed"})
    every = set().union(*ids_per_folder)
    assert len(every) == 12 and None not in every
    # Started at the same moment, the first requests cannot be in anyone's cache yet: some process followed
    # another's request (the same request id in two run folders) instead of submitting it again.
    followed = sum(len(a & b) for i, a in enumerate(ids_per_folder) for b in ids_per_folder[i + 1 :])
    assert followed >= 1, ids_per_folder


def test_a_claim_left_by_a_dead_process_of_this_host_is_taken_over_at_once(tmp_path):
    store = user_claims(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    other = ClaimStore(store.engine)
    other.owner = f"{store.user}@{store.host}:{int(dead.stdout)}"  # a notebook killed mid-submit
    assert other.claim("k" * 64) is True
    alive = ClaimStore(store.engine)
    alive.owner = f"{store.user}@{store.host}:{os.getppid()}"  # a process that runs
    assert alive.claim("j" * 64) is True
    assert store.claim("j" * 64) is False, "a live owner's fresh claim is never taken"
    assert store.claim("k" * 64) is True, "the dead owner's claim (no request id) is taken at once"
    assert store.claim_state("k" * 64)["owner"] == store.owner
    # An ambiguous submit (unknown) of a dead owner is taken only by who proved it absent from fal's history
    # (the resumed run of that folder): the POST may have reached fal.
    other.record("u" * 64, {"state": "unknown", "owner": other.owner})
    assert store.claim("u" * 64) is False
    assert store.claim("u" * 64, absent=True) is True
