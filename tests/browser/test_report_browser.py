"""A report of a real emulator sweep opens in headless Chromium and its videos decode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

import pytest

from seedance_nb.markup import LargeOutputWarning
from seedance_nb.reporting import report
from seedance_nb.sweep import Grid, run_sweep

from .test_jupyterlab import ARTIFACTS, CHROMIUM, FLAGS, PLAYS

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


LAYOUT = """() => {
  const vw = document.documentElement.clientWidth;
  const boxes = [...document.querySelectorAll('.scroll, .sd-out')];
  const inBox = e => boxes.some(b => b !== e && b.contains(e));
  const cut = [...document.querySelectorAll('.sd-report *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && !inBox(e) && (r.right > vw + 1 || r.left < -1);
  }).map(e => e.tagName + '.' + e.className);
  const stuck = boxes.filter(b => b.scrollWidth > b.clientWidth + 1 && getComputedStyle(b).overflowX !== 'auto')
    .map(b => b.className);
  const fonts = [...document.querySelectorAll('.timeline *')].filter(e => e.childElementCount === 0 && e.textContent)
    .map(e => parseFloat(getComputedStyle(e).fontSize));
  const jobs = document.querySelector('#jobs .scroll');
  return {page: document.documentElement.scrollWidth - vw, cut, stuck, minFont: Math.min(...fonts),
          jobsOverflow: jobs.scrollWidth - jobs.clientWidth};
}"""


def test_the_report_reads_at_800_and_1280_px(client, png_path, tmp_path):
    from playwright.sync_api import sync_playwright

    opening = "A cinematic slow dolly shot over a quiet alpine lake at golden hour, mist rising, then "
    sweep = run_sweep(
        Grid(image=png_path, prompt=[opening + "a heron takes off", opening + "a boat drifts in"], duration=[4, 5],
             seed=[1, 2], resolution="480p"),
        client=client, run_dir=tmp_path / "sweeps" / "wide", progress=False,
    )  # fmt: skip
    path = report(sweep)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for width in (800, 1280):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(path.as_uri())
                page.wait_for_function(
                    "[...document.querySelectorAll('img.sd-poster')].every(i => i.complete && i.naturalWidth > 0)"
                )
                layout = page.evaluate(LAYOUT)
                assert layout["page"] <= 0 and layout["cut"] == [] and layout["stuck"] == [], layout
                assert layout["minFont"] >= 11, layout  # the timeline's text stays readable
                if width == 1280:
                    assert layout["jobsOverflow"] <= 0, layout  # every column of the jobs table shows
                page.screenshot(path=str(ARTIFACTS / f"report-{width}px.png"), full_page=True)
                page.close()
        finally:
            browser.close()


def test_a_cached_rerun_of_the_demo_plays_with_the_emulator_stopped_and_the_first_run_gone(tmp_path):
    """`seedance-nb demo` twice: the second run is all cache hits; its folder must hold its own videos and posters.

    Each demo runs the emulator inside its own process, so once the command has exited the emulator is gone.
    """
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "SEEDANCE_HOME": str(tmp_path / "home")}
    env.pop("FAL_KEY", None)
    for name in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "-m", "seedance_nb.cli", "demo", "--out", f"sweeps/{name}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    assert "8 cached, no charge" in done.stdout
    second = tmp_path / "sweeps" / "second"
    markup = (second / "report.html").read_text()
    assert "127.0.0.1" not in markup and "localhost" not in markup
    shutil.rmtree(tmp_path / "sweeps" / "first")  # self-contained: nothing of the first run is needed
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto((second / "report.html").as_uri())
            page.wait_for_function(
                "() => { const vs = [...document.querySelectorAll('video')];"
                " return vs.length === 8 && vs.every(v => v.readyState >= 1); }",
                timeout=60_000,
            )
            state = page.locator("video").first.evaluate(PLAYS)
            assert state["ready"] >= 2 and state["t1"] > state["t0"], state
            assert page.evaluate(
                "[...document.querySelectorAll('img.sd-poster')].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert "8 cached" in page.inner_text(".cards")
        finally:
            browser.close()
