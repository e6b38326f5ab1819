"""The zip you send, unpacked somewhere else with the run folder gone: every video plays, every image loads."""

from __future__ import annotations

import shutil
import zipfile

import pytest

from seedance_nb.reporting import bundle_report
from seedance_nb.sweep import Grid, run_sweep

from .test_jupyterlab import CHROMIUM, FLAGS, PLAYS

pytestmark = pytest.mark.browser

ALL_MEDIA = """() => {
  const vs = [...document.querySelectorAll('video')], ims = [...document.querySelectorAll('img')];
  return {videos: vs.map(v => [v.readyState, v.duration, v.videoWidth]),
          images: ims.map(i => [i.complete, i.naturalWidth, i.getAttribute('src').slice(0, 40)])};
}"""


PLOT = """() => {
  const svg = document.querySelector('svg.sd-metric-plot'), cap = svg.closest('figure').querySelector('figcaption');
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const texts = [...svg.querySelectorAll('text')];
  const box = e => e.getBoundingClientRect();
  const ticks = texts.filter(t => t.getAttribute('text-anchor') === 'middle' && !t.getAttribute('transform'));
  const title = ticks.pop();  // the x-axis title is the last centred, unrotated text
  return {minPx: Math.min(...texts.map(t => parseFloat(t.getAttribute('font-size')) * scale)),
          captionGap: box(svg).top - box(cap).bottom, caption: cap.textContent,
          titleGap: box(title).top - Math.max(...ticks.map(t => box(t).bottom)), title: title.textContent,
          below: box(svg).bottom - box(title).bottom};
}"""


def test_a_bundle_unpacked_elsewhere_plays_every_video_and_loads_every_image(client, png_path, tmp_path):
    from playwright.sync_api import sync_playwright

    grid = Grid(image=png_path, prompt=["a heron takes off", "a boat drifts in"], seed=[1, 2], resolution="480p",
                duration=4)  # fmt: skip
    sweep = run_sweep(grid, client=client, run_dir=tmp_path / "author" / "sweeps" / "lake", progress=False)
    sweep.compute_metrics()  # the metrics section's filmstrips are images of the report too
    bundle = bundle_report(sweep, tmp_path / "lake.zip")
    shutil.rmtree(tmp_path / "author")  # the colleague has only the zip
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path / "colleague" / "downloads")
    page_path = tmp_path / "colleague" / "downloads" / "lake" / "report.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                "() => { const vs = [...document.querySelectorAll('video')], ims = [...document.images];"
                " return vs.length === 4 && vs.every(v => v.readyState >= 2 && v.duration > 0)"
                " && ims.length > 0 && ims.every(i => i.complete && i.naturalWidth > 0); }",
                timeout=60_000,
            )
            media = page.evaluate(ALL_MEDIA)
            assert len(media["videos"]) == 4 and all(d > 3.5 and w == 864 for _, d, w in media["videos"]), media
            assert len(media["images"]) >= 8 and all(ok and w > 0 for ok, w, _ in media["images"]), media
            plot = page.evaluate(PLOT)  # the metrics plot reads at a glance: its text, its caption, its x title
            assert plot["minPx"] >= 13 and plot["title"] == "prompt" and plot["caption"].startswith("motion"), plot
            assert 0 <= plot["captionGap"] <= 16 and 0 <= plot["titleGap"] <= 16 and plot["below"] <= 16, plot
            state = page.locator("video").first.evaluate(PLAYS)
            assert state["ready"] >= 2 and state["t1"] > state["t0"], state
        finally:
            browser.close()
    assert errors == []
