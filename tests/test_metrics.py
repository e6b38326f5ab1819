"""Metrics against ground truth: clips written frame by frame with PyAV, and the emulator's camera moves and
defects served over loopback HTTP through a real sweep; then ranking, flags, filmstrips, contact sheets,
previews and the HTML that shows them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from seedance_testconf import TEST_CONFIG, make_png

import seedance_nb as sd
from seedance_nb.client import AsyncClient
from seedance_nb.display import grid_html
from seedance_nb.errors import InputError
from seedance_nb.quality import (
    METRIC_COLUMNS,
    export_previews,
    filmstrip_html,
    flags_html,
    markdown_text,
    measure_download,
    metrics_section_html,
)
from seedance_nb.quality._measuring import _image_file
from seedance_nb.runs import OUTCOME_COLUMNS
from seedance_nb.sweep import Grid, load_sweep, run_sweep

W, H, FPS = 320, 180, 24

# --------------------------------------------------------------------------- clips made with PyAV


def picture(seed: int, width: int = W, height: int = H) -> np.ndarray:
    """A structured RGB picture (shapes and a gradient) that differs clearly by ``seed``."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 255, (9, 16, 3)).astype(np.uint8)  # a smooth colour field, like a photo's
    img = Image.fromarray(texture).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(8, 40))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    return np.asarray(img)


def write_clip(path: Path, frames, *, audio: np.ndarray | None = None, rate: int = 24_000) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "18"}
        sound = None
        if audio is not None:
            sound = out.add_stream("aac", rate=rate)
            sound.layout = "mono"
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = i
            out.mux(video.encode(vf))
        out.mux(video.encode())
        if sound is not None:
            for start in range(0, len(audio), 1024):
                af = av.AudioFrame.from_ndarray(
                    audio[start : start + 1024].reshape(1, -1), format="fltp", layout="mono"
                )
                af.sample_rate, af.pts = rate, start
                out.mux(sound.encode(af))
            out.mux(sound.encode())
    return path


def panning(base: np.ndarray, n: int, speed: int = 3) -> list[np.ndarray]:
    return [np.roll(base, i * speed, axis=1) for i in range(n)]


def tone(seconds: float, amplitude: float = 0.1, rate: int = 24_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_a_static_clip_has_the_lowest_motion_and_is_frozen(tmp_path):
    base = picture(1)
    still = sd.metrics(write_clip(tmp_path / "still.mp4", [base] * 97))
    slow = sd.metrics(write_clip(tmp_path / "slow.mp4", panning(base, 97, 1)))
    fast = sd.metrics(write_clip(tmp_path / "fast.mp4", panning(base, 97, 6)))
    assert still.motion < 0.001 < slow.motion < fast.motion
    assert still.frozen and "frozen" in still.flags
    assert not slow.frozen and not fast.frozen and slow.flags == fast.flags == ()


def test_start_fidelity_is_high_for_the_input_image_and_low_for_another(tmp_path):
    base, other = picture(1), picture(2)
    clip = write_clip(tmp_path / "c.mp4", panning(base, 49))
    # The input is larger and of another ratio: fal centre-crops it to the clip's 16:9 before comparing.
    wide = np.concatenate([picture(9, 100, H), base, picture(9, 100, H)], axis=1)
    assert sd.metrics(clip, image=base).start_fidelity > 0.9
    assert sd.metrics(clip, image=Image.fromarray(wide)).start_fidelity > 0.9
    assert sd.metrics(clip, image=other).start_fidelity < 0.5
    assert sd.metrics(clip).start_fidelity is None


def test_an_image_file_is_decoded_once_but_a_rewritten_file_is_read_again(tmp_path):
    """A sweep's clips share their input image: the file is decoded once (kept by path, time and size), and an
    image saved again under the same name is read anew."""
    base, other = picture(1), picture(2)
    clip = write_clip(tmp_path / "c.mp4", panning(base, 49))
    path = tmp_path / "input.png"
    Image.fromarray(base).save(path)
    first = sd.metrics(clip, image=path).start_fidelity
    hits = _image_file.cache_info().hits
    assert sd.metrics(clip, image=str(path)).start_fidelity == first > 0.9
    assert _image_file.cache_info().hits == hits + 1
    Image.fromarray(other).save(path)
    assert sd.metrics(clip, image=path).start_fidelity < 0.5


def test_fidelity_is_scikit_images_ssim_on_y_cb_cr(tmp_path):
    """The OpenCV SSIM gives scikit-image's structural_similarity (the reference) on the decoded frame against
    fal's crop of the input, channel by channel, and their 0.8/0.1/0.1 blend is start_fidelity."""
    from skimage.metrics import structural_similarity

    from seedance_nb.quality._measuring import _YCBCR, FIDELITY_AREA, _size_for, fal_crop, ssim_channels

    base, other = picture(1), picture(2)
    clip = write_clip(tmp_path / "c.mp4", panning(base, 25, 4))
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
    w, h = _size_for(frame.width, frame.height, FIDELITY_AREA)
    got = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
    matrix = np.asarray(_YCBCR, np.float32).T / 255
    for image in (base, other):
        want = np.asarray(fal_crop(Image.fromarray(image), w, h))
        a, b = got.astype(np.float32) @ matrix, want.astype(np.float32) @ matrix
        reference = [
            structural_similarity(
                a[..., c], b[..., c], data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            )
            for c in range(3)
        ]
        assert ssim_channels(a, b) == pytest.approx(reference, abs=1e-5)  # float32 sums; fidelity keeps 4 places
        blend = 0.8 * reference[0] + 0.1 * reference[1] + 0.1 * reference[2]
        assert sd.metrics(clip, image=image).start_fidelity == pytest.approx(blend, abs=1e-4)
    rng = np.random.default_rng(5)
    noise = rng.random((37, 61), dtype=np.float32)  # odd sizes, one channel
    blurred = np.clip(noise + rng.normal(0, 0.2, noise.shape), 0, 1).astype(np.float32)
    one = structural_similarity(
        noise, blurred, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim_channels(noise, blurred) == pytest.approx([one], abs=1e-5)


def test_end_fidelity_is_high_when_the_last_frame_is_the_end_image(tmp_path):
    first, last = picture(1), picture(2)
    fade = [((1 - a) * first + a * last).astype(np.uint8) for a in np.linspace(0, 1, 49)]
    clip = write_clip(tmp_path / "fade.mp4", fade)
    m = sd.metrics(clip, image=first, end_image=last)
    assert m.start_fidelity > 0.9 and m.end_fidelity > 0.9
    assert sd.metrics(clip, end_image=first).end_fidelity < 0.5
    assert m.cuts == 0, "a cross-fade is not a cut"


def test_one_hard_cut_counts_one_and_a_continuous_move_none(tmp_path):
    a, b = picture(1), picture(2)
    one = write_clip(tmp_path / "cut.mp4", panning(a, 48, 2) + panning(b, 49, 2))
    two = write_clip(tmp_path / "two.mp4", [a] * 30 + [b] * 30 + [a] * 37)
    assert sd.metrics(one).cuts == 1 and "cut" in sd.metrics(one).flags
    assert sd.metrics(two).cuts == 2
    assert sd.metrics(write_clip(tmp_path / "pan.mp4", panning(a, 97, 8))).cuts == 0


def test_a_black_clip_and_a_silent_track_are_flagged(tmp_path):
    black = np.zeros((H, W, 3), np.uint8)
    dark = sd.metrics(write_clip(tmp_path / "black.mp4", [black] * 49, audio=tone(2.04)))
    assert dark.black_fraction == 1.0 and "black" in dark.flags and dark.cuts == 0
    mute = sd.metrics(write_clip(tmp_path / "mute.mp4", panning(picture(1), 49), audio=np.zeros(49_000, np.float32)))
    assert mute.has_audio and mute.silent_fraction > 0.9 and mute.loudness_db == -70.0 and "silent" in mute.flags
    loud = sd.metrics(write_clip(tmp_path / "loud.mp4", panning(picture(1), 49), audio=tone(2.04)))
    # A 440 Hz sine at -20 dBFS peak in one channel measures about -23 LUFS (ITU-R BS.1770).
    assert loud.silent_fraction < 0.1 and -25 < loud.loudness_db < -21 and loud.flags == ()
    none = sd.metrics(write_clip(tmp_path / "none.mp4", panning(picture(1), 49)))
    assert not none.has_audio and none.loudness_db is None and none.silent_fraction is None


def test_streamed_loudness_equals_pyloudnorm_on_the_whole_track(tmp_path):
    import pyloudnorm

    rng = np.random.default_rng(7)
    t = np.arange(int(3.04 * 24_000)) / 24_000
    # Speech-like: noise bursts with a quiet stretch, so both BS.1770 gates matter.
    signal = (rng.normal(0, 0.08, t.size) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t)) * (t > 0.8)).astype(np.float32)
    clip = write_clip(tmp_path / "speech.mp4", panning(picture(1), 73), audio=signal)
    with av.open(str(clip)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=24_000)
        decoded = np.concatenate(
            [out.to_ndarray().reshape(-1) for f in c.decode(audio=0) for out in resampler.resample(f)]
            + [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        )
    whole = pyloudnorm.Meter(24_000).integrated_loudness(decoded.astype(np.float64))
    assert sd.metrics(clip).loudness_db == pytest.approx(whole, abs=0.02)


def test_a_4_s_clip_for_a_5_s_request_is_one_second_short(tmp_path):
    clip = write_clip(tmp_path / "four.mp4", panning(picture(1), 4 * FPS + 1))
    m = sd.metrics(clip, requested_seconds=5)
    assert m.duration_error == -1.0 and m.seconds == 4.0 and m.frames == 97 and "short" in m.flags
    assert sd.metrics(clip, requested_seconds="4").duration_error == 0.0
    assert sd.metrics(clip).duration_error is None


def test_flicker_sees_brightness_pumping_but_not_a_steady_fade(tmp_path):
    base = picture(3).astype(np.int16)
    pumping = [np.clip(base + (25 if i % 2 else -25), 0, 255).astype(np.uint8) for i in range(49)]
    fade = [np.clip(base * (1 - i / 60), 0, 255).astype(np.uint8) for i in range(49)]
    assert sd.metrics(write_clip(tmp_path / "p.mp4", pumping)).flicker > 0.05
    assert sd.metrics(write_clip(tmp_path / "f.mp4", fade)).flicker < 0.002


def test_bad_input_names_the_field(tmp_path):
    with pytest.raises(InputError) as info:
        sd.metrics(tmp_path / "missing.mp4")
    assert info.value.fields == ("video",)
    clip = write_clip(tmp_path / "c.mp4", [picture(1)] * 10)
    with pytest.raises(InputError) as info:
        sd.metrics(clip, requested_seconds="five")
    assert info.value.fields == ("requested_seconds",)
    with pytest.raises(InputError) as info:
        sd.metrics(clip, image=tmp_path / "nope.png")
    assert info.value.fields == ("image",)
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(InputError, match="not a readable video"):
        sd.metrics(tmp_path / "text.mp4")
    with pytest.raises(InputError) as info:
        sd.filmstrip(clip, 0)
    assert info.value.fields == ("n",)


def test_filmstrip_shows_first_and_last_frames(tmp_path):
    first, last = picture(1), picture(2)
    clip = write_clip(tmp_path / "c.mp4", [first] * 24 + [last] * 25)
    strip = sd.filmstrip(clip, 4, height=90)
    assert strip.size == (4 * 160 + 3 * 2, 90)
    tiles = np.asarray(strip).astype(int)
    small = np.asarray(Image.fromarray(first).resize((160, 90))).astype(int)
    assert np.abs(tiles[:, :160] - small).mean() < 12
    small_last = np.asarray(Image.fromarray(last).resize((160, 90))).astype(int)
    assert np.abs(tiles[:, -160:] - small_last).mean() < 12


# --------------------------------------------------------------------------- the emulator's clips in a sweep

#: prompt -> what the emulator was asked for (each one clip of a zipped sweep).
CASES = {
    "a slow push in": "push",
    "a whip pan to the left": "pan",
    "a static shot, the camera does not move": "static",
    "frozen": "frozen",
    "black frames": "black",
    "a hard cut to another angle": "cut",
    "silent": "silent",
    "a short clip": "short",
}


@pytest.fixture(scope="module")
def measured(emulator, tmp_path_factory):
    """One zipped sweep through the emulator: a clip per camera move and defect, each 4 s at 480p, measured."""
    emulator.configure(**TEST_CONFIG)
    root = tmp_path_factory.mktemp("metrics")
    image = root / "start.png"
    # A photograph stretched to 10:7 (so the crop to 16:9 is tested): texture everywhere, for the camera's flow.
    Image.open(sd.sample_image()).convert("RGB").resize((1000, 700)).save(image)
    client = AsyncClient(queue_url=emulator.queue_url, rest_url=emulator.rest_url, cdn_url=emulator.cdn_url)
    grid = Grid(image=image, prompt=list(CASES), seed=1, duration=4, resolution="480p", aspect_ratio="16:9")
    sweep = run_sweep(grid, client=client, run_dir=root / "sweeps" / "moves", progress=False)
    sweep.compute_metrics()
    return sweep


def _by_case(sweep) -> dict[str, dict]:
    return {CASES[row["prompt"]]: row for row in sweep.df.to_dict("records")}


def test_the_emulator_clips_carry_their_ground_truth(measured):
    rows = _by_case(measured)
    assert all(r["status"] == "completed" for r in rows.values())
    frozen = rows["frozen"]
    assert frozen["frozen"] and frozen["motion"] == min(r["motion"] for r in rows.values())
    assert not rows["static"]["frozen"], "a static camera still shows the seed's details moving"
    for name in ("push", "pan", "cut", "silent", "short"):
        assert rows[name]["motion"] > rows["static"]["motion"] > frozen["motion"]
    # Every first frame is the input image after fal's crop for 16:9 (the input is 10:7).
    assert all(r["start_fidelity"] > 0.9 for r in rows.values())
    assert rows["cut"]["cuts"] == 1 and all(r["cuts"] == 0 for k, r in rows.items() if k != "cut")
    assert "black" in rows["black"]["flags"] and 0.3 < rows["black"]["black_fraction"] < 0.5
    assert "silent" in rows["silent"]["flags"] and rows["silent"]["has_audio"]
    assert rows["short"]["duration_error"] == -1.0 and "short" in rows["short"]["flags"]
    clean = [k for k in ("push", "pan", "static") if rows[k]["flags"] == ""]
    assert clean == ["push", "pan", "static"], {k: rows[k]["flags"] for k in rows}
    assert all(r["duration_error"] == 0.0 for k, r in rows.items() if k != "short")


def test_the_camera_move_is_measured_in_the_same_pass_and_judged_against_the_prompt(measured):
    rows = _by_case(measured)
    assert rows["push"]["camera_move"] == "push in" and rows["push"]["camera_asked"] == "push in"
    assert rows["pan"]["camera_move"] == "pan left" and rows["pan"]["camera_adherence"] == "match"
    assert rows["static"]["camera_move"] == "static" and rows["static"]["camera_adherence"] == "match"
    assert rows["silent"]["camera_adherence"] == "no move asked" and pd.isna(rows["silent"]["camera_asked"])
    assert all(0 < r["camera_confidence"] <= 1 and r["camera_speed"] >= 0 for r in rows.values())
    ranked = measured.rank("camera_adherence")
    assert list(ranked["camera_adherence"])[:3] == ["match"] * 3


def test_metrics_are_journalled_outcome_columns_that_survive_a_reload(measured):
    events = [json.loads(line) for line in (measured.run_dir / "journal.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "metrics" for e in events) == len(CASES)
    assert set(METRIC_COLUMNS) <= set(measured.df.columns) and set(METRIC_COLUMNS) <= OUTCOME_COLUMNS
    again = load_sweep(measured.run_dir)
    cols = list(METRIC_COLUMNS)
    assert again.df[cols].equals(measured.df[cols])
    again.compute_metrics()  # nothing left to measure: no new lines
    assert (measured.run_dir / "journal.jsonl").read_text().count('"event":"metrics"') == len(CASES)


def test_best_and_rank_sort_by_a_metric_and_leave_flagged_takes_out(measured):
    best = measured.best(by="motion", n=2)
    assert len(best) == 2 and best["flags"].eq("").all()
    assert best["motion"].iloc[0] >= best["motion"].iloc[1]
    ranked = measured.rank("motion")
    assert list(ranked["rank"]) == list(range(1, len(CASES) + 1))
    assert CASES[ranked["prompt"].iloc[-1]] == "frozen"
    assert measured.rank("motion", within="prompt")["rank"].eq(1).all(), "one take per prompt: each is its best"
    calm = measured.rank("motion", ascending=True)
    assert CASES[calm["prompt"].iloc[0]] == "frozen"
    closest = measured.rank("duration_error")
    assert CASES[closest["prompt"].iloc[-1]] == "short"
    with pytest.raises(InputError) as info:
        measured.best(by="sharpness")
    assert info.value.fields == ("by",)


def test_grid_captions_carry_flags_and_rows_can_sort_by_a_metric(measured):
    markup = grid_html(measured, rows=None, cols="prompt", base_dir=measured.run_dir)
    assert markup.count('class="sd-flag sd-flag-') == sum(len(f.split(", ")) for f in measured.df["flags"] if f)
    assert 'sd-flag-frozen" title="nearly nothing moves' in markup
    ranked = grid_html(measured, rows=None, cols="prompt", base_dir=measured.run_dir, sort_by="motion")
    assert "rank by motion" in ranked
    order = [ranked.index(p) for p in measured.rank("motion")["prompt"]]
    assert order == sorted(order), "each row lists its takes best first"


def test_contact_sheet_is_one_png_of_the_sweep(measured):
    sheet = measured.contact_sheet()
    path = measured.run_dir / "contact_sheet.png"
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size == sheet.size
    # One line per prompt (what varies runs down the side), one take per line, three frames each.
    assert sheet.height > len(CASES) * 90 and sheet.width > 3 * 156


def test_previews_are_small_animated_webp_and_gif_laid_out_as_a_markdown_grid(measured, tmp_path):
    page = measured.export_previews(tmp_path / "previews", sort_by="motion")
    text = page.read_text()
    for job, case in enumerate(CASES.values()):
        webp, gif = tmp_path / "previews" / f"{job:03d}.webp", tmp_path / "previews" / f"{job:03d}.gif"
        assert f"]({job:03d}.webp)" in text and f"({job:03d}.gif)" in text
        for file, fmt in ((webp, "WEBP"), (gif, "GIF")):
            assert 0 < file.stat().st_size < 10 * 1024 * 1024
            with Image.open(file) as im:
                # Identical frames merge into one (the frozen take is one still, shown for its whole length).
                assert im.format == fmt and im.width == 320 and (im.n_frames > 10 or case == "frozen")
    assert text.count("\n|") >= len(CASES), "one table row per prompt"
    assert "flags: frozen" in text


def test_previews_escape_what_the_user_wrote(emu, client, tmp_path, png_path):
    hostile = "x | ![y](javascript:alert(1)) <script>alert(2)</script> [z](http://e.vil) *b* `c`"
    grid = Grid(image=png_path, prompt=[hostile, "calm"], seed=1, duration=4, resolution="480p")
    sweep = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "h", progress=False)
    page = export_previews(sweep.compute_metrics().df, tmp_path / "p", gif=False)
    text = page.read_text()
    assert "<script" not in text and "](javascript" not in text and "](http://e.vil" not in text
    assert markdown_text(hostile) in text
    section = metrics_section_html(sweep.df, run_dir=sweep.run_dir, image_src=str)
    assert "<script>alert" not in section and "&lt;script&gt;" in section and "<svg" in section
    report = sd.report(sweep, metric="start_fidelity").read_text()
    assert 'id="metrics"' in report and "<script>alert(2)" not in report and "start_fidelity by prompt" in report
    with pytest.raises(InputError) as info:
        sd.report(sweep, metric="sharpness")
    assert info.value.fields == ("metric",)
    assert (sweep.run_dir / "filmstrips").is_dir()


def test_flag_and_filmstrip_fragments_are_escaped():
    assert flags_html({"flags": ""}) == "" and flags_html({}) == ""
    html = flags_html({"flags": "frozen, <b>evil</b>, silent"})
    assert "sd-flag-frozen" in html and "sd-flag-silent" in html and "evil" not in html
    assert filmstrip_html("javascript:alert(1)") == ""
    # not lazy: a lazy strip below the fold of a notebook output stays unloaded (tests/browser, tutorial 05)
    assert filmstrip_html('strips/a".jpg') == '<img class="sd-filmstrip" src="strips/a&quot;.jpg" alt="filmstrip">'


def test_the_emulator_follows_the_prompt_seed_crop_and_end_image(emu, client, tmp_path):
    start, end = tmp_path / "start.png", tmp_path / "end.png"
    start.write_bytes(make_png(1000, 700))
    Image.fromarray(picture(5, 900, 600)).save(end)
    grid = Grid(
        image=start, end_image=end, prompt=["push in", "orbit"], seed=[1, 2], duration=4, resolution="480p",
        aspect_ratio="9:16",
    )  # fmt: skip
    sweep = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "e", progress=False).compute_metrics()
    df = sweep.df
    assert (df["width"] == 496).all() and (df["height"] == 864).all()
    assert (df["start_fidelity"] > 0.9).all(), "the first frame is the input after fal's 9:16 centre crop"
    assert (df["end_fidelity"] > 0.9).all(), "the last frame is the end image after the same crop"
    assert df["motion"].nunique() == 4, "prompts and seeds make different clips"
    emu.configure(defects=["black"])
    one = run_sweep(
        Grid(image=start, prompt="calm", seed=3, duration=4, resolution="480p"),
        client=client, run_dir=tmp_path / "sweeps" / "b", progress=False,
    ).compute_metrics()  # fmt: skip
    assert "black" in one.df["flags"].iloc[0]
    with pytest.raises(ValueError, match="defects"):
        emu.configure(defects=["wobbly"])


def test_measure_download_journals_from_a_worker_thread(emu, client, tmp_path, png_path):
    sweep = run_sweep(
        Grid(image=png_path, prompt="calm", seed=1, duration=4, resolution="480p"),
        client=client, run_dir=tmp_path / "sweeps" / "m", progress=False,
    )  # fmt: skip
    job = sweep.jobs[0]
    seen = []
    sweep.add_listener(lambda _s, j: seen.append(j.metrics.get("frames")))
    asyncio.run(measure_download(sweep, job, sweep.run_dir / job.path))
    sweep.close()
    assert seen == [97] and sweep.df["frames"].iloc[0] == 97 and sweep.df["duration_error"].iloc[0] == 0.0
    assert load_sweep(sweep.run_dir).df["motion"].iloc[0] == sweep.df["motion"].iloc[0]
    # A broken file is logged, never raised: metrics must not cost a paid video.
    (sweep.run_dir / job.path).write_bytes(b"garbage")
    asyncio.run(measure_download(sweep, job, sweep.run_dir / job.path))


def test_every_download_is_measured_unless_turned_off(emu, client, tmp_path, png_path):
    grid = Grid(image=png_path, prompt="calm", seed=[1, 2], duration=4, resolution="480p")
    on = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "on", progress=False, force=True)
    assert on.df["motion"].notna().all()
    off = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "off", progress=False, metrics=False, force=True)
    assert off.df["motion"].isna().all()
