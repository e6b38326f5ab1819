"""A real browser: JupyterLab (and Notebook 7) on 127.0.0.1, Debian's Chromium driven by Playwright, the
tutorials run in it.

What a person would see, checked on the DOM:

- the prompt-sweep tutorial: every video's first frame (an ``<img>`` JupyterLab rewrote to ``/files/…``)
  loaded (``naturalWidth > 0``) before anything plays, the videos play, and at an output width of 936 px the
  grid and the comparison fit (nothing cut off, by element geometry; screenshots saved as CI artefacts);
- the widgets tutorial: the form generates a video, Generate is enabled again after the run and after a
  cancel; the sweep builder's Cancel all leaves no ``planned`` job and the board says the run is over;
- the report tutorial: the report shown inline plays; ``report.html`` opened through JupyterLab's file
  browser shows its (embedded) posters. JupyterLab's server answers 403 to media requests from HTML it serves,
  which is why the notebook shows the report inline (documented in seedance_nb.reporting);
- Notebook 7: the prompt-sweep tutorial's posters load and its videos play too.

The server runs with XSRF checks on, as a user's does. Skipped when Chromium is missing, unless
SEEDANCE_REQUIRE_BROWSER=1 (CI sets it, so there it must run).
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
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
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
    yield from jupyter_server(
        tmp_path_factory.mktemp("lab"), "jupyterlab", ("02-prompt-sweep", "04-widgets", "05-report")
    )


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    yield from jupyter_server(tmp_path_factory.mktemp("nb7"), "notebook", ("02-prompt-sweep",))


def jupyter_server(root: Path, app: str, notebooks: tuple[str, ...] = (), extra_args: tuple[str, ...] = ()):
    """JupyterLab or Notebook 7 on 127.0.0.1 (no token, XSRF checks on unless ``extra_args`` turn them off),
    serving ``root`` with copies of the named tutorials and a fresh SEEDANCE_HOME; yields (base URL, root)."""
    for name in notebooks:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb")
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(root / ".rt"),
        "SEEDANCE_HOME": str(root / ".seedance-home"),
    }
    env.pop("FAL_KEY", None)
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--allow-root", "--ServerApp.password=",
         f"--ServerApp.root_dir={root}", *extra_args,
         *(["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
           if app == "jupyterlab" else [])],
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
        raise AssertionError(f"{app} did not start: " + (root / "lab.log").read_text()[-2000:])
    yield base, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-final.png"), full_page=True)
    page.close()
    assert not [e for e in page.errors if "seedance" in e.lower()], page.errors  # type: ignore[attr-defined]


ALL_RAN = """() => {
  const ps = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
  return ps.length > 0 && ps.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""
ANY_STARTED = """() => [...document.querySelectorAll('.jp-InputArea-prompt')]
  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def run_notebook(page, base: str, name: str, timeout_s: float = 180, *, url: str | None = None) -> None:
    """Open a notebook on a fresh kernel and run all its cells; wait until every code cell has run."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(url or f"{base}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector("[data-status='idle']", timeout=60_000)
    # "Run All Cells" clicked before the kernel's session is connected is dropped: try again.
    for attempt in range(4):
        page.click(".jp-Notebook")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(ANY_STARTED, timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 3:
                raise
    page.wait_for_function(ALL_RAN, timeout=timeout_s * 1000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .ansi-red-fg")
    assert errors.count() == 0, errors.first.inner_text()


def run_code(page, code: str) -> None:
    """Add a cell at the end of the notebook and run it (as a person would, with the keyboard)."""
    page.click(".jp-Notebook .jp-Cell:last-child .jp-InputArea-editor")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")  # runs it and adds an empty cell below, which never runs
    page.wait_for_function(
        """() => { const ps = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
          return ps.length > 1 && /\\[\\d+\\]/.test(ps[ps.length - 2].textContent); }""",
        timeout=60_000,
    )


POSTERS = "els => els.map(i => ({done: i.complete, w: i.naturalWidth, src: i.currentSrc.slice(0, 80)}))"


def assert_posters_loaded(frame, selector: str, count: int) -> None:
    frame.wait_for_function(
        "([sel, n]) => { const im = [...document.querySelectorAll(sel)];"
        " return im.length >= n && im.every(i => i.complete && i.naturalWidth > 0); }",
        arg=[selector, count],
        timeout=60_000,
    )
    posters = frame.eval_on_selector_all(selector, POSTERS)
    assert len(posters) >= count and all(p["w"] > 0 for p in posters), posters


PLAYS = """async (v) => {
  v.muted = true;
  await v.play();
  const t0 = v.currentTime;
  await new Promise(r => setTimeout(r, 700));
  const out = {t0, t1: v.currentTime, ready: v.readyState, w: v.videoWidth, h: v.videoHeight, paused: v.paused};
  v.pause();
  return out;
}"""


def assert_plays(locator) -> None:
    state = locator.evaluate(PLAYS)
    assert state["ready"] >= 2 and state["w"] > 0 and state["t1"] > state["t0"], state


def fit_output_width(page, selector: str, width: int) -> None:
    """Resize the window until the output area holding ``selector`` is ``width`` px wide."""
    for _ in range(4):
        measured = page.eval_on_selector(selector, "e => e.closest('.jp-OutputArea-output').clientWidth")
        if abs(measured - width) <= 1:
            return
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"] + width - measured, "height": size["height"]})
        page.wait_for_timeout(300)
    raise AssertionError(f"the output area is {measured} px wide, not {width}")


NOT_CUT_OFF = """root => {
  const box = root.getBoundingClientRect(), out = root.closest('.jp-OutputArea-output').getBoundingClientRect();
  const items = [...root.querySelectorAll('video, img.sd-poster, figcaption, th')];
  const outside = items.filter(e => { const r = e.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1); }).length;
  return {outside, scroll: root.scrollWidth - root.clientWidth, right: box.right - out.right, items: items.length,
          widths: [...root.querySelectorAll('video')].map(v => Math.round(v.getBoundingClientRect().width))};
}"""


def test_prompt_sweep_posters_show_videos_play_and_the_grid_fits_936_px(lab, page):
    base, _root = lab
    run_notebook(page, base, "02-prompt-sweep.ipynb")
    # 6 in the grid, 2 in the comparison: every first frame shows before anything plays
    assert_posters_loaded(page, ".jp-OutputArea-output img.sd-poster", 8)
    videos = page.locator(".jp-OutputArea-output .sd-gridwrap video")
    assert videos.count() == 6
    assert_plays(videos.first)
    assert_plays(page.locator(".jp-OutputArea-output .sd-compare video").last)

    fit_output_width(page, ".sd-gridwrap", 936)
    grid = page.locator(".jp-OutputArea-output .sd-gridwrap").first
    grid.scroll_into_view_if_needed()
    geometry = grid.evaluate(NOT_CUT_OFF)
    assert geometry["outside"] == 0 and geometry["scroll"] <= 0 and geometry["right"] <= 1, geometry
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    grid.screenshot(path=str(ARTIFACTS / "grid-936px.png"))

    # the comparison of two 480 px videos sits side by side in 936 px, shrunk to fit
    compare = page.locator(".jp-OutputArea-output .sd-compare").first.locator("xpath=..")
    geometry = compare.evaluate(NOT_CUT_OFF)
    assert geometry["outside"] == 0 and geometry["scroll"] <= 0, geometry
    tops = compare.evaluate("e => [...e.querySelectorAll('video')].map(v => Math.round(v.getBoundingClientRect().top))")
    assert len(set(tops)) == 1, tops
    compare.screenshot(path=str(ARTIFACTS / "compare-936px.png"))


def test_widgets_finish_generate_is_ready_again_and_cancel_all_ends_the_run(lab, page):
    base, root = lab
    sample = ROOT / "seedance_nb" / "data" / "sample.png"
    run_notebook(page, base, "04-widgets.ipynb")
    assert_posters_loaded(page, ".seedance-grid img.sd-poster", 4)  # the result browser's grid
    assert_plays(page.locator(".seedance-grid video").first)

    # The form: a video, then Generate is enabled again without touching a field.
    page.locator(".seedance-image-url input").first.fill(str(sample))
    page.locator(".seedance-image-url input").first.press("Tab")
    page.locator(".seedance-prompt textarea").first.fill("the sun sinks slowly behind the hills")
    page.locator(".seedance-prompt textarea").first.press("Tab")
    page.wait_for_selector(".seedance-generate:not([disabled])", timeout=30_000)
    page.click(".seedance-generate")
    page.wait_for_function(
        "() => { const v = document.querySelector('.seedance-output video'); return v && v.readyState >= 2; }",
        timeout=90_000,
    )
    assert_posters_loaded(page, ".seedance-output img.sd-poster", 1)
    page.wait_for_selector(".seedance-generate:not([disabled])", timeout=10_000)

    # Slow jobs from now on (one slot, 30 s each), so Cancel and Cancel all meet running work.
    run_code(
        page,
        "from seedance_nb.backends import embedded_emulator; "
        "embedded_emulator(slots=1, speed=1.0, fixed_generation_time=30)",
    )

    # A cancelled run: Generate is enabled again.
    page.locator(".seedance-prompt textarea").first.fill("a gentle breeze ripples the lake")
    page.locator(".seedance-prompt textarea").first.press("Tab")
    page.wait_for_selector(".seedance-generate:not([disabled])", timeout=30_000)
    page.click(".seedance-generate")
    page.wait_for_function(
        "() => /submitted|running/.test(document.querySelector('.seedance-status').textContent)", timeout=60_000
    )
    page.click(".seedance-cancel >> nth=0")
    page.wait_for_function(
        "() => /cancelled/.test(document.querySelector('.seedance-status').textContent)", timeout=60_000
    )
    page.wait_for_selector(".seedance-generate:not([disabled])", timeout=10_000)

    # The sweep builder: 3 prompts x 2 seeds on one slow slot; Cancel all once the first job runs.
    page.locator(".seedance-prompts textarea").fill("a heron takes off\na boat drifts in\nthe mist rises")
    page.locator(".seedance-prompts textarea").press("Tab")
    page.locator(".seedance-seeds input").fill("1, 2")
    page.locator(".seedance-seeds input").press("Tab")
    page.locator(".seedance-image-url input").nth(1).fill(str(sample))
    page.locator(".seedance-image-url input").nth(1).press("Tab")
    page.locator(".seedance-budget input").fill("20")
    page.locator(".seedance-budget input").press("Tab")
    page.wait_for_selector(".seedance-run:not([disabled])", timeout=30_000)
    page.click(".seedance-run")
    board = page.locator(".seedance-output .seedance-jobs").last
    board.locator("tr[data-status='submitted'], tr[data-status='running']").first.wait_for(timeout=60_000)
    page.locator(".seedance-output .seedance-cancel").last.click()
    page.wait_for_selector(".seedance-run-state [data-over='1']", timeout=60_000)
    # the board is redrawn as each unsent job is journalled as cancelled: wait for the last redraw
    rows = "t => [...t.querySelectorAll('tr[data-status]')].map(r => r.dataset.status)"
    board.page.wait_for_function(f"t => !({rows})(t).includes('planned')", arg=board.element_handle(), timeout=10_000)
    statuses = board.evaluate(rows)
    assert len(statuses) == 6 and "planned" not in statuses and set(statuses) <= {"cancelled", "completed"}, statuses
    assert page.locator(".seedance-output .seedance-cancel").last.is_disabled()
    page.wait_for_selector(".seedance-run:not([disabled])", timeout=10_000)


def test_report_plays_inline_and_shows_its_posters_from_the_file_browser(lab, page):
    base, root = lab
    run_notebook(page, base, "05-report.ipynb")
    inline = page.locator(".jp-OutputArea-output .sd-report").first
    assert inline.locator("video").count() == 4
    assert_posters_loaded(page, ".jp-OutputArea-output .sd-report img.sd-poster", 4)
    # every image of the inline report, the metrics' filmstrips far below the fold included, without scrolling
    assert inline.locator("img.sd-filmstrip").count() == 4
    assert_posters_loaded(page, ".jp-OutputArea-output .sd-report img", inline.locator("img").count())
    assert_plays(inline.locator("video").first)
    assert "file://" in page.locator(".sd-report-link").first.inner_text()

    (report,) = [p for p in (root / "sweeps").glob("*/report.html")]
    page.goto(f"{base}/lab/tree/{report.relative_to(root).as_posix()}", wait_until="domcontentloaded")
    page.wait_for_selector("iframe", timeout=60_000)
    frame = next(f for f in page.frames if f != page.main_frame)
    frame.wait_for_selector(".sd-report", timeout=30_000)
    assert_posters_loaded(frame, "img.sd-poster", 4)
    assert_posters_loaded(frame, "img", frame.locator("img").count())  # filmstrips and input image too
    assert frame.locator("video").count() == 4


def test_notebook_7_shows_the_posters_and_plays(notebook7, page):
    base, _root = notebook7
    run_notebook(page, base, "02-prompt-sweep.ipynb", url=f"{base}/notebooks/02-prompt-sweep.ipynb")
    assert_posters_loaded(page, ".jp-OutputArea-output img.sd-poster", 8)
    assert_plays(page.locator(".jp-OutputArea-output .sd-gridwrap video").first)
