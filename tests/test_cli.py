"""The command line as a user meets it: the demo on the emulator (twice), usage errors, the emulator command."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from seedance_nb.cli import main
from seedance_nb.runs import Journal


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["sweep", "--image", "x.png", "--prompt", "a", "--concurrency", "0"], "--concurrency must be at least 1"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--takes", "two"], "--takes takes a whole number"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--budget", "-3"], "--budget must be a positive amount"),
        (["sweep", "--image", "x.png"], "required: --prompt"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--set", "resolution"], "--set expects FIELD=VALUE"),
        (["sweep", "--image", "missing.png", "--prompt", "a", "--emulator"], "file not found"),
        (["emulator", "--port", "99999"], "--port takes a number 0..65535"),
        (["emulator", "--port"], "expected one argument"),
        (["report", "."], "is not a run folder"),
        (["launch"], "invalid choice"),
    ],
)
def test_every_usage_error_is_one_line_naming_the_fix_and_exits_2(capsys, tmp_path, monkeypatch, argv, fix):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("seedance-nb: error: ") and fix in err, err
    assert "Traceback" not in err


def test_an_existing_out_folder_is_refused_before_anything_runs(capsys, tmp_path):
    (tmp_path / "run").mkdir()
    Journal(tmp_path / "run" / "journal.jsonl").close()
    (tmp_path / "run" / "journal.jsonl").write_text("{}\n")
    code, _, err = run(capsys, "demo", "--out", str(tmp_path / "run"))
    assert code == 2 and "already holds a sweep" in err and "Sweep.resume" in err and err.count("\n") == 1


def test_the_demo_twice_names_the_backend_bills_nothing_and_counts_this_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo", "--out", "sweeps/first")
    assert code == 0
    assert "emulated, nothing billed" in out and "on emulator" in out
    assert "(cached: no charge)" not in out
    assert re.search(r"^ +#7 +completed", out, re.M)  # jobs numbered as sweep.rate() numbers them
    assert "file://" in out and "report.html" in out

    code, out, _ = run(capsys, "demo", "--out", "sweeps/second")
    assert code == 0
    assert out.count(" cached ") >= 8 and "8 cached, no charge" in out
    assert "wall clock" not in out.splitlines()[-4]  # nothing ran in this run: no wall clock to speak of
    report = (tmp_path / "sweeps" / "second" / "report.html").read_text()
    assert "127.0.0.1" not in report and "localhost" not in report  # never a dead emulator URL
    assert "file://" not in report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulator_command_listens_on_the_port_the_readme_shows(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "seedance_nb.cli", "emulator", "--port", str(port), "--speed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.2)
        else:
            raise AssertionError("the emulator did not answer in 30 s")
        assert stats.status_code == 200
        # a second one on the same port: one line naming the fix, exit 2
        busy = subprocess.run(
            [sys.executable, "-m", "seedance_nb.cli", "emulator", "--port", str(port)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        assert busy.returncode == 2, busy.stderr
        assert "pick another port with --port" in busy.stderr and "Traceback" not in busy.stderr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        if proc.stdout:
            proc.stdout.close()


def test_summary_tells_prompts_with_a_shared_opening_apart(capsys, tmp_path, monkeypatch):
    from seedance_nb.cli import _summary
    from seedance_nb.samples import sample_image
    from seedance_nb.sweep import Sweep

    opening = "A cinematic slow dolly shot over a quiet alpine lake at golden hour, then "
    from seedance_nb.sweep import Grid

    sweep = Sweep.create(Grid(image=sample_image(), prompt=[opening + "a heron", opening + "a boat"]), tmp_path / "s")
    sweep.close()
    text = _summary(sweep)
    assert "…a heron" in text and "…a boat" in text
    assert Path(sample_image()).name == "sample.png"
