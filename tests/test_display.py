"""The notebook display layer: grids, comparisons, single results, sources and escaping."""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from display_fixtures import Tree, sweep_frame, write_jpeg, write_mp4

from seedance_nb import display
from seedance_nb import markup as mk
from seedance_nb.schema import File, VideoOutput

XSS = "<script>alert(1)</script>"


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run folder under the working directory, as when a notebook runs a sweep next to itself."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "runs" / "demo"


def body_rows(tree: Tree) -> int:
    return len(tree.find("tr", "sd-row"))


def cells(tree: Tree) -> list[dict[str, str | None]]:
    return tree.find("td", "sd-cell")


# --------------------------------------------------------------------------- pivots


def test_grid_rows_are_prompts_and_columns_are_seeds(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), seeds=(1, 2, 3))
    tree = Tree(display.grid_html(df, rows="prompt", cols="seed"))
    assert body_rows(tree) == 2
    assert len(tree.find("th", "sd-colhead")) == 3
    assert len(tree.find("th", "sd-rowhead")) == 2
    assert len(cells(tree)) == 6
    assert len(tree.find("video")) == 6
    assert "seed 1" in tree.all_text and "seed 3" in tree.all_text


def test_grid_pivots_on_several_columns_per_axis(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), durations=("4", "8"), seeds=(1, 2, 3))
    tree = Tree(display.grid_html(df, rows=("prompt", "duration"), cols="seed"))
    assert body_rows(tree) == 4 and len(tree.find("th", "sd-colhead")) == 3
    tree = Tree(display.grid_html(df, rows="prompt", cols=("duration", "seed")))
    assert body_rows(tree) == 2 and len(tree.find("th", "sd-colhead")) == 6
    assert len(cells(tree)) == 12 and len(tree.find("video")) == 12


def test_grid_with_one_axis_or_none(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2, 3))
    tree = Tree(display.grid_html(df, rows="seed", cols=None))
    assert body_rows(tree) == 3 and len(cells(tree)) == 3 and not tree.find("thead")
    tree = Tree(display.grid_html(df, rows=None, cols="seed"))
    assert body_rows(tree) == 1 and len(tree.find("th", "sd-colhead")) == 3 and not tree.find("th", "sd-rowhead")


def test_takes_share_a_cell_side_by_side_or_get_their_own_columns(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), seeds=(1, 2), takes=2)
    markup = display.grid_html(df, rows="prompt", cols="seed")
    tree = Tree(markup)
    assert len(cells(tree)) == 4 and len(tree.find("video")) == 8
    first_cell = markup.split('<td class="sd-cell">')[1].split("</td>")[0]
    assert first_cell.count("<video") == 2
    assert "take</span> 1" in first_cell and "take</span> 2" in first_cell

    tree = Tree(display.grid_html(df, rows="prompt", cols=("seed", "take")))
    assert len(tree.find("th", "sd-colhead")) == 4 and len(cells(tree)) == 8
    for cell in display.grid_html(df, rows="prompt", cols=("seed", "take")).split('<td class="sd-cell">')[1:]:
        assert cell.split("</td>")[0].count("<video") == 1


def test_an_unknown_axis_names_the_column(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,))
    with pytest.raises(KeyError, match="'colour'"):
        display.grid_html(df, rows="colour")


# --------------------------------------------------------------------------- captions and placeholders


def test_caption_shows_what_varies_off_the_axes_with_timing_and_cost(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), durations=("4", "8"), seeds=(1, 2))
    markup = display.grid_html(df, rows="prompt", cols="seed")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", markup)
    assert len(captions) == 8
    text = [re.sub(r"<[^>]+>", "", c) for c in captions]
    assert text[0] == "#0duration 4queue 1.0 s · gen 10.0 s · $0.56"  # the job number rate() takes, first
    assert [t.split("duration")[0] for t in text] == [f"#{i}" for i in (0, 2, 1, 3, 4, 6, 5, 7)]
    assert all("duration" in t for t in text)
    # constant inputs (resolution, image) and the axes themselves are not repeated in captions
    assert not any("480p" in t or "cat.png" in t or "seed" in t or "prompt" in t for t in text)


def test_failed_running_and_missing_cells(run_dir: Path) -> None:
    df = sweep_frame(
        run_dir,
        prompts=("a", "b"),
        seeds=(1, 2, 3),
        errors={1: ("ModerationError", 'Output audio has <b>"sensitive"</b> content.')},
        statuses={3: "submitted", 4: "running"},
        drop=[5],
    )
    markup = display.grid_html(df)
    tree = Tree(markup)
    assert len(tree.find("video")) == 2
    assert len(tree.find("td", "sd-missing")) == 1
    expected = ["completed", "failed", "completed", "submitted", "running"]
    assert [a["data-status"] for a in tree.find("figure")] == expected
    assert 'ModerationError: Output audio has <b>"sensitive"</b> content.' in tree.all_text
    assert '<b>"sensitive"</b>' not in markup  # only escaped
    errors = tree.find("div", "sd-error")
    assert errors[0]["title"] == 'Output audio has <b>"sensitive"</b> content.'
    assert "submitted" in tree.all_text and "running" in tree.all_text
    # fal bills completed jobs only: no cost under the failure; an estimate under pending jobs
    failed_caption = markup.split('data-status="failed"')[1].split("</figure>")[0]
    assert "$" not in failed_caption
    assert "est. $0.56" in markup.split('data-status="running"')[1].split("</figure>")[0]


def test_an_interrupted_cell_says_why_and_how_to_finish_it(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,), statuses={0: "interrupted"})
    df.loc[0, "error"] = "cancelled while downloading; <paid>, resume() downloads it"
    markup = display.grid_html(df)
    assert "&lt;paid&gt;, resume() downloads it" in markup and "<paid>" not in markup
    assert [f["data-status"] for f in Tree(markup).find("figure")] == ["interrupted"]


def test_a_completed_job_whose_file_is_gone_and_has_no_url_says_so(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,), write_files=False)
    markup = display.grid_html(df)
    assert "<video" not in markup and "no video file" in markup


# --------------------------------------------------------------------------- escaping


def test_prompts_file_names_and_labels_are_escaped(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=(XSS, 'say "hi" & <go>'), seeds=(1, 2))
    for markup in (
        display.grid_html(df),
        display.grid_html(df, rows="seed", cols="prompt"),
        display.sweep_html(df),
        display.result_html(df.iloc[0]),
        display.compare_html(df.iloc[0], df.iloc[2]),
        display.compare_html(df.iloc[0], labels=[XSS]),
    ):
        assert XSS not in markup
        assert "<go>" not in markup
        assert len(re.findall(r"<script>", markup)) == markup.count("</script>") <= 1
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert XSS in Tree(display.grid_html(df)).all_text


def test_a_file_name_with_quotes_stays_inside_its_attribute(run_dir: Path) -> None:
    video = write_mp4(run_dir / "videos" / """it's "quoted" <&>.mp4""")
    poster = write_jpeg(run_dir / "posters" / """it's "quoted".jpg""")
    markup = display.result_html({"path": str(video), "poster": str(poster), "status": "completed"})
    (tag,) = Tree(markup).find("video")
    assert unquote(tag["src"] or "") == 'runs/demo/videos/it\'s "quoted" <&>.mp4'
    (img,) = Tree(markup).find("img", "sd-poster")
    assert unquote(img["src"] or "") == 'runs/demo/posters/it\'s "quoted".jpg'
    assert set(tag) == {"src", "preload", "muted", "loop", "controls", "playsinline"}
    assert """it's "quoted" <&>.mp4""" in Tree(display.compare_html(str(video), str(video))).all_text


def test_script_json_cannot_close_its_script() -> None:
    text = mk.script_json({"x": "</script><!-- -->"})
    assert "</" not in text and "<!--" not in text and "-->" not in text
    assert "\\u003c/script\\u003e" in text


# --------------------------------------------------------------------------- sources


def test_files_under_the_working_directory_are_linked_relatively(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,), video_url=True)
    tree = Tree(display.grid_html(df))
    (tag,) = tree.find("video")
    assert tag["src"] == "runs/demo/videos/j000-abcdef12.mp4"
    assert tag["preload"] == "metadata"
    # the poster is an <img> under the video: JupyterLab rewrites its relative src (it leaves poster= alone)
    (img,) = tree.find("img", "sd-poster")
    assert img["src"] == "runs/demo/posters/j000-abcdef12.jpg" and "poster" not in tag
    (tag,) = Tree(display.grid_html(df, base_dir=run_dir)).find("video")
    assert tag["src"] == "videos/j000-abcdef12.mp4"


def test_files_outside_the_root_use_their_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = sweep_frame(tmp_path / "elsewhere", prompts=("a",), seeds=(1,), video_url=True)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    (tag,) = Tree(display.grid_html(df)).find("video")
    assert tag["src"] == "https://v3.fal.media/files/j000.mp4"


def test_a_hidden_run_folder_is_not_linked_because_jupyter_answers_404(run_dir: Path) -> None:
    hidden = run_dir.parent / ".cache" / "run"
    df = sweep_frame(hidden, prompts=("a",), seeds=(1,), video_url=True)
    (tag,) = Tree(display.grid_html(df)).find("video")
    assert tag["src"] == "https://v3.fal.media/files/j000.mp4"


def test_files_outside_the_root_without_url_fall_back_to_file_urls_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    df = sweep_frame(tmp_path / "elsewhere", prompts=("a",), seeds=(1, 2))
    (tmp_path / "nb").mkdir()
    monkeypatch.chdir(tmp_path / "nb")
    with caplog.at_level(logging.WARNING, logger="seedance_nb.display"):
        tags = Tree(display.grid_html(df)).find("video")
    assert [t["src"] for t in tags] == [Path(p).as_uri() for p in df["path"]]
    (record,) = [r for r in caplog.records if "file://" in r.getMessage()]
    assert "2 videos outside" in record.getMessage() and "embed=True" in record.getMessage()


def test_embed_inlines_the_video_and_poster_bytes(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,), video_url=True)
    (tag,) = Tree(display.grid_html(df, embed=True)).find("video")
    assert (tag["src"] or "").startswith("data:video/mp4;base64,")
    assert base64.b64decode((tag["src"] or "").split(",", 1)[1]) == Path(df["path"][0]).read_bytes()
    (img,) = Tree(display.grid_html(df, embed=True)).find("img", "sd-poster")
    assert base64.b64decode((img["src"] or "").split(",", 1)[1]) == Path(df["poster"][0]).read_bytes()


def test_embedding_past_the_threshold_warns(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2))
    total = sum(Path(p).stat().st_size for p in [*df["path"], *df["poster"]])
    monkeypatch.setattr(mk, "EMBED_WARN_BYTES", total - 1)
    with pytest.warns(mk.LargeOutputWarning, match="MB of base64"):
        display.grid_html(df, embed=True)
    monkeypatch.setattr(mk, "EMBED_WARN_BYTES", total)
    display.grid_html(df, embed=True)  # exactly at the threshold: silent (warnings are errors here)


def test_a_24_video_grid_by_reference_stays_small(run_dir: Path) -> None:
    df = sweep_frame(
        run_dir,
        prompts=("a slow push-in over a misty lake at dawn", "a whip pan across a neon street", "an orbit"),
        durations=("4", "8"),
        seeds=(11, 22),
        takes=2,
        size=(496, 864),
        frames=3,
        video_url=True,
    )
    assert len(df) == 24
    for sync in (False, True):
        markup = display.grid_html(df, rows="prompt", cols=("duration", "seed"), sync=sync)
        tree = Tree(markup)
        videos = tree.find("video")
        assert len(videos) == 24 and all(v["preload"] == "metadata" for v in videos)
        assert len(tree.find("img", "sd-poster")) == 24
        assert len(markup.encode()) < 50_000, len(markup.encode())
    assert len(display.sweep_html(df).encode()) < 50_000


# --------------------------------------------------------------------------- synchronized playback


def test_sync_adds_one_scoped_script_and_a_hidden_control_bar(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), seeds=(1, 2))
    plain = display.grid_html(df)
    assert "<script" not in plain and not Tree(plain).find("div", "sd-syncbar")
    first, second = display.grid_html(df, sync=True), display.grid_html(df, sync=True)
    ids = []
    for markup in (first, second):
        tree = Tree(markup)
        (container,) = tree.find("div", "sd-gridwrap")
        (bar,) = tree.find("div", "sd-syncbar")
        assert "hidden" in bar  # revealed by the script; without scripts each video keeps its controls
        assert all("controls" in v and "muted" in v and "playsinline" in v for v in tree.find("video"))
        (script,) = tree.scripts
        assert f'document.getElementById("{container["id"]}")' in script
        assert "0.1" in script and "http" not in script and "src" not in script
        ids.append(container["id"])
    assert ids[0] != ids[1]


def test_compare_is_synchronized_by_default_and_larger(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2, 3))
    tree = Tree(display.compare_html(df.iloc[0], df.iloc[2]))
    videos = tree.find("video")
    assert len(videos) == 2
    # side by side, each up to 480 px and down to the readable minimum, then the row scrolls in its box
    (row,) = tree.find("div", "sd-compare")
    assert "min-width:492px" in (row["style"] or "") and "max-width:972px" in (row["style"] or "")
    assert [f["style"] for f in tree.find("figure", "sd-fig")] == ["max-width:480px"] * 2
    assert len(tree.scripts) == 1 and tree.find("div", "sd-syncbar")
    assert [a.get("class") for a in tree.find("div", "sd-title")] == ["sd-title", "sd-title"]
    assert "seed 1" in tree.all_text and "seed 3" in tree.all_text
    assert not Tree(display.compare_html(df.iloc[0], df.iloc[2], sync=False)).scripts
    with pytest.raises(ValueError, match="2 labels for 3 videos"):
        display.compare_html(df, labels=["x", "y"])
    assert len(Tree(display.compare_html(df)).find("video")) == 3


# --------------------------------------------------------------------------- single results and summaries


def test_result_html_for_a_row_a_model_output_a_path_and_a_url(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=(XSS,), seeds=(7,))
    tree = Tree(display.result_html(df.iloc[0]))
    assert tree.find("video")[0]["src"] == "runs/demo/videos/j000-abcdef12.mp4"
    assert XSS in tree.all_text and "seed 7" in tree.all_text and "$0.56" in tree.all_text

    output = VideoOutput(video=File(url="https://v3.fal.media/files/out.mp4", file_size=10), seed=5)
    (tag,) = Tree(display.result_html(output)).find("video")
    assert tag["src"] == "https://v3.fal.media/files/out.mp4"

    assert Tree(display.result_html(df["path"][0])).find("video")[0]["src"] == "runs/demo/videos/j000-abcdef12.mp4"
    assert Tree(mk.video_html("https://x.test/a b.mp4")).find("video")[0]["src"] == "https://x.test/a b.mp4"


def test_video_html_options(run_dir: Path) -> None:
    video = write_mp4(run_dir / "v.mp4")
    tree = Tree(mk.video_html(video, autoplay=True, muted=False, loop=False, width=320))
    (tag,) = tree.find("video")
    assert "autoplay" in tag and "muted" in tag and "loop" not in tag
    assert "max-width:320px" in (tree.find("div", "sd-fig")[0]["style"] or "")
    fig = mk.video_html(video, caption=XSS)
    assert XSS not in fig and XSS in Tree(fig).all_text
    with pytest.raises(FileNotFoundError):
        mk.video_html(run_dir / "nope.mp4")


def test_summary_counts_statuses_and_sums_cost_and_time(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), seeds=(1, 2, 3), errors={1: ("E", "m")}, statuses={4: "running"})
    text = Tree(display.summary_html(df)).all_text
    assert "6 jobs" in text and "4 completed" in text and "1 failed" in text and "1 running" in text
    assert f"cost {mk.fmt_usd(4 * 0.5645)}" in text  # completed jobs only
    gen = df.loc[df.status != "running", "generation_seconds"].sum()
    assert f"generation {mk.fmt_seconds(gen)}" in text
    assert "wall clock" in text


def test_sweep_html_picks_axes_from_what_varies(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), durations=("4", "8"), seeds=(1,), takes=2)
    tree = Tree(display.sweep_html(df))
    assert body_rows(tree) == 2  # prompts down the side
    assert len(tree.find("th", "sd-colhead")) == 2  # durations across; the seed is constant
    assert len(tree.find("video")) == 8 and "8 completed" in tree.all_text

    class FakeSweep:
        def __init__(self, df: pd.DataFrame) -> None:
            self.df = df.drop(columns=[])
            self.df.attrs.clear()
            self.run_dir = run_dir

    assert mk.frame_of(FakeSweep(df)).attrs["run_dir"] == str(run_dir)
    assert display.show_html(FakeSweep(df)).count("<video") == 8


def test_show_grid_and_compare_display_html_or_return_it(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[str] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj.data))
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2))
    assert display.show(df.iloc[0]) is None
    assert display.gallery(df) is None
    assert display.compare(df.iloc[0], df.iloc[1]) is None
    assert [s.count("<video") for s in shown] == [1, 2, 2]
    assert display.gallery(df, return_html=True) is not None and len(shown) == 3
    assert (display.show(df, return_html=True) or "").count("<video") == 2


# --------------------------------------------------------------------------- issue 16: how people really see it

HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.test/x.mp4",
]


def _links(markup: str) -> list[str]:
    tree = Tree(markup)
    return [v for _, attrs in tree.tags for k, v in attrs.items() if k in ("src", "href", "poster") and v]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_result_url_that_is_not_http_never_becomes_a_src_or_href(run_dir: Path, url: str) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2), write_files=False)
    df["video_url"], df["poster"] = url, url
    for markup in (
        display.grid_html(df),
        display.sweep_html(df),
        display.compare_html(df.iloc[0], df.iloc[1]),
        display.result_html(df.iloc[0]),
        display.result_html({"video_url": url, "status": "completed"}),
    ):
        links = _links(markup)
        assert all(link.startswith(("http://", "https://", "runs/")) for link in links), links
        assert "no video file" in markup
    if ":" in url:
        with pytest.raises(ValueError, match="only http"):
            mk.video_html(url.strip())
    else:  # no scheme: looked up as a file, which is not there
        with pytest.raises(FileNotFoundError):
            mk.video_html(url)


def test_safe_url_accepts_only_http_and_optionally_refuses_loopback() -> None:
    assert mk.safe_url("https://v3.fal.media/files/a.mp4") == "https://v3.fal.media/files/a.mp4"
    assert mk.safe_url("http://127.0.0.1:8787/cdn/a.mp4") == "http://127.0.0.1:8787/cdn/a.mp4"
    assert mk.safe_url("http://127.0.0.1:8787/cdn/a.mp4", loopback=False) is None
    assert mk.safe_url("http://localhost/a.mp4", loopback=False) is None
    assert all(mk.safe_url(u) is None for u in HOSTILE)
    assert mk.safe_url(None) is None and mk.safe_url(float("nan")) is None


def test_the_poster_is_an_img_under_the_video_with_the_videos_aspect_ratio(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1,), size=(96, 54))
    tree = Tree(display.grid_html(df))
    (media,) = tree.find("div", "sd-media")
    assert "aspect-ratio:96 / 54" in (media["style"] or "")
    (img,) = tree.find("img", "sd-poster")
    assert img["src"] == "runs/demo/posters/j000-abcdef12.jpg" and img["alt"] == ""
    # the img comes before the video, so the transparent video paints over it once it has a frame
    order = [t for t, a in tree.tags if t in ("img", "video")]
    assert order == ["img", "video"]


def test_grids_fit_the_output_then_scroll_in_their_own_box(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), seeds=(1, 2, 3, 4), write_files=False)
    tree = Tree(display.grid_html(df, rows="prompt", cols="seed", width=240))
    (table,) = tree.find("table", "sd-grid")
    style = table["style"] or ""
    minimum = int(re.search(r"min-width:(\d+)px", style).group(1))
    maximum = int(re.search(r"max-width:(\d+)px", style).group(1))
    assert minimum == 170 + 4 * mk.MIN_VIDEO_PX + 6 * 6 and maximum == 170 + 4 * 240 + 6 * 6
    assert all((f["style"] or "") == "max-width:240px" for f in tree.find("figure", "sd-fig"))
    assert "overflow-x:auto" in mk.CSS and ".sd-grid{" in mk.CSS and "table-layout:fixed" in mk.CSS


def test_prompts_with_a_long_shared_opening_are_told_apart_with_the_full_text_on_hover(run_dir: Path) -> None:
    opening = "A cinematic slow dolly shot over a quiet alpine lake at golden hour, mist rising, then "
    prompts = (opening + "a heron takes off", opening + "a boat drifts in")
    assert mk.distinct_labels(prompts) == ["…a heron takes off", "…a boat drifts in"]
    assert mk.distinct_labels(["a", "b", "a"]) == ["a", "b", "a"]  # short texts stay as they are
    df = sweep_frame(run_dir, prompts=prompts, seeds=(1, 2), write_files=False)
    tree = Tree(display.grid_html(df))
    heads = [
        re.sub(r"\s+", " ", h) for h in re.findall(r'<th class="sd-rowhead"[^>]*>(.*?)</th>', display.grid_html(df))
    ]
    assert [Tree(h).all_text for h in heads] == ["…a heron takes off", "…a boat drifts in"]
    assert tree.find("span") and any(a.get("title") == prompts[0] for a in tree.find("span"))


def test_sweep_and_grid_lay_out_one_sweep_the_same_way(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a", "b"), durations=("4", "8"), seeds=(1, 2, 3), write_files=False)

    def layout(markup: str) -> tuple:
        tree = Tree(markup)
        return (
            [Tree(h).all_text for h in re.findall(r"<th[^>]*>(.*?)</th>", markup)],
            [f["style"] for f in tree.find("figure", "sd-fig")],
            [f["data-job"] for f in tree.find("figure", "sd-fig")],
        )

    assert layout(display.sweep_html(df)) == layout(display.grid_html(df))


def test_backend_and_cost_line_say_the_emulator_bills_nothing(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2), write_files=False)
    df["backend"] = "emulator"
    summary = Tree(display.summary_html(df))
    (chip,) = summary.find("span", "sd-backend")
    assert chip["data-backend"] == "emulator"
    assert "emulated, nothing billed (about $1.13 on fal)" in summary.all_text
    grid = Tree(display.grid_html(df))
    assert grid.find("span", "sd-backend")[0]["data-backend"] == "emulator"  # the grid's header names it
    assert (
        sum("emulated, nothing billed" in t for t in re.findall(r"<figcaption>.*?</figcaption>", display.grid_html(df)))
        == 2
    )
    df["backend"] = "fal"
    text = Tree(display.summary_html(df)).all_text
    assert "fal" in text and "$1.13 (estimated, completed jobs)" in text and "emulated" not in text
    # an old run folder names no backend: loopback video URLs mean the emulator
    df = df.drop(columns="backend")
    df["video_url"] = "http://127.0.0.1:8787/cdn/files/x.mp4"
    assert mk.backend_of(df) == "emulator"


def test_wall_clock_counts_only_this_runs_jobs_and_cached_ones_are_named(run_dir: Path) -> None:
    df = sweep_frame(run_dir, prompts=("a",), seeds=(1, 2, 3), write_files=False)
    # job 0 was made two and a half minutes earlier by another run and is a cache hit now
    df.loc[0, "status"] = "cached"
    df.loc[0, "submitted_at"] = df.loc[1, "submitted_at"] - pd.Timedelta(minutes=2, seconds=30)
    t = mk.totals(df)
    fresh = df.iloc[1:]
    expected = (fresh["completed_at"].max() - fresh["submitted_at"].min()).total_seconds()
    assert t["wall_seconds"] == expected and t["cached"] == 1
    assert t["generation_seconds"] == fresh["generation_seconds"].sum()
    assert "1 cached, no charge" in mk.cost_text(t)


def test_rating_scale_is_one_for_stars_and_thumbs() -> None:
    assert [mk.rating_stars(v) for v in (1, 5, 3.0, "up", "down", True, False, None, 0, 7, "x")] == [
        1, 5, 3, 5, 1, 5, 1, None, None, None, None,
    ]  # fmt: skip


def test_timestamps_are_formatted() -> None:
    assert mk.fmt_when("2026-11-25T08:41:07.123456+00:00") == "2026-11-25 08:41 UTC"
    assert mk.fmt_when(None) == "—"


def test_every_job_status_shows_with_its_own_word_and_an_honest_cost(run_dir: Path) -> None:
    """One vocabulary (statuses.JobStatus): every real status reaches the grid, the summary and the report, none is
    counted twice or lost, and only billed statuses show a bare price."""
    from seedance_nb.reporting import report_html
    from seedance_nb.statuses import NO_CHARGE, PENDING, JobStatus

    statuses = list(JobStatus)
    df = sweep_frame(run_dir, prompts=("a",), seeds=range(1, len(statuses) + 1), statuses=dict(enumerate(statuses)))
    df["backend"] = "fal"
    assert sorted(df["status"]) == sorted(s.value for s in statuses)
    tree = Tree(display.grid_html(df))
    figures = {f["data-status"]: f for f in tree.find("figure")}
    assert set(figures) == {s.value for s in statuses}
    markup = display.grid_html(df)
    for status in statuses:
        caption = markup.split(f'data-status="{status}"')[1].split("</figure>")[0]
        if status in mk.ESTIMATED:
            assert "est. $" in caption, status  # not billed yet: an estimate, said so
        elif status == JobStatus.CACHED:
            assert "cached, no charge" in caption
        elif status in NO_CHARGE:
            assert "$" not in caption, status  # fal bills no failed or cancelled request
        else:
            assert "$" in caption and "est." not in caption, status
    chips = re.findall(r'<span class="sd-chip sd-([a-z]+)"><b>(\d+)</b>', display.summary_html(df))
    chips = [(s, n) for s, n in chips if s != "cost"]
    assert chips == [(s.value, "1") for s in mk.STATUS_ORDER]
    report = report_html(df)
    from test_report import card

    assert card(report, "jobs") == str(len(statuses))
    still = [s for s in PENDING if s not in (JobStatus.INTERRUPTED, JobStatus.UNKNOWN)]
    assert card(report, "still running") == str(len(still))  # planned, submitting, submitted, running, downloading
    for status in ("cancelled", "interrupted", "unknown", "failed"):
        assert card(report, status) == "1"
