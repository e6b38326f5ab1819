"""The team catalog's PostgreSQL down: refused clearly before anything is sent, and, when it goes down
mid-sweep, no paid job lost or doubled and no unsent job failed (claims fall back to the user's own store
and are written to the team catalog when it is back). A real PostgreSQL cluster of this test's own,
stopped and started while a sweep runs against the emulator over loopback."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from seedance_testconf import _pg_bindir

import seedance_nb as sd
from seedance_nb.catalogs import Catalog, CatalogUnavailable
from seedance_nb.errors import SeedanceError
from seedance_nb.runs import Journal


class Cluster:
    """A throwaway PostgreSQL cluster on a free loopback port that a test may stop and start again."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("CI needs PostgreSQL's binaries for the catalog-down tests")
            pytest.skip("no PostgreSQL binaries (apt-get install postgresql)")
        self.bindir = bindir
        self.base = tempfile.mkdtemp(prefix="seedance-pg-down-")
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root: run the server as Debian's postgres user
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = os.path.join(self.base, "data")
        self._pg("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "timeout": 120}
        subprocess.run([*self.prefix, f"{self.bindir}/{tool}", *args], **run)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base} -F"
        log = os.path.join(self.base, "log")
        self._pg("pg_ctl", "-D", self.data, "-l", log, "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")  # clients are disconnected

    def destroy(self) -> None:
        subprocess.run(
            [*self.prefix, f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            timeout=60,
        )
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def cluster():
    pg = Cluster()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def _grid(png_path: Path, prompts: int = 3, seeds: int = 4) -> sd.Grid:
    prompt = ["orbit", "pan", "push in"][:prompts]
    return sd.Grid(image=png_path, prompt=prompt, seed=list(range(1, seeds + 1)), resolution="480p", duration=4)


def test_a_team_catalog_that_is_down_is_refused_clearly_and_nothing_is_sent(
    cluster, emu, client, tmp_path, png_path, monkeypatch
):
    emu.configure(render="tiny")
    cluster.stop()
    with_password = cluster.url.replace("postgres@", "postgres:s3cret-pw@")
    monkeypatch.setenv("SEEDANCE_CATALOG_URL", with_password)
    monkeypatch.setenv("SEEDANCE_RUNS", str(tmp_path / "sweeps"))
    for attempt in (
        lambda: sd.run_sweep(_grid(png_path, 1, 1), client=client, run_dir=tmp_path / "refused", progress=False),
        lambda: sd.catalog(),
    ):
        with pytest.raises(CatalogUnavailable) as err:
            attempt()
        text = str(err.value)
        assert isinstance(err.value, SeedanceError)
        assert f"127.0.0.1:{cluster.port}/postgres" in text and "s3cret" not in text and "***" in text
        assert "Nothing was sent" in text and "Try again" in text and "catalog=False" in text
    assert emu.stats()["submissions"] == 0 and not (tmp_path / "refused").exists()
    # The opt-out for one run, knowingly: no catalog, the user's own claims still hold.
    done = sd.run_sweep(_grid(png_path, 1, 1), client=client, run_dir=tmp_path / "alone", catalog=False)
    assert [j.status for j in done.jobs] == ["completed"] and emu.stats()["submissions"] == 1


def _submitted(run_dir: Path) -> int:
    try:
        return sum(e["event"] == "submitted" for e in Journal.read(run_dir / "journal.jsonl"))
    except OSError:
        return 0


def _wait(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("back", ["mid-sweep", "after-the-sweep"])
def test_postgres_stopped_mid_sweep_loses_doubles_and_fails_nothing(
    cluster, emu, client, tmp_path, png_path, monkeypatch, caplog, back
):
    """12 jobs, two at a time, each ~1 s on the emulator: PostgreSQL is stopped after the second submission,
    and started again either while the sweep still runs or only after it has returned; then resume."""
    emu.configure(render="tiny", speed=1.0, queue_latency=0.1, fixed_generation_time=1.0)
    monkeypatch.setenv("SEEDANCE_CATALOG_URL", cluster.url)
    monkeypatch.setenv("SEEDANCE_RUNS", str(tmp_path / "sweeps"))
    run_dir = tmp_path / "sweeps" / "twelve"
    outcome: dict = {}

    def sweep() -> None:
        try:
            outcome["sweep"] = sd.run_sweep(_grid(png_path), client=client, run_dir=run_dir, concurrency=2)
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    caplog.set_level(logging.WARNING, logger="seedance_nb.catalogs")
    runner = threading.Thread(target=sweep)
    runner.start()
    try:
        _wait(lambda: _submitted(run_dir) >= 2, "two submissions")
        cluster.stop()
        if back == "mid-sweep":
            _wait(lambda: _submitted(run_dir) >= 7, "jobs submitted while the catalog is down")
            cluster.start()
    finally:
        runner.join(timeout=240)
    assert not runner.is_alive()
    if back == "after-the-sweep":
        cluster.start()
    assert "error" not in outcome, repr(outcome.get("error"))
    swept = outcome["sweep"]
    assert [j.status for j in swept.jobs] == ["completed"] * 12, [(j.status, j.error) for j in swept.jobs]
    assert emu.stats()["submissions"] == 12, "nothing doubled"
    assert len({j.request_id for j in swept.jobs}) == 12
    assert all((run_dir / j.path).is_file() for j in swept.jobs), "nothing lost"
    assert "claims fall back to your own store" in caplog.text
    resumed = sd.Sweep.resume(run_dir, client=client, progress=False)
    assert [j.status for j in resumed.jobs] == ["completed"] * 12 and emu.stats()["submissions"] == 12
    with Catalog(cluster.url, root=tmp_path / "sweeps") as team:
        df = team.frame()
        assert sorted(df.request_id) == sorted(j.request_id for j in swept.jobs)
        assert (df.status == "completed").all() and df.billed.all() and df.request_id.is_unique
        if back == "mid-sweep":  # the claims it missed were written when it answered again
            for job in swept.jobs:
                claim = team.claim_state(job.key)
                assert claim is not None and claim["state"] == "completed", (job.job, claim)
                assert claim["request_id"] == job.request_id
    # The user's own store holds every claim in both cases.
    from seedance_nb.catalogs._claims import user_claims

    mine = user_claims()
    assert all((mine.claim_state(j.key) or {}).get("state") == "completed" for j in swept.jobs)
