"""A real browser drives the storyboard widget: JupyterLab on 127.0.0.1, Debian's Chromium through Playwright.

The storyboard tutorial runs in JupyterLab; then, on its widget, as a person would: the estimate is shown, a
click on another take of shot 1 makes a new branch (the branch picker gains it and shot 2 waits to be run),
"Run shot 2" runs it in the background while the page stays live, and its takes appear, ready to choose.
"""

from __future__ import annotations

import pytest

from .test_jupyterlab import CHROMIUM, browser, jupyter_server, page, run_notebook  # noqa: F401

pytestmark = pytest.mark.browser

NAME = "10-storyboard"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    assert CHROMIUM
    yield from jupyter_server(tmp_path_factory.mktemp("story"), "jupyterlab", (NAME,))


def test_the_storyboard_widget_chooses_branches_and_runs_a_shot_in_the_browser(lab, page):  # noqa: F811
    base, root = lab
    run_notebook(page, base, f"{NAME}.ipynb", timeout_s=600)
    widget = page.locator(".seedance-story-estimate").last
    widget.wait_for(timeout=60_000)
    assert "videos per branch" in widget.inner_text()
    options = page.locator(".seedance-story-branch select option")
    assert options.count() == 2
    # choose take #1 of shot 1: a third branch, whose shot 2 waits to be run
    page.locator("button.seedance-story-take-1-1").last.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.seedance-story-branch select option').length === 3", timeout=60_000
    )
    run = page.locator("button.seedance-story-run").last
    page.wait_for_function(
        "() => [...document.querySelectorAll('.seedance-story-run')].some(b => b.textContent.includes('Run shot 2'))",
        timeout=30_000,
    )
    run.click()
    # the shot runs in the background; when it is done, its takes are there to choose, and a click starts shot 3
    page.wait_for_function(
        "() => [...document.querySelectorAll('.seedance-story-run')]"
        ".some(b => b.textContent.includes('Choose a take of shot 2'))",
        timeout=300_000,
    )
    page.locator("button.seedance-story-take-2-0").last.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.seedance-story-run')].some(b => b.textContent.includes('Run shot 3'))",
        timeout=60_000,
    )
    assert page.locator(".seedance-error .seedance-problems").count() == 0
    assert list(root.glob("sweeps/storyboard-*/shots/shot2-b/journal.jsonl")), "shot 2 run again, on disk"
