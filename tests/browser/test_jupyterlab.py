"""A real browser: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright, the widgets notebook.

It fills the GenerateForm and clicks Generate, then checks that the browser really decoded our MP4
(``readyState >= 2`` and the requested ``videoWidth``/``videoHeight``); then it runs the SweepBuilder
and waits for the grid to fill. Skipped when Chromium is missing, unless SEEDANCE_REQUIRE_BROWSER=1
(CI sets it, so there it must run).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

pytestmark = pytest.mark.browser

if not CHROMIUM:
    if os.environ.get("SEEDANCE_REQUIRE_BROWSER") == "1":
        raise RuntimeError("SEEDANCE_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "04-widgets.ipynb", root / "widgets.ipynb")
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(root / ".rt")}
    env.pop("FAL_KEY", None)
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--allow-root", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/status", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        raise AssertionError("JupyterLab did not start: " + (root / "lab.log").read_text()[-2000:])
    yield base, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def type_into(locator, text: str) -> None:
    """Type like a person (so the widget sees input events), then leave the field (a change event)."""
    locator.click()
    locator.fill(text)
    locator.press("Tab")


def video_state(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector,
        "els => els.map(v => ({ready: v.readyState, w: v.videoWidth, h: v.videoHeight, src: v.currentSrc}))",
    )


def test_widgets_in_a_real_browser(lab, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    base, root = lab
    sample = ROOT / "seedance_nb" / "data" / "sample.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/lab/tree/widgets.ipynb?reset", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_selector("[data-status='idle']", timeout=60_000)
            # "Run All Cells" clicked before the kernel's session is connected is dropped: try again.
            for attempt in range(4):
                page.click(".jp-Notebook")
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                try:
                    page.wait_for_selector(".seedance-generate", timeout=45_000)
                    break
                except PlaywrightTimeout:
                    if attempt == 3:
                        raise

            # The generation form: type an image path and a prompt, click Generate.
            page.wait_for_selector(".seedance-jobs", timeout=90_000)  # the last cells ran (kernel free again)
            page.wait_for_selector("[data-status='idle']", timeout=60_000)
            type_into(page.locator(".seedance-image-url input").first, str(sample))
            type_into(page.locator(".seedance-prompt textarea").first, "the sun sinks slowly behind the hills")
            page.wait_for_selector(".seedance-generate:not([disabled])", timeout=30_000)
            page.click(".seedance-generate")
            page.wait_for_function(
                "() => { const v = document.querySelector('.seedance-output video'); return v && v.readyState >= 2; }",
                timeout=90_000,
            )
            (state,) = video_state(page, ".seedance-output video")
            assert state["ready"] >= 2 and (state["w"], state["h"]) == (864, 496), state

            # The sweep builder: 2 prompts x 2 seeds at 480p, a budget, Run; the grid fills with playable videos.
            type_into(
                page.locator(".seedance-prompts textarea"), "a gentle breeze ripples the lake\nthe camera drifts left"
            )
            type_into(page.locator(".seedance-seeds input"), "1, 2")
            type_into(page.locator(".seedance-image-url input").nth(1), str(sample))
            type_into(page.locator(".seedance-budget input"), "20")
            page.wait_for_selector(".seedance-run:not([disabled])", timeout=30_000)
            page.click(".seedance-run")
            page.wait_for_function(
                "() => { const vs = [...document.querySelectorAll('.seedance-output .seedance-grid video')];"
                " return vs.length === 4 && vs.every(v => v.readyState >= 1); }",
                timeout=120_000,
            )
            states = video_state(page, ".seedance-output .seedance-grid video")
            assert len(states) == 4 and all((s["w"], s["h"]) == (864, 496) for s in states), states
        finally:
            page.screenshot(path=str(tmp_path / "jupyterlab.png"), full_page=True)
            browser.close()
    assert not [e for e in errors if "seedance" in e.lower()], errors
