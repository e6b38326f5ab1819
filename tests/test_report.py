"""The self-contained HTML sweep report, and (in headless Chromium) its videos and scripts."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from display_fixtures import Tree, sweep_frame, write_jpeg
from PIL import Image

from seedance_nb import markup as mk
from seedance_nb.reporting import report, report_html

XSS = "<script>alert(1)</script>"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def mixed_sweep(run_dir: Path) -> pd.DataFrame:
    """8 jobs: 2 prompts x 2 durations x 2 seeds; one failed, one still running, two rated."""
    df = sweep_frame(
        run_dir,
        prompts=("a slow push-in", "a whip pan"),
        durations=("4", "8"),
        seeds=(1, 2),
        errors={3: ("ModerationError", "Output audio has sensitive content.")},
        statuses={7: "running"},
    )
    df.loc[0, "rating"] = 5
    df.loc[0, "notes"] = "best motion"
    df.loc[2, "rating"] = 2
    return df


def job_rows(tree: Tree) -> int:
    markup_rows = 0
    in_jobs = False
    for tag, attrs in tree.tags:
        if tag == "table":
            in_jobs = attrs.get("id") == "sd-jobs"
        elif tag == "tr" and in_jobs:
            markup_rows += 1
    return markup_rows - 1  # the header row


def card(tree_markup: str, label: str) -> str:
    match = re.search(rf'data-total="{re.escape(label)}"><div class="v">(.*?)</div>', tree_markup)
    assert match, label
    return match.group(1)


def test_report_is_written_in_the_run_folder_with_every_job(tmp_path: Path) -> None:
    run = tmp_path / "run"
    df = mixed_sweep(run)
    path = report(df)
    assert path == run / "report.html" and path.is_file()
    assert not list(run.glob("*.part"))
    markup = path.read_text(encoding="utf-8")
    tree = Tree(markup)
    assert job_rows(tree) == 8
    assert card(markup, "jobs") == "8"
    assert card(markup, "failed") == "1"
    assert card(markup, "still running") == "1"
    assert card(markup, "cost (completed)") == mk.fmt_usd(6 * 0.5645)
    assert card(markup, "estimate (all jobs)") == mk.fmt_usd(8 * 0.5645)
    gen = df["generation_seconds"].sum()
    assert card(markup, "generation (sum)") == mk.fmt_seconds(gen)
    # the grid: prompts down, durations x seeds across, and all six videos linked from the run folder
    videos = tree.find("video")
    assert [v["src"] for v in videos] == [
        f"videos/{j}-abcdef12.mp4" for j in ("j000", "j001", "j002", "j004", "j005", "j006")
    ]
    assert len(tree.find("th", "sd-colhead")) == 4 and len(tree.find("tr", "sd-row")) == 2


def test_report_lists_what_varies_and_what_is_fixed(tmp_path: Path) -> None:
    markup = report_html(mixed_sweep(tmp_path / "run"))
    varies = markup.split('id="sd-varies"')[1].split("</table>")[0]
    fixed = markup.split('id="sd-fixed"')[1].split("</table>")[0]
    assert [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th>(.*?)</th>", varies)] == ["prompt", "duration", "seed"]
    assert "a whip pan" in varies and "480p" not in varies
    assert "<th>resolution</th><td>480p</td>" in fixed and "<th>image</th><td>cat.png</td>" in fixed


def test_report_is_self_contained(tmp_path: Path) -> None:
    markup = report_html(mixed_sweep(tmp_path / "run"))
    tree = Tree(markup)
    assert not tree.find("link") and "@import" not in markup and "url(" not in markup
    assert all("src" not in attrs for tag, attrs in tree.tags if tag == "script")
    refs = [a.get("src") or a.get("href") or a.get("poster") for _, a in tree.tags if {"src", "href"} & set(a)]
    assert refs and all(r and (r.startswith(("videos/", "posters/", "#", "data:"))) for r in refs), refs
    assert len(tree.scripts) == 2  # the grid's synchronized playback and the table sort


def test_report_escapes_user_text_everywhere(tmp_path: Path) -> None:
    df = sweep_frame(
        tmp_path / "run",
        prompts=(XSS, "ok"),
        seeds=(1,),
        errors={1: ("Boom", XSS)},
        extra={"end_user_id": '"><img src=x onerror=alert(1)>'},
    )
    df["notes"] = [XSS, None]
    df["rating"] = [4, None]
    df["image"] = XSS
    (tmp_path / "run" / "sweep.json").write_text(json.dumps({"name": XSS}))
    markup = report_html(df, title=XSS)
    assert XSS not in markup and "<img src=x" not in markup
    tree = Tree(markup)
    assert len(tree.scripts) == 2 and all("alert" not in s for s in tree.scripts)
    assert tree.all_text.count(XSS) >= 6  # title, heading, run name, prompt, error, note, image label


def test_report_videos_elsewhere_use_urls_or_file_links_and_embed_inlines_them(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    shared = report(df, tmp_path / "share" / "r.html")
    srcs = [v["src"] for v in Tree(shared.read_text()).find("video")]
    # relative links, which play from disk and from any web server (never file:// or an emulator's URL)
    assert srcs == [f"../run/videos/{Path(p).name}" for p in df["path"].dropna()]

    with_urls = sweep_frame(tmp_path / "run2", prompts=("a",), seeds=(1, 2), video_url=True)
    srcs = [v["src"] for v in Tree(report(with_urls, tmp_path / "share" / "u.html").read_text()).find("video")]
    assert srcs == ["https://v3.fal.media/files/j000.mp4", "https://v3.fal.media/files/j001.mp4"]

    portable = report(df, tmp_path / "share" / "portable.html", embed=True)
    shutil.rmtree(tmp_path / "run" / "videos")  # the portable file no longer needs the run folder
    tree = Tree(portable.read_text())
    videos = tree.find("video")
    assert len(videos) == 6 and all((v["src"] or "").startswith("data:video/mp4;base64,") for v in videos)
    assert not any((a.get("href") or "").endswith(".mp4") for _, a in tree.tags)


def test_report_embedding_a_large_sweep_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = mixed_sweep(tmp_path / "run")
    monkeypatch.setattr(mk, "EMBED_WARN_BYTES", 1000)
    with pytest.warns(mk.LargeOutputWarning):
        report(df, embed=True)


def test_report_timeline_has_a_queue_and_a_generation_bar_per_job(tmp_path: Path) -> None:
    markup = report_html(mixed_sweep(tmp_path / "run"))
    svg = markup.split('<div class="timeline"')[1].split("</section>")[0]
    assert svg.count('class="tl-queue') == 8
    assert svg.count('class="tl-gen') == 8  # the running job's bar runs to the end of the chart
    assert svg.count('class="tl-gen tl-failed"') == 1
    assert "#3 · failed · queue 1.0 s · generation 13.0 s" in svg
    assert "running, 15.0 s so far" in svg


def test_report_timeline_from_durations_alone(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    df[["submitted_at", "started_at", "completed_at"]] = None
    df.loc[7, "queue_seconds"] = None  # unknown timing: named, not drawn
    svg = report_html(df).split('<div class="timeline"')[1].split("</section>")[0]
    assert svg.count('class="tl-queue') == 7 and svg.count('class="tl-gen') == 7
    assert '<span class="tl-end">running</span>' in svg


def test_report_ratings_and_notes_only_when_given(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    markup = report_html(df)
    section = markup.split('id="ratings"')[1].split("</section>")[0]
    assert section.index("#0<") < section.index("#2<")  # best rated first
    assert "best motion" in section and "★★★★★" in section
    df["rating"], df["notes"] = None, None
    assert 'id="ratings"' not in report_html(df)


def test_report_shows_the_input_image_as_an_embedded_thumbnail(tmp_path: Path) -> None:
    run = tmp_path / "run"
    df = mixed_sweep(run)
    write_jpeg(run / "inputs" / "cat.png", width=1280, height=720, shade=9)
    section = report_html(df).split('id="inputs"')[1].split("</section>")[0]
    (img,) = Tree(section).find("img")
    data = base64.b64decode((img["src"] or "").split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 320
    # without the file, the first frame of a video stands in, and says so
    (run / "inputs" / "cat.png").unlink()
    section = report_html(df).split('id="inputs"')[1].split("</section>")[0]
    assert "first frame of job 0" in section and Tree(section).find("img")


def test_report_reads_the_run_description_but_never_secrets(tmp_path: Path) -> None:
    run = tmp_path / "run"
    df = mixed_sweep(run)
    (run / "sweep.json").write_text(json.dumps({"name": "lake study", "api_key": "abc:def", "axes": {"seed": [1]}}))
    markup = report_html(df)
    assert "lake study" in markup and "abc:def" not in markup and "api_key" not in markup


def test_report_splits_grids_by_input_image(tmp_path: Path) -> None:
    df = sweep_frame(tmp_path / "run", prompts=("a", "b"), seeds=(1, 2))
    df["image"] = ["cat.png", "cat.png", "dog.png", "dog.png"]
    df.loc[[0, 2], "prompt"] = "same"  # prompt and image both vary: one grid per image
    df.loc[[1, 3], "prompt"] = "other"
    tree = Tree(report_html(df))
    assert len(tree.find("div", "sd-gridwrap")) == 2 and len(tree.scripts) == 3
    assert len(tree.find("video")) == 4


def test_report_needs_a_path_without_a_run_folder(tmp_path: Path) -> None:
    df = sweep_frame(tmp_path / "run", prompts=("a",), seeds=(1,))
    df.attrs.clear()
    with pytest.raises(ValueError, match="path="):
        report(df)
    assert report(df, tmp_path / "out.html") == tmp_path / "out.html"
    (tmp_path / "folder").mkdir()
    assert report(df, tmp_path / "folder") == tmp_path / "folder" / "report.html"


# --------------------------------------------------------------------------- a real browser


def _browser_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("SEEDANCE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SEEDANCE_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); set SEEDANCE_REQUIRE_BROWSER=1 to fail")


@pytest.mark.browser
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    df = mixed_sweep(tmp_path / "run")
    path = report(df)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri())
            # every video decodes (readyState >= 2 needs the first frame, beyond preload="metadata")
            page.evaluate("document.querySelectorAll('video').forEach(v => { v.preload = 'auto'; v.load(); })")
            page.wait_for_function(
                "[...document.querySelectorAll('video')].every(v => v.readyState >= 2)", timeout=20_000
            )
            assert page.evaluate("document.querySelectorAll('video').length") == 6

            # the table sorts when a header is clicked
            def jobs() -> list[str]:
                return page.eval_on_selector_all("#sd-jobs tbody tr td:first-child", "tds => tds.map(t => t.dataset.v)")

            assert jobs() == [str(i) for i in range(8)]
            page.click("#sd-jobs th:has-text('generation')")
            page.click("#sd-jobs th:has-text('generation')")  # descending: the longest first
            assert jobs()[:2] == ["6", "5"] and jobs()[-1] == "7"  # unknown values last

            # one control bar plays, seeks and pauses the whole grid
            bar = page.locator(".sd-syncbar")
            assert bar.is_visible()
            bar.locator("button").click()
            page.wait_for_function("[...document.querySelectorAll('.sd-gridwrap video')].every(v => !v.paused)")
            bar.locator("button").click()
            page.wait_for_function("[...document.querySelectorAll('.sd-gridwrap video')].every(v => v.paused)")
            page.eval_on_selector(".sd-syncbar input", "s => { s.value = 500; s.dispatchEvent(new Event('input')); }")
            page.wait_for_function(
                """(() => {
                  const v = [...document.querySelectorAll('.sd-gridwrap video')], t = v[0].currentTime;
                  return Math.abs(t - v[0].duration / 2) < 0.05 && v.every(x => Math.abs(x.currentTime - t) < 0.05);
                })()"""
            )
            assert errors == []
        finally:
            browser.close()


# --------------------------------------------------------------------------- issue 16: reports people can open


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>x</script>", "vbscript:x"])
def test_a_hostile_result_url_never_becomes_a_link_or_src_in_the_report(tmp_path: Path, url: str) -> None:
    df = sweep_frame(tmp_path / "run", prompts=("a",), seeds=(1, 2), write_files=False)
    df["video_url"], df["image"] = url, url
    tree = Tree(report_html(df))
    links = [v for _, a in tree.tags for k, v in a.items() if k in ("src", "href") and v]
    assert links and all(v.startswith(("#", "data:image/jpeg;base64,")) for v in links), links


def test_the_report_never_references_a_loopback_emulator_url(tmp_path: Path) -> None:
    df = sweep_frame(tmp_path / "run", prompts=("a",), seeds=(1, 2))
    df["video_url"] = "http://127.0.0.1:8787/cdn/files/x.mp4"
    (tmp_path / "run" / "videos" / "j001-abcdef12.mp4").unlink()  # one file gone: its emulator URL is dead too
    markup = report(df).read_text()
    assert "127.0.0.1" not in markup
    srcs = [v["src"] for v in Tree(markup).find("video")]
    assert srcs == ["videos/j000-abcdef12.mp4"] and "no video file" in markup


def test_report_posters_are_embedded_so_thumbnails_show_wherever_it_is_opened(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    tree = Tree(report_html(df))
    posters = tree.find("img", "sd-poster")
    assert len(posters) == 6 and all((p["src"] or "").startswith("data:image/jpeg;base64,") for p in posters)


def test_report_names_the_backend_and_the_emulator_bills_nothing(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    df["backend"] = "emulator"
    markup = report_html(df)
    assert 'data-backend="emulator"' in markup and "the emulator (nothing billed)" in markup
    assert card(markup, "cost") == "$0.00" and "emulated, nothing billed" in markup
    jobs = markup.split('id="sd-jobs"')[1]
    assert "$0.00 (emulated)" in jobs
    df["backend"] = "fal"
    markup = report_html(df)
    assert card(markup, "backend") == "fal" and card(markup, "cost (completed)") == "$3.39"
    assert "emulated" not in markup


def test_report_header_describes_this_run_with_cached_jobs_counted_as_such(tmp_path: Path) -> None:
    df = mixed_sweep(tmp_path / "run")
    df.loc[[0, 1], "status"] = "cached"
    # cached jobs keep the timings of the run that made them, long before this one
    df.loc[[0, 1], "submitted_at"] = df.loc[2, "submitted_at"] - pd.Timedelta(minutes=2, seconds=33)
    markup = report_html(df)
    fresh = df[df["status"] != "cached"]
    wall = (fresh["completed_at"].max() - fresh["submitted_at"].min()).total_seconds()
    assert card(markup, "wall clock") == mk.fmt_seconds(wall) and "min" not in card(markup, "wall clock")
    assert card(markup, "videos") == "6" and "2 cached from earlier runs" in markup
    assert "cached (made in an earlier run)" in markup.split('id="timeline"')[1]


def test_report_formats_dates_and_tells_long_prompts_apart(tmp_path: Path) -> None:
    opening = "A cinematic slow dolly shot over a quiet alpine lake at golden hour, mist rising, then "
    df = sweep_frame(tmp_path / "run", prompts=(opening + "a heron", opening + "a boat"), seeds=(1,))
    (tmp_path / "run" / "sweep.json").write_text(json.dumps({"name": "r", "created_at": "2026-11-25T08:41:07+00:00"}))
    markup = report_html(df)
    assert "2026-11-25 08:41 UTC" in markup and "2026-11-25T08:41:07" not in markup
    cells = re.findall(r'<td class="txt wide"[^>]*>(.*?)</td>', markup.split('id="sd-jobs"')[1])
    assert cells == ["…a heron", "…a boat"]
    assert f'title="{opening}a heron"' in markup


def test_report_path_shows_the_report_inline_with_a_file_link(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    df = mixed_sweep(tmp_path / "run")
    path = report(df)
    assert isinstance(path, Path) and path == tmp_path / "run" / "report.html"
    inline = path._repr_html_()
    assert path.resolve().as_uri() in inline and "403" in inline
    tree = Tree(inline)
    # inline, media are referenced for JupyterLab: relative to the notebook's folder, posters by reference
    assert [v["src"] for v in tree.find("video")][0] == "run/videos/j000-abcdef12.mp4"
    assert tree.find("img", "sd-poster")[0]["src"] == "run/posters/j000-abcdef12.jpg"
    assert "<html" not in inline and "<body" not in inline and 'class="sd-report"' in inline


def test_report_shows_the_input_image_a_run_folder_keeps_by_hash(client, png_path, tmp_path: Path) -> None:
    from seedance_nb.sweep import Grid, run_sweep

    sweep = run_sweep(
        Grid(image=png_path, prompt="a", resolution="480p", duration=4),
        client=client, run_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    section = report_html(sweep).split('id="inputs"')[1].split("</section>")[0]
    assert "first frame" not in section and "image: landscape.png" in section
    (img,) = Tree(section).find("img")
    with Image.open(io.BytesIO(base64.b64decode((img["src"] or "").split(",", 1)[1]))) as thumb:
        assert thumb.size == (320, 180)  # the 800x450 input itself, not a video frame
