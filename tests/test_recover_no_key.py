"""``seedance-nb recover`` (and ``sd.recover()``) without FAL_KEY and without the emulator asked for: fal is
not asked, and the user is told so and why, instead of "0 request(s) in fal's history"."""

from __future__ import annotations

import pytest

import seedance_nb as sd
from seedance_nb.cli import main
from seedance_nb.errors import ConfigurationError


@pytest.fixture
def no_key(monkeypatch):
    for name in ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_recover_without_a_key_says_fal_was_not_asked_and_why(no_key, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    code = main(["recover", "--root", str(tmp_path / "sweeps"), "--url", url])
    out, err = capsys.readouterr()
    assert code == 1 and "history" not in out
    assert "fal was not asked" in err and "no FAL_KEY is set" in err
    assert "Set FAL_KEY" in err and "--emulator" in err and "Traceback" not in err
    assert not (tmp_path / "cat.sqlite").exists()  # refused before anything was opened
    with pytest.raises(ConfigurationError, match=r"fal was not asked.*client=sd\.connect\('emulator'\)"):
        sd.recover()
