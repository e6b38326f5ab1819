"""The tutorials a pip user gets: shipped in the wheel, copied by ``seedance-nb tutorials DIR``, run there; and
the committed notebooks are a fresh run's (nbval's expected values, not an author's session)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from seedance_nb.cli import main
from seedance_nb.tutorials import copy_tutorials, tutorial_files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _text(outputs: list[dict]) -> str:
    """The text of a cell's stream outputs (nbformat stores it as a string or a list of lines)."""
    return "".join(o["text"] if isinstance(o["text"], str) else "".join(o["text"]) for o in outputs if "text" in o)


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def test_the_package_ships_every_tutorial_of_the_checkout():
    assert [p.name for p in tutorial_files()] == [p.name for p in NOTEBOOKS] and len(NOTEBOOKS) >= 8


def test_tutorials_copies_them_keeps_edited_ones_and_force_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["tutorials"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "seedance-tutorials"
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in NOTEBOOKS]
    assert f"{len(NOTEBOOKS)} tutorials in seedance-tutorials" in out and "lab seedance-tutorials" in out
    edited = folder / NOTEBOOKS[0].name
    edited.write_text(edited.read_text() + " ", encoding="utf-8")  # as JupyterLab saving outputs would
    (folder / NOTEBOOKS[1].name).unlink()
    assert main(["tutorials", str(folder)]) == 0
    out = capsys.readouterr().out
    assert (
        f"copied: {NOTEBOOKS[1].name}" in out and f"kept as you left them (edited or run there): {edited.name}" in out
    )
    assert edited.read_text().endswith(" ") and "--force" in out
    again = copy_tutorials(folder, force=True)
    assert again.copied == [edited.name] and edited.read_bytes() == NOTEBOOKS[0].read_bytes()
    (tmp_path / "afile").write_text("x")
    assert main(["tutorials", str(tmp_path / "afile")]) == 2
    assert "is a file" in capsys.readouterr().err


# --------------------------------------------------------------------------- committed as a fresh run left them


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_checked_output_is_compared_by_nbval(nb: Path):
    """nbval skips the comparison of a cell whose execution_count is None: a checked cell without one (or
    without an output) would be a check that cannot fail."""
    for cell in _cells(nb):
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])[:60]
            assert cell.get("execution_count") is not None and cell.get("outputs"), source
            stderr = [o for o in cell["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stderr"]
            assert not stderr, f"an expected stderr output: {source!r}"


def test_the_prices_the_tutorials_state_are_the_ones_the_code_computes():
    import seedance_nb as sd
    from seedance_nb.endpoints import PRICE_PER_1K_TOKENS

    found = 0
    for nb in NOTEBOOKS:
        text = "".join("".join(c["source"]) for c in _cells(nb) if c["cell_type"] == "markdown")
        for usd, resolution in re.findall(r"about \$([0-9.]+) per second at (\d+p)", text):
            assert float(usd) == round(sd.estimate_cost(resolution, 4, "16:9").usd / 4, 2), (nb.name, usd)
            found += 1
        for usd in re.findall(r"\$([0-9.]+) per 1,000 tokens", text):
            assert float(usd) == PRICE_PER_1K_TOKENS, (nb.name, usd)
            found += 1
    assert found >= 8, "the tutorials state prices in these words: a rewording must keep them checked"


# --------------------------------------------------------------------------- from a wheel, outside the checkout


def _fresh_venv_with_the_wheel(tmp_path: Path) -> Path:
    """The package built as a wheel and installed into a new venv; its dependencies come from this
    interpreter's site-packages through a .pth file (no network, seconds), never the checkout."""
    pytest.importorskip("hatchling", reason="the wheel is built offline with the test extra's hatchling")
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("seedance_nb-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "shared_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    install = [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return python


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET")}
    env["SEEDANCE_HOME"] = str(tmp_path / "home")
    return env


def test_a_wheel_user_gets_every_tutorial_and_the_quickstart_runs_there(tmp_path):
    python = _fresh_venv_with_the_wheel(tmp_path)
    env = _clean_env(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import seedance_nb; print(seedance_nb.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.startswith(str(tmp_path / "venv")), where  # the wheel's copy, not the checkout
    shipped = Path(where.stdout.strip()).parent / "data" / "tutorials"
    assert sorted(p.name for p in shipped.iterdir()) == [p.name for p in NOTEBOOKS]  # the notebooks, nothing else
    command = python.parent / ("seedance-nb.exe" if os.name == "nt" else "seedance-nb")
    done = subprocess.run(
        [str(command), "tutorials", "mine"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stderr == "", done
    assert f"{len(NOTEBOOKS)} tutorials in mine" in done.stdout and "lab mine" in done.stdout
    for nb in NOTEBOOKS:
        assert (work / "mine" / nb.name).read_bytes() == nb.read_bytes(), nb.name
    # Run the quickstart there with that venv's Python (its kernel imports the wheel's package), as nbval does.
    script = (
        "import json, nbformat, sys\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read('mine/01-quickstart.ipynb', as_version=4)\n"
        "nb.cells.append(nbformat.v4.new_code_cell('import seedance_nb; print(seedance_nb.__file__)'))\n"
        "NotebookClient(nb, timeout=300, kernel_name='python3', resources={'metadata': {'path': 'mine'}}).execute()\n"
        "print(json.dumps([c.get('outputs', []) for c in nb.cells]))\n"
    )
    ran = subprocess.run([str(python), "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    outputs = json.loads(ran.stdout.strip().splitlines()[-1])
    assert outputs[-1][0]["text"].startswith(str(tmp_path / "venv"))
    streams = [o for cell in outputs for o in cell if o.get("output_type") == "stream"]
    assert not [o for o in streams if o["name"] == "stderr"], "a stderr box in the quickstart"
    assert not [o for cell in outputs for o in cell if o.get("output_type") == "error"]
    # The committed expected outputs are what this fresh run printed (no stale figure, no author's path).
    for cell, fresh in zip(_cells(NOTEBOOKS[0]), outputs[:-1], strict=True):
        if "nbval-check-output" in cell.get("metadata", {}).get("tags", []):
            assert _text(cell["outputs"]) == _text(fresh), "".join(cell["source"])[:60]
    assert list((work / "mine" / "sweeps").iterdir()), "the video was written next to the copied notebook"
