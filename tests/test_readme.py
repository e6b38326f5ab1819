"""The README a newcomer follows: two set-up commands that CI runs too, the example pasted into one cell, and
tutorials committed clean."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _commands() -> list[str]:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", setup, re.S)]


def test_readme_has_exactly_two_setup_commands():
    commands = _commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert "seedance-nb demo" in demo and demo.endswith(("seedance-nb demo", "seedance-nb tutorials"))
    assert tests.endswith("python -m pytest")


def test_the_main_command_installs_what_the_tutorials_need_and_the_readme_says_how_to_open_them():
    demo = _commands()[0]
    assert '-e ".[notebooks]"' in demo
    block = (ROOT / "pyproject.toml").read_text().split("\nnotebooks = [", 1)[1].split("]", 1)[0]
    names = set(re.findall(r'"([A-Za-z0-9_.-]+)', block))
    assert {"jupyterlab", "ipykernel", "matplotlib", "pyarrow"} <= names
    # every third-party module a tutorial imports is installed by the main command
    for nb in NOTEBOOKS:
        text = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
        for module in ("matplotlib", "pyarrow"):
            if module in text or (module == "pyarrow" and "to_parquet" in text):
                assert module in names, (nb.name, module)
    # the tutorials are opened from a copy (`seedance-nb tutorials`, tests/test_tutorials.py), or in the checkout
    assert "seedance-nb tutorials" in README or ".venv/bin/jupyter lab notebooks/" in README


def test_ci_runs_the_readme_test_command_verbatim_and_builds_the_docs_strictly():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci
    assert "mkdocs build --strict" in ci and (ROOT / "mkdocs.yml").is_file()
    assert "mkdocs build" in README and "API reference" in README


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_tutorials_are_committed_clean(nb: Path):
    data = json.loads(nb.read_text(encoding="utf-8"))
    assert "widgets" not in data["metadata"], "saved widget state"
    for cell in data["cells"]:
        source = "".join(cell["source"])
        assert "NBVAL" not in source, "nbval markers belong in the cell's tags, not in its code"
        assert "execution" not in cell.get("metadata", {}), "execution timestamps"
        tags = cell.get("metadata", {}).get("tags", [])
        outputs = cell.get("outputs", [])
        if "nbval-check-output" not in tags:
            assert outputs == [], f"an output nbval does not check: {source[:60]!r}"
        text = json.dumps(outputs)
        assert not re.search(r"(/tmp/|/home/|/root/|/work/|/Users/|[A-Z]:\\\\)", text), "a machine's path"
        assert "<video" not in text and "<img" not in text


def test_the_readme_example_works_pasted_into_one_cell(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path / "home"))
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "8 videos, about $" in printed and "report.html" in printed
    (last,) = [o for o in outputs if o.output_type == "execute_result"]
    grid = last.data["text/html"]
    assert grid.count("<video") == 8 and grid.count('class="sd-poster"') == 8
    assert "emulated, nothing billed" in grid and 'data-backend="emulator"' in grid
    assert os.path.isfile(tmp_path / re.search(r"(sweeps/\S+/report\.html)", printed).group(1))


def test_the_readme_compare_models_snippet_works_pasted_into_one_cell(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    section = README.split("### Compare models", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code += "\nprint('promoted', len(final.jobs), sorted({j.input.endpoint for j in final.jobs}))"
    code += "\nendpoint_table(sweep)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    monkeypatch.delenv("FAL_KEY", raising=False)
    monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path / "home"))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "12 videos" in printed and "seedance-2.0 mini" in printed  # the estimate, itemised per endpoint
    assert "promoted 3 ['bytedance/seedance-2.0/image-to-video']" in printed
    (last,) = [o for o in outputs if o.output_type == "execute_result"]
    table = last.data["text/html"]
    assert table.count("seedance-2.0") >= 3  # one row per endpoint
