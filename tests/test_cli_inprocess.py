"""``seedance-nb`` run in-process (``seedance_nb.cli.main([...])``) as a user meets it: exit codes 0/1/2, what it
prints, and the files it writes, for ``sweep`` on the embedded emulator, ``report``, ``emulator`` (a busy port,
and a foreground run stopped by Ctrl-C), ``catalog`` and ``recover``, and every kind of usage error."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType

import av
import httpx
import pytest

from seedance_nb import LargeOutputWarning
from seedance_nb.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command line that must be refused: exit 2, nothing on stdout, one line on stderr, no traceback."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, out, err)
    assert out == "" and err.startswith("seedance-nb: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.delenv("SEEDANCE_RUNS", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def swept(tmp_path_factory, png_path):
    """One CLI sweep on the embedded emulator (2 prompts x 2 aspect ratios), shared by the report tests."""
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = ["sweep", "--emulator", "--image", str(png_path), "--prompt", "a heron lands", "--prompt", "reeds sway"]
    argv += ["--duration", "4", "--seed", "7", "--set", "resolution=480p", "--axis", "aspect_ratio=16:9,1:1"]
    argv += ["--out", str(out)]
    code = main(argv)
    return code, out


# --------------------------------------------------------------------------- sweep


def test_a_sweep_runs_every_combination_prints_the_table_and_writes_the_run_folder(swept, capsys):
    code, out = swept
    assert code == 0
    assert (out / "journal.jsonl").is_file() and (out / "report.html").is_file()
    videos = sorted((out / "videos").glob("*.mp4"))
    assert len(videos) == 4
    sizes = set()
    for video in videos:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            sizes.add((stream.width, stream.height))
    assert len(sizes) == 2  # the aspect_ratio axis: two frame shapes


def test_the_sweep_summary_names_the_backend_and_every_job(png_path, cwd, capsys):
    code, out, err = run(
        capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "fog lifts", "--set", "resolution=480p",
        "--duration", "4", "5", "--out", "sweeps/mine",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("sweep: ") and "2" in lines[0]  # the estimate before anything is sent
    assert lines[1] == "backend: emulator (emulated, nothing billed)"
    assert re.search(r"^ +#0 +completed +fog lifts +4 ", out, re.M) and re.search(r"^ +#1 +completed .* 5 ", out, re.M)
    assert "2/2 videos on emulator" in out and "$0 " in out
    assert re.search(r"^run folder: .*sweeps/mine$", out, re.M)
    report = cwd / "sweeps" / "mine" / "report.html"
    assert f"open it:    {report.resolve().as_uri()}" in out and report.is_file()
    assert "Traceback" not in err  # stderr has the progress bar only


def test_a_job_the_service_rejects_exits_1_and_says_why(png_path, cwd, capsys):
    code, out, err = run(
        capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a forbidden dance",
        "--set", "resolution=480p", "--duration", "4", "--out", "r",
    )  # fmt: skip
    assert code == 1, err
    assert re.search(r"^ +#0 +failed ", out, re.M) and "prompt" in out and "content checker" in out
    assert "0/1 video on emulator" in out
    assert not list(cwd.rglob("*.mp4"))


def test_a_budget_below_the_estimate_refuses_to_start_and_exits_1(png_path, cwd, capsys):
    code, out, err = run(
        capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a", "--prompt", "b",
        "--set", "resolution=480p", "--duration", "4", "--budget", "0.01", "--out", "b",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("seedance-nb: error: ") and err.count("\n") == 1 and "0.01" in err, err
    assert not list(cwd.rglob("*.mp4"))


# --------------------------------------------------------------------------- report


def test_report_rewrites_a_run_folders_report_and_embeds_on_request(swept, capsys, tmp_path):
    _, run_dir = swept
    (run_dir / "report.html").unlink()
    code, out, err = run(capsys, "report", str(run_dir))
    assert code == 0 and err == ""
    default = run_dir / "report.html"
    assert out.splitlines()[0] == str(default) and default.is_file()
    assert f"open it: {default.resolve().as_uri()}" in out
    page = default.read_text()
    assert "a heron lands" in page and "reeds sway" in page and "data:video/mp4;base64," not in page

    portable = tmp_path / "portable.html"
    with pytest.warns(LargeOutputWarning, match="MB of base64 media"):  # said out loud, on stderr
        code, out, _ = run(capsys, "report", str(run_dir), "--out", str(portable), "--embed")
    assert code == 0 and out.splitlines()[0] == str(portable)
    page = portable.read_text()
    assert page.count("data:video/mp4;base64,") >= 4  # one portable file: every video inside it


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        ([], "required: command"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
        (["report"], "required: run_dir"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--seed", "-1"], "--seed must be at least 0"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--budget", "ten"], "--budget takes an amount in USD"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--budget", "inf"], "--budget must be a positive amount"),
        (["sweep", "--image", "x.png", "--prompt", "a", "--axis", "aspect_ratio"], "--axis expects FIELD=V1,V2"),
        (["emulator", "--port", "eighty"], "--port takes a number 0..65535"),
        (["emulator", "--slots", "0"], "--slots must be at least 1"),
        (["catalog"], "required: catalog_command"),
        (["catalog", "spend", "--by", "week"], "invalid choice: 'week'"),
    ],
)
def test_usage_errors_name_the_fix_and_exit_2(capsys, cwd, argv, fix):
    assert fix in usage_error(capsys, *argv)


def test_an_input_the_model_does_not_take_is_refused_naming_the_field_before_anything_is_sent(png_path, cwd, capsys):
    err = usage_error(
        capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a", "--axis", "resolution=480p,999p"
    )
    assert "resolution" in err and "999p" in err
    err = usage_error(capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a", "--duration", "99")
    assert "duration" in err
    assert not (cwd / "sweeps").exists()  # refused before a run folder was made


def test_a_misspelt_field_is_refused_with_the_name_it_meant_before_anything_is_sent(png_path, cwd, capsys):
    base = ["sweep", "--emulator", "--image", str(png_path), "--prompt", "a"]
    err = usage_error(capsys, *base, "--set", "resolutoin=480p")
    assert "unknown field 'resolutoin'" in err and "did you mean 'resolution'?" in err and "--allow-unknown" in err
    err = usage_error(capsys, *base, "--axis", "aspect_ration=16:9,1:1")
    assert "did you mean 'aspect_ratio'?" in err
    assert not (cwd / "sweeps").exists()  # refused before a run folder was made


def test_allow_unknown_sends_an_unlisted_field_with_the_warning(png_path, cwd, capsys, caplog):
    with caplog.at_level("WARNING", logger="seedance_nb"):
        code, out, err = run(
            capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a", "--duration", "4",
            "--set", "resolution=480p", "--set", "camera_fixed=true", "--allow-unknown", "--out", "u",
        )  # fmt: skip
    assert code == 0, err
    assert "1/1 video on emulator" in out and "'camera_fixed'" in caplog.text and "does not list" in caplog.text
    journal = (cwd / "u" / "journal.jsonl").read_text()
    assert '"camera_fixed": true' in journal or '"camera_fixed":true' in journal


def test_an_out_path_that_is_a_file_is_refused(png_path, cwd, capsys):
    (cwd / "taken").write_text("not a folder")
    err = usage_error(capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "a", "--out", "taken")
    assert "--out taken is a file: pass a folder" in err


def test_help_prints_every_command_and_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "sweep", "report", "emulator", "catalog", "recover"):
        assert command in out


# --------------------------------------------------------------------------- emulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_busy_port_is_one_line_naming_the_fix(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = usage_error(capsys, "emulator", "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in err and "pick another port with --port N" in err


def _in_the_emulator_wait(frame: FrameType | None) -> bool:
    """True when the main thread is idling in ``seedance-nb emulator``'s wait for Ctrl-C."""
    names = []
    while frame is not None and len(names) < 6:
        names.append((frame.f_code.co_name, frame.f_code.co_filename))
        frame = frame.f_back
    return names[0][0] == "wait" and any(n == "run" and "emulator" in f for n, f in names)


def test_the_emulator_runs_in_the_foreground_on_the_port_given_until_ctrl_c(capsys):
    port = _free_port()
    answered: dict[str, object] = {}
    fired = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if not fired.is_set() and _in_the_emulator_wait(frame):
            fired.set()
            raise KeyboardInterrupt  # what Ctrl-C does there; anywhere else this test's signal is ignored

    def user() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "stats" not in answered:
            try:
                answered["stats"] = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.05)
        for _ in range(500):  # Ctrl-C until it lands (bounded)
            if fired.is_set():
                return
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.02)

    previous = signal.signal(signal.SIGINT, handler)
    thread = threading.Thread(target=user, daemon=True)
    thread.start()
    try:
        code = main(["emulator", "--port", str(port), "--speed", "0", "--slots", "3"])
    finally:
        thread.join(timeout=30)
        signal.signal(signal.SIGINT, previous)
    out, err = capsys.readouterr()
    assert code == 0 and fired.is_set() and err == ""
    assert isinstance(answered.get("stats"), dict) and answered["stats"]["submissions"] == 0
    assert f"seedance-nb emulator on http://127.0.0.1:{port}" in out and "Ctrl-C stops it" in out
    # what to copy to use it: a notebook, sd.connect(), a shell
    assert f"%env SEEDANCE_EMULATOR_URL=http://127.0.0.1:{port}" in out
    assert f'sd.connect("emulator", url="http://127.0.0.1:{port}")' in out
    assert f"export SEEDANCE_EMULATOR_URL=http://127.0.0.1:{port}" in out
    with socket.socket() as again:  # stopped: the port is free again
        again.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- catalog and recover


def test_catalog_commands_on_an_empty_root(cwd, capsys):
    base = ["catalog", "--root", str(cwd / "sweeps"), "--url", f"sqlite:///{cwd / 'cat.sqlite'}"]
    code, out, _ = run(capsys, *base, "search", "anything")
    assert code == 0 and out.strip() == "(nothing)"
    code, out, _ = run(capsys, *base, "budget")
    assert code == 0 and re.search(r"^day +cap +none +spent \$0\.00", out, re.M) and out.count("cap") == 2
    code, out, _ = run(capsys, *base, "budget", "5", "--per", "day")
    assert code == 0 and "day   cap     $5.00" in out
    code, out, _ = run(capsys, *base, "budget", "none")
    assert code == 0 and re.search(r"^day +cap +none", out, re.M)
    err = usage_error(capsys, *base, "budget", "five")
    assert "five" in err and "usd" in err.lower()
    err = usage_error(capsys, *base, "budget", "-5")
    assert "usd" in err.lower()
    code, out, _ = run(capsys, *base, "rebuild")
    assert code == 0 and "re-indexed 0 jobs" in out


def test_recover_downloads_what_no_journal_holds_once(png_path, cwd, capsys):
    """The embedded emulator's history holds this sweep's request (journalled: left alone) and, in a full test
    run, other tests' requests (no journal under this root: recovered). A second recover finds nothing new."""
    root = cwd / "sweeps"
    url = f"sqlite:///{cwd / 'cat.sqlite'}"
    code, _, _ = run(
        capsys, "sweep", "--emulator", "--image", str(png_path), "--prompt", "kept", "--set", "resolution=480p",
        "--duration", "4", "--out", str(root / "mine"),
    )  # fmt: skip
    assert code == 0
    recover = ["recover", "--emulator", "--root", str(root), "--url", url, "--since", "2000-01-01"]
    code, out, err = run(capsys, *recover)
    assert code == 0, err
    found = re.search(
        r"^(\d+) requests? in the emulator's history, (\d+) already journalled, (\d+) recovered into (.+)$", out, re.M
    )
    assert found, out
    listed, journalled, recovered = (int(found.group(i)) for i in (1, 2, 3))
    assert journalled >= 1 and listed >= journalled + recovered
    assert Path(found.group(4)) == (root / "recovered").resolve()
    if recovered:
        assert len(list((root / "recovered" / "videos").glob("*.mp4"))) == recovered
    code, out, _ = run(capsys, *recover)
    assert code == 0 and re.search(r"already journalled, 0 recovered into", out), out
    err = usage_error(capsys, "recover", "--emulator", "--root", str(root), "--url", url, "--since", "last tuesday")
    assert "since" in err
    assert json.loads((root / "mine" / "journal.jsonl").read_text().splitlines()[0])["event"] == "sweep"
