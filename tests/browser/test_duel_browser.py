"""A real browser drives a duel: JupyterLab on 127.0.0.1, Debian's Chromium through Playwright.

A notebook runs a 3-prompt sweep on the emulator and shows ``sweep.duel()``. The browser must decode both
videos; a click on "Left is better" and the keys → and T (with the pointer over the widget) must each land
as a vote in the sweep's journal, and the leaderboard output under the widget must update. Skipped when
Chromium is missing, unless SEEDANCE_REQUIRE_BROWSER=1 (CI sets it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from tests.browser.test_jupyterlab import CHROMIUM, FLAGS, jupyter_server, run_notebook  # skips without Chromium

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ["the camera pushes in slowly", "a fast whip pan to the left", "the light fades to dusk"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("duel-lab")
    shutil.copy(ROOT / "seedance_nb" / "data" / "sample.png", root / "sample.png")
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import seedance_nb as sd\n"
                "client = sd.connect()\n"
                f"grid = sd.Grid(image='sample.png', prompt={PROMPTS!r}, resolution='480p', duration=4)\n"
                "sweep = sd.run_sweep(grid, client=client, run_dir='sweeps/duel', progress=False)"
            ),
            nbformat.v4.new_code_cell("duel = sweep.duel(by='prompt', seed=0)\nduel"),
        ],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    )
    nbformat.write(notebook, root / "duel.ipynb")
    yield from jupyter_server(root, "jupyterlab", extra_args=("--ServerApp.disable_check_xsrf=True",))


def journal_votes(root: Path) -> list[dict]:
    path = root / "sweeps" / "duel" / "journal.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return [line for line in lines if line.get("event") == "vote"]


def wait_for_votes(root: Path, n: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        votes = journal_votes(root)
        if len(votes) >= n:
            return votes
        time.sleep(0.2)
    raise AssertionError(f"expected {n} votes in the journal, found {journal_votes(root)}")


def test_a_duel_in_a_real_browser(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    base, root = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            run_notebook(page, base, "duel.ipynb")  # retries "Run All Cells" until the kernel takes it
            page.wait_for_selector(".seedance-duel button.seedance-duel-left", timeout=60_000)
            # Both videos decode in the browser; nothing on the stage names a prompt.
            page.wait_for_function(
                "() => { const vs = [...document.querySelectorAll('.seedance-duel-stage video')];"
                " return vs.length === 2 && vs.every(v => v.readyState >= 2); }",
                timeout=60_000,
            )
            stage = page.inner_text(".seedance-duel-stage")
            assert not any(prompt in stage for prompt in PROMPTS), stage
            page.wait_for_selector(".seedance-duel-static .sd-board[data-votes='0']", timeout=30_000)

            page.click("button.seedance-duel-left")
            votes = wait_for_votes(root, 1)
            assert votes[0]["winner"] == "a"
            page.wait_for_selector(".seedance-duel-static .sd-board[data-votes='1']", timeout=30_000)

            page.hover(".seedance-duel-stage")
            page.keyboard.press("ArrowRight")
            assert wait_for_votes(root, 2)[1]["winner"] == "b"
            page.keyboard.press("t")
            assert wait_for_votes(root, 3)[2]["winner"] == "tie"
            page.wait_for_selector(".seedance-duel-static .sd-board[data-votes='3']", timeout=30_000)
            rows = page.locator(".seedance-duel-static .sd-board tbody tr")
            assert rows.count() == 3 and page.locator(".seedance-duel-static .sd-board svg .sd-ci").count() == 3
            assert page.locator(".seedance-duel-count").inner_text() == "3 votes"
            # The notebook's own shortcuts still work elsewhere: no vote from a key pressed outside the duel.
            page.mouse.move(5, 5)
            page.click(".jp-Notebook .jp-Cell .jp-InputPrompt >> nth=0")
            page.keyboard.press("Escape")
            page.keyboard.press("t")
            time.sleep(1.0)
            assert len(journal_votes(root)) == 3
        finally:
            page.screenshot(path=str(tmp_path / "duel.png"), full_page=True)
            browser.close()
    assert not [e for e in errors if "seedance" in e.lower()], errors
