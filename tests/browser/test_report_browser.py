"""A report of a real emulator sweep opens in headless Chromium and its videos decode."""

from __future__ import annotations

import warnings

import pytest

from seedance_nb.display import LargeOutputWarning
from seedance_nb.report import report
from seedance_nb.sweep import Grid, run_sweep

from .test_jupyterlab import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("embed", [False, True])
def test_report_of_an_emulator_sweep_plays_in_chromium(client, png_path, tmp_path, embed):
    from playwright.sync_api import sync_playwright

    sweep = run_sweep(
        Grid(image=png_path, prompt=["<b>bold</b> sunrise", "dusk"], seed=[1, 2], resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "sweeps" / "r",
        progress=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LargeOutputWarning)  # a portable report is big by design
        path = report(sweep, tmp_path / "sweeps" / "r" / ("portable.html" if embed else "report.html"), embed=embed)
    if embed:  # a portable report still plays with the run folder gone
        for video in (tmp_path / "sweeps" / "r" / "videos").iterdir():
            video.unlink()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri())
        page.wait_for_function(
            "() => { const vs = [...document.querySelectorAll('video')];"
            " return vs.length >= 4 && vs.every(v => v.readyState >= 2); }",
            timeout=60_000,
        )
        sizes = page.eval_on_selector_all("video", "vs => vs.map(v => [v.videoWidth, v.videoHeight])")
        assert {tuple(s) for s in sizes} == {(864, 496)}
        assert page.locator("b", has_text="bold").count() == 0, "the prompt's markup is shown as text"
        assert "<b>bold</b> sunrise" in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
