"""``seedance-nb sweep`` asks before it spends on fal: "Spend $X on N videos? [y/N]" above the threshold.

No machine here reaches fal, so "fal" is the CLI's own path to it with FAL_KEY set (``connect()`` then builds
the fal client, and the summary says "backend: fal"), with fal's hosts pointed at the test emulator through
``SEEDANCE_QUEUE_URL`` and its siblings, the seam the client reads. The emulator's submission count is what
fal would have billed. The prompt itself is answered on a real terminal (a pty) by a real subprocess.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys

import pytest

from seedance_nb.cli import main
from seedance_nb.cli_confirm import CONFIRM_ENV, DEFAULT_CONFIRM_ABOVE, ConfirmationNeeded, confirm_threshold

FAKE_KEY = "fake0000-key0-id00-0000-000000000000:fakesecret0000000000000000000000"
#: One 4 s 480p video (about $0.45 on fal's price) asked above $0.25: the question must come.
ONE_VIDEO = ["sweep", "--image", "sample", "--prompt", "a heron lands", "--duration", "4", "--resolution", "480p"]


def _paid_env(emu) -> dict[str, str]:
    """FAL_KEY set (so the CLI takes the fal path) and fal's hosts pointed at the test emulator."""
    return {
        "FAL_KEY": FAKE_KEY,
        "SEEDANCE_QUEUE_URL": emu.queue_url,
        "SEEDANCE_REST_URL": emu.rest_url,
        "SEEDANCE_CDN_URL": emu.cdn_url,
        "SEEDANCE_API_URL": emu.api_url,
    }


@pytest.fixture
def paid(emu, tmp_path, monkeypatch):
    """This process as a fal user: the CLI's fal path, the test emulator behind it, a fresh sweeps root."""
    monkeypatch.chdir(tmp_path)
    for name, value in _paid_env(emu).items():
        monkeypatch.setenv(name, value)
    for name in ("SEEDANCE_EMULATOR_URL", CONFIRM_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDANCE_RUNS", str(tmp_path / "sweeps"))
    emu.configure(render="tiny")  # what is asked and billed is the point here, not the clip (a 64x36 one)
    return emu


def _answer_on_a_terminal(argv: list[str], answer: bytes, env: dict[str, str], cwd) -> tuple[int, str, str]:
    """Run ``seedance-nb ARGV`` in a subprocess whose stdin is a terminal (a pty), typing ``answer``."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seedance_nb.cli", *argv],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        os.write(master, answer)  # typed ahead: the terminal holds it until the question reads it
        out, err = proc.communicate(timeout=240)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return proc.returncode, out, err


def test_the_question_comes_on_a_terminal_n_spends_nothing_and_y_spends(paid, tmp_path):
    env = {**os.environ, **_paid_env(paid), "SEEDANCE_RUNS": str(tmp_path / "sweeps")}
    env.pop("SEEDANCE_EMULATOR_URL", None)
    env.pop(CONFIRM_ENV, None)
    argv = [*ONE_VIDEO, "--confirm-above", "0.25"]

    code, out, err = _answer_on_a_terminal([*argv, "--out", "declined"], b"n\n", env, tmp_path)
    assert code == 1, (out, err)
    assert "backend: fal (every video is billed)" in out
    assert re.search(r"^ +1 x 480p auto 4 s +~\$0\.\d\d each +\$ +0\.\d\d$", out, re.M), out  # itemised
    assert re.search(r"Spend \$0\.\d\d on 1 video\? \[y/N\] ", out), out
    assert "nothing was sent" in out and "Traceback" not in err
    assert paid.stats()["submissions"] == 0  # 'n': fal was never asked for a video
    assert not list(tmp_path.rglob("*.mp4"))

    code, out, err = _answer_on_a_terminal([*argv, "--out", "accepted"], b"y\n", env, tmp_path)
    assert code == 0, (out, err)
    assert "Spend $" in out and "1/1 video on fal" in out
    assert paid.stats()["submissions"] == 1  # 'y': exactly the one video asked about
    assert len(list((tmp_path / "accepted" / "videos").glob("*.mp4"))) == 1


def test_yes_spends_without_asking(paid, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody to answer: --yes must not need one
    code = main([*ONE_VIDEO, "--confirm-above", "0.25", "--yes", "--out", "yes"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Spend" not in out and "backend: fal" in out and "1/1 video on fal" in out
    assert paid.stats()["submissions"] == 1


def test_a_stdin_that_is_no_terminal_is_refused_without_yes_and_nothing_is_sent(paid, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe saying y is still no one to ask
    code = main([*ONE_VIDEO, "--confirm-above", "0.25", "--out", "piped"])
    out, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert "stdin is not a terminal" in err and "--yes" in err and "--confirm-above" in err
    assert "on fal (1 video)" in err and "Nothing was sent" in err
    assert "Spend" not in out
    assert paid.stats()["submissions"] == 0 and not (tmp_path / "piped").exists()


def test_below_the_threshold_nothing_is_asked_and_the_env_var_sets_it(paid, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv(CONFIRM_ENV, "0.25")  # the env var alone: this video is above it, and stdin is a pipe
    assert main([*ONE_VIDEO, "--out", "env"]) == 2
    assert "above the $0.25 that needs a yes" in capsys.readouterr().err
    monkeypatch.setenv(CONFIRM_ENV, "5")  # well above one 480p video: runs without a question
    code = main([*ONE_VIDEO, "--out", "cheap"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Spend" not in out and paid.stats()["submissions"] == 1


def test_the_emulator_never_asks_even_with_a_key_set(emu, tmp_path, capsys, monkeypatch):
    """FAL_KEY is set, but SEEDANCE_EMULATOR_URL names an emulator (as ``seedance-nb emulator`` prints): the
    sweep goes there, bills nothing and asks nothing, whatever the threshold."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAL_KEY", FAKE_KEY)
    monkeypatch.setenv("SEEDANCE_EMULATOR_URL", emu.base_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    emu.configure(render="tiny")
    code = main([*ONE_VIDEO, "--confirm-above", "0", "--out", "emulated"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "backend: emulator (emulated, nothing billed)" in out and "Spend" not in out
    assert emu.stats()["submissions"] == 1  # it ran on the emulator named, not on the embedded one


def test_the_threshold_comes_from_the_flag_then_the_env_then_one_dollar(monkeypatch):
    monkeypatch.delenv(CONFIRM_ENV, raising=False)
    assert confirm_threshold(None) == DEFAULT_CONFIRM_ABOVE == 1.0
    monkeypatch.setenv(CONFIRM_ENV, "2.5")
    assert confirm_threshold(None) == 2.5 and confirm_threshold(0.0) == 0.0
    for bad in ("ten", "-1", "nan", "inf"):
        monkeypatch.setenv(CONFIRM_ENV, bad)
        with pytest.raises(ConfirmationNeeded, match=f"{CONFIRM_ENV}='{bad}' is not an amount in USD"):
            confirm_threshold(None)


@pytest.mark.parametrize(
    ("value", "fix"),
    [("-1", "--confirm-above must be a positive amount"), ("lots", "--confirm-above takes an amount in USD")],
)
def test_a_bad_confirm_above_is_a_usage_error(value, fix, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*ONE_VIDEO, "--confirm-above", value]) == 2
    err = capsys.readouterr().err
    assert fix in err and err.count("\n") == 1
