"""Camera-move adherence (issue 29): the move measured from optical flow against known ground truth, the
prompt parser on the prompt guide's phrasing, and the verdict in a sweep's metrics pass."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

import seedance_nb as sd
from seedance_nb.adherence import CAMERA_CLASSES, CameraTracker, asked_camera_move, camera_adherence
from seedance_nb.emulator import render
from seedance_nb.errors import InputError
from seedance_nb.quality import ANALYSIS_AREA
from seedance_nb.quality._measuring import _size_for

#: The class -> a prompt the emulator renders it for (its own words: render.CAMERA_MOVES).
EMULATOR_PROMPTS = {
    "static": "a static shot of the harbour",
    "pan left": "the camera pans left across the harbour",
    "pan right": "slow pan right",
    "tilt up": "tilt up to the sky",
    "tilt down": "the camera tilts down",
    "push in": "a slow push in on the boat",
    "pull out": "pull out to reveal the bay",
    "orbit left": "orbit left around the lighthouse",
    "orbit right": "orbit right around the lighthouse",
    "handheld": "handheld, following the runner",
}
SEEDS = range(10)
WIDTH, HEIGHT = 864, 496  # 480p 16:9
#: The bulk draws its frames at this size: the analysis frames are 128x72 whatever the clip's size, and drawing
#: 480p frames is most of the bulk's cost (the MP4 test below is 480p).
BULK = (256, 144)


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    """A photograph (texture everywhere): tests/conftest.py's star of lines through the centre is blind to a zoom
    about the centre, for any optical flow."""
    return Image.open(sd.sample_image()).convert("RGB")


def _analysis(rgb: np.ndarray) -> np.ndarray:
    """A frame reduced as the metrics pass reduces it (libswscale's area filter, to luma)."""
    w, h = _size_for(rgb.shape[1], rgb.shape[0], ANALYSIS_AREA)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(w, h, "gray", interpolation="AREA").to_ndarray()


def _emulator_move(picture: Image.Image, prompt: str, seed: int) -> str:
    """The class found in the emulator's 4 s clip, drawn by its renderer (only the frames flow reads)."""
    spec = render._spec(*BULK, 4, seed, prompt, False)
    tracker = CameraTracker(render.FPS)
    step = tracker.step
    sampled = CameraTracker(render.FPS / step)  # fed every `step`-th frame: the same pairs
    for frame in render._frames(picture, None, spec, every=step):
        sampled.add(_analysis(frame))
    return sampled.result().move


#: The emulator's (move, direction) for each class.
RENDERED = {
    "static": ("static", None),
    "pan left": ("pan", -1.0),
    "pan right": ("pan", 1.0),
    "tilt up": ("tilt", -1.0),
    "tilt down": ("tilt", 1.0),
    "push in": ("push", None),
    "pull out": ("pull", None),
    "orbit left": ("orbit", -1.0),
    "orbit right": ("orbit", 1.0),
    "handheld": ("handheld", None),
}


def test_the_emulator_renders_what_each_prompt_asks_and_the_parser_reads_it_alike():
    for truth, prompt in EMULATOR_PROMPTS.items():
        move, _amount, direction = render.camera_move(prompt, 0)
        assert (move, direction if RENDERED[truth][1] is not None else None) == RENDERED[truth], prompt
        assert asked_camera_move(prompt) == truth, prompt


def test_emulator_clips_of_every_class_are_classified_90_percent_right_and_static_is_never_a_move(picture):
    found = {(truth, seed): _emulator_move(picture, prompt, seed) for truth, prompt in EMULATOR_PROMPTS.items()
             for seed in SEEDS}  # fmt: skip
    wrong = {key: move for key, move in found.items() if move != key[0]}
    accuracy = 1 - len(wrong) / len(found)
    assert accuracy >= 0.9, f"{accuracy:.0%} right; wrong: {wrong}"
    assert all(found[("static", seed)] == "static" for seed in SEEDS), wrong
    for truth in CAMERA_CLASSES:  # each class is found at least most of the time, not just on average
        assert sum(found[(truth, seed)] == truth for seed in SEEDS) >= 7, (truth, wrong)


#: The classes the MP4 test encodes (each a 480p clip: seconds of CPU apiece).
MP4_CLASSES = ("static", "pan left", "push in", "orbit right", "handheld")


def test_real_emulator_mp4s_through_camera_motion(picture, tmp_path):
    """The bulk above skips the encoder: 480p H.264 clips of one class per family, decoded and measured by
    sd.camera_motion."""
    right = 0
    for truth in MP4_CLASSES:
        prompt = EMULATOR_PROMPTS[truth]
        path = tmp_path / f"{truth.replace(' ', '-')}.mp4"
        render.render_mp4(picture, path, width=WIDTH, height=HEIGHT, seconds=4, seed=3, prompt=prompt, audio=False)
        motion = sd.camera_motion(path)
        right += motion.move == truth
        assert abs(sum(motion.confidence.values()) - 1) < 1e-3 and set(motion.confidence) == set(CAMERA_CLASSES)
        if truth == "static":
            assert motion.move == "static" and motion.direction is None
        if truth == "pan left":  # travelling left: the direction is about 180 degrees, the speed > 0
            assert motion.direction is not None and abs(abs(motion.direction) - 180) < 30 and motion.speed > 0.02
            frame = motion.to_frame()
            assert len(frame) == 24 and (frame["vx"] < 0).mean() > 0.8
    assert right == len(MP4_CLASSES), right


# --------------------------------------------------------------------------- clips made here with PyAV


def _texture(seed: int, size: int = 640) -> np.ndarray:
    """A smooth random texture, RGB."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def _write(path, frames, rate=24) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _made(kind: str, seed: int, n: int = 49):
    """Frames of a 2 s 320x180 clip: a window moving over a texture (pans, tilts, zooms), or a still one with
    noise."""
    texture = _texture(seed)
    rng = np.random.default_rng(seed + 100)
    image = Image.fromarray(texture)
    for i in range(n):
        t = i / (n - 1)
        cx, cy, scale = 320.0, 320.0, 1.0
        if kind.startswith("pan"):
            cx += (-1 if kind == "pan left" else 1) * 90 * t
        elif kind.startswith("tilt"):
            cy += (-1 if kind == "tilt up" else 1) * 60 * t
        elif kind == "push in":
            scale = 1 - 0.3 * t
        elif kind == "pull out":
            scale = 0.7 + 0.3 * t
        w, h = 320 * scale, 180 * scale
        frame = np.asarray(
            image.resize((320, 180), Image.Resampling.BILINEAR, box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        )
        if kind == "static":
            frame = np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
        yield frame


MADE = ["pan left", "pan right", "tilt up", "tilt down", "push in", "pull out", "static", "static", "static"]


def test_clips_made_with_pyav_known_pans_zooms_and_noisy_static(tmp_path):
    found = {}
    for i, kind in enumerate(MADE):
        path = tmp_path / f"{i}.mp4"
        _write(path, _made(kind, seed=i))
        found[(kind, i)] = sd.camera_motion(str(path)).move
    wrong = {key: move for key, move in found.items() if move != key[0]}
    assert len(wrong) <= len(found) // 10, wrong
    assert all(move == "static" for (kind, _i), move in found.items() if kind == "static"), found


def test_camera_motion_names_the_field_of_a_bad_video(tmp_path):
    with pytest.raises(InputError, match="video"):
        sd.camera_motion(tmp_path / "missing.mp4")
    (tmp_path / "not.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError, match="video"):
        sd.camera_motion(tmp_path / "not.mp4")


def test_a_still_clip_has_no_move_and_no_samples_is_static():
    tracker = CameraTracker(24)
    still = np.full((72, 128), 90, np.uint8)
    for _ in range(30):
        tracker.add(still)
    assert tracker.result().move == "static"
    assert CameraTracker(24).result().move == "static"


# --------------------------------------------------------------------------- the prompt parser

#: (prompt, the move it asks for): the prompt guide's phrasing, negations included.
PHRASES = [
    ("slow dolly in on her face", "push in"),
    ("The camera pans left across the skyline", "pan left"),
    ("orbit around the statue", "orbit"),
    ("static shot of a quiet street", "static"),
    ("tracking shot of a cyclist", "pan"),
    ("zoom out to reveal the valley", "pull out"),
    ("no camera movement, the leaves sway", "static"),
    ("the camera does not move", "static"),
    ("The camera doesn't move while rain falls", "static"),
    ("camera remains still as the dancer spins", "static"),
    ("locked-off shot of the kitchen", "static"),
    ("tripod shot, fixed framing", "static"),
    ("fixed camera on the river", "static"),
    ("a slow push in", "push in"),
    ("push-in toward the window", "push in"),
    ("zoom in on the eyes", "push in"),
    ("a slow zoom into the painting", "push in"),
    ("dolly forward through the hallway", "push in"),
    ("dolly out from the table", "pull out"),
    ("pull back to a wide shot", "pull out"),
    ("the camera pulls out slowly", "pull out"),
    ("pan right to follow the car", "pan right"),
    ("the camera slowly pans to the right", "pan right"),
    ("a left pan over the desert", "pan left"),
    ("camera trucks left along the wall", "pan left"),
    ("panning across the market", "pan"),
    ("tilt up to the spire", "tilt up"),
    ("the camera tilts down to the floor", "tilt down"),
    ("crane up over the crowd", "tilt up"),
    ("tilting upward toward the sky", "tilt up"),
    ("orbit left around the car", "orbit left"),
    ("the camera orbits to the right", "orbit right"),
    ("arc shot around the couple", "orbit"),
    ("the camera circles around the table", "orbit"),
    ("a 360 orbit clockwise", "orbit right"),
    ("orbit counter-clockwise around the tree", "orbit left"),
    ("handheld shot in the alley", "handheld"),
    ("shaky cam as they run", "handheld"),
    ("camera shake during the explosion", "handheld"),
    ("a cat sleeps on a sofa", None),
    ("", None),
    ("no zoom, a slow pan left", "pan left"),
    ("don't pan, just push in", "push in"),
    ("without zooming, the camera tilts up", "tilt up"),
    ("no pan or zoom", None),
    ("not a static shot: the camera pans right", "pan right"),
    ("a still lake at dawn", None),
    ("push in, then pan left", "push in"),
    ("the camera never moves", "static"),
    ("following shot behind the horse", "pan"),
]


def test_the_table_has_fifty_phrasings():
    assert len(PHRASES) == 50 and len({p for p, _ in PHRASES}) == 50


@pytest.mark.parametrize(("prompt", "asked"), PHRASES)
def test_the_parser_finds_the_asked_move(prompt, asked):
    assert asked_camera_move(prompt) == asked


def test_the_verdict():
    assert camera_adherence(None, "pan left") == "no move asked"
    assert camera_adherence("pan", "pan left") == camera_adherence("pan right", "pan right") == "match"
    assert camera_adherence("pan left", "pan right") == camera_adherence("static", "push in") == "mismatch"
    assert camera_adherence("orbit", "orbit right") == "match" and camera_adherence("push in", None) == "mismatch"


# --------------------------------------------------------------------------- end to end, over HTTP


def test_a_sweep_flags_a_take_that_ignored_the_asked_move(client, tmp_path):
    """The emulator reads "no camera movement" as no move named and lets the seed pick one: the metrics pass
    (during the run, no second decode) measures it, the prompt asked for static, and the take is flagged."""
    from seedance_nb.sweep import Grid, run_sweep

    image = tmp_path / "start.png"
    Image.open(sd.sample_image()).convert("RGB").save(image)
    prompts = ["no camera movement, waves roll in", "the camera pans left across the harbour"]
    grid = Grid(image=image, prompt=prompts, seed=2, duration=4, resolution="480p", aspect_ratio="16:9")
    sweep = run_sweep(grid, client=client, run_dir=tmp_path / "sweeps" / "camera", progress=False)
    rows = {row["prompt"]: row for row in sweep.df.to_dict("records")}
    still, pan = rows[prompts[0]], rows[prompts[1]]
    assert render.camera_move(prompts[0], 2)[0] != "static"  # what the emulator drew: a move
    assert still["camera_asked"] == "static" and still["camera_move"] != "static"
    assert still["camera_adherence"] == "mismatch" and "ignored camera move" in still["flags"]
    assert pan["camera_move"] == "pan left" and pan["camera_adherence"] == "match" and pan["flags"] == ""
    assert list(sweep.rank("camera_adherence")["prompt"]) == [prompts[1], prompts[0]]
    assert list(sweep.best("motion", n=2, flagged=False)["prompt"]) == [prompts[1]]
    # the sweep's own forwards to seedance_nb.stats: one take each can tell nothing yet
    (pair,) = sweep.compare_groups(by="prompt", metric="motion").to_dict("records")
    assert pair["verdict"] == "not yet distinguishable" and pair["more_takes"] >= 6 and pair["more_cost_usd"] > 0
    assert set(sweep.frontier(quality="motion").table["group"]) == set(prompts)
    page = sweep.gallery(return_html=True)
    assert "not yet distinguishable" in page and "<video" in page
    assert 'id="noise"' in sd.report(sweep).read_text(encoding="utf-8")


def test_a_hard_cut_is_no_camera_move(picture, tmp_path):
    """A static shot with a hard cut in it: the pair of frames across the cut shows two pictures, not a move, so
    the camera reads static and a prompt that asked for a static shot matches (it was flagged "ignored camera
    move" before cuts were left out of the fit)."""
    prompt = "a static shot, then a hard cut"
    for seed in (1, 2):
        path = tmp_path / f"cut-{seed}.mp4"
        render.render_mp4(picture, path, width=WIDTH, height=HEIGHT, seconds=4, seed=seed, prompt=prompt, audio=False)
        measured = sd.metrics(path, prompt=prompt)
        assert measured.cuts == 1, seed
        assert (measured.camera_move, measured.camera_adherence) == ("static", "match"), seed
        assert "ignored camera move" not in measured.flags
        assert sd.camera_motion(path).move == "static"
