"""The emulator renders every valid request: the camera's window stays on its canvas for any prompt, seed and size.

Issue 24: a window pushed to the canvas's far edge (a pan or an orbit with the largest move) ended past a border
that had been rounded down to whole pixels, and PIL refused it ("box can't exceed original image size"): 1 job in
64 of the benchmark's tiny renders, and at full size for 864- and 834-pixel sides. The random test walks 500
seeded requests through the renderer's own geometry (the spec ``render_mp4`` builds, the canvas ``_frames`` builds,
every frame's window, checked by PIL as the resize does); the last test renders the former failures and the input
images at the model's limits end to end through the emulator over HTTP and probes the MP4s with PyAV.
"""

from __future__ import annotations

import base64
import io
import random
import time

import av
import httpx
import pytest
from PIL import Image

from seedance_nb.emulator.render import (
    CAMERA_MOVES,
    DEFECTS,
    RenderSpec,
    _canvas,
    _spec,
    _view,
    _window,
    camera_move,
    render_mp4,
)
from seedance_nb.schema import (
    ASPECT_RATIOS,
    DURATIONS,
    MAX_IMAGE_RATIO,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_RATIO,
    MIN_IMAGE_SIDE,
    SEED_MAX,
    SIZES,
    frame_count,
    nearest_aspect_ratio,
)

REQUESTS = 500
WORDS = "a the slow gentle city lake forest dancer bird night rain light camera shot over across up down left right"
PHRASES = [w for words in CAMERA_MOVES.values() for w in words] + [w for words in DEFECTS.values() for w in words]


def random_image_size(rng: random.Random) -> tuple[int, int]:
    """An input image size within the model's rules: each side 300-6000 px, width / height 0.4-2.5."""
    while True:  # bounded in practice: most draws are valid
        ratio = rng.uniform(MIN_IMAGE_RATIO, MAX_IMAGE_RATIO)
        width = rng.randint(MIN_IMAGE_SIDE, MAX_IMAGE_SIDE)
        height = round(width / ratio)
        if MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE and MIN_IMAGE_RATIO <= width / height <= MAX_IMAGE_RATIO:
            return width, height


def random_prompt(rng: random.Random) -> str:
    words = rng.choices(WORDS.split(), k=rng.randint(1, 12))
    for _ in range(rng.randint(0, 2)):  # a camera move or a defect phrase, somewhere
        words.insert(rng.randint(0, len(words)), rng.choice(PHRASES))
    return " ".join(words)


def random_request(rng: random.Random) -> dict:
    """What the emulator renders for a random valid request: the output size and the render_mp4 arguments."""
    image_size = random_image_size(rng)
    resolution = rng.choice(sorted({r for r, _ in SIZES}))
    ratio = rng.choice(ASPECT_RATIOS)
    if ratio == "auto":  # the ratio nearest the input image's (schema.output_size)
        ratio = nearest_aspect_ratio(*image_size)
    duration = rng.choice(DURATIONS)
    prompt = random_prompt(rng)
    seconds = int(duration) if duration != "auto" else 4 + rng.randrange(12)
    width, height = SIZES[(resolution, ratio)]
    return {
        "image_size": image_size,
        "width": width,
        "height": height,
        "seconds": seconds,
        "seed": rng.randint(0, SEED_MAX),
        "prompt": prompt,
        "audio": rng.random() < 0.5,
        "defects": tuple(rng.sample(sorted(DEFECTS), rng.choice((0, 0, 0, 1)))),
    }


def windows_fit(spec: RenderSpec, canvas: Image.Image) -> None:
    """Every frame's window (as ``_frames`` computes it) lies on the canvas, and PIL's resize accepts it."""
    camera = camera_move(spec.prompt, spec.seed)
    n = frame_count(spec.seconds)
    for i in range(1, n):
        _, box = _view(spec, camera, i / (n - 1))
        left, top, right, bottom = box
        assert 0 <= left < right <= canvas.width and 0 <= top < bottom <= canvas.height, (spec, i, box, canvas.size)
        # The check that raised "box can't exceed original image size" (nearest, 2x2: only the check costs).
        canvas.resize((2, 2), Image.Resampling.NEAREST, box=box)


def test_pil_refuses_a_window_past_the_canvas():
    """The check above can fail: PIL refuses a box a fraction of a pixel past the image (the bug's error)."""
    canvas = Image.new("RGB", (102, 58))
    with pytest.raises(ValueError, match="box can't exceed original image size"):
        canvas.resize((2, 2), Image.Resampling.NEAREST, box=(38.08, 10.8, 102.08, 46.8))


def test_500_random_valid_requests_render_every_frame_on_the_canvas():
    rng = random.Random(24)
    canvases: dict[tuple[int, int], Image.Image] = {}
    sizes = set()
    for _ in range(REQUESTS):
        request = random_request(rng)
        image_size = request.pop("image_size")
        for tiny in (False, True):  # the emulator's render="tiny" draws the same move at 64x36
            spec = _spec(tiny=tiny, **request)
            size = (spec.width, spec.height)
            if size not in canvases:  # the canvas's size depends on the output size alone, not on the input's
                stand_in = Image.new("RGB", (image_size[0] // 10, image_size[1] // 10), (90, 140, 200))
                canvases[size] = _canvas(stand_in, *size)
            windows_fit(spec, canvases[size])
            sizes.add(size)
    assert len(sizes) == len(set(SIZES.values())) + 1, "every output size (and the tiny one) was drawn"


#: ByteDance's 1080p sizes (the standard tier's), and odd-sized, tiny and huge frames: the geometry holds for any.
OTHER_SIZES = [(1920, 1080), (1664, 1248), (1440, 1440), (1248, 1664), (1080, 1920), (2206, 946)]


@pytest.mark.parametrize("size", [*OTHER_SIZES, (16, 9), (33, 17), (854, 481), (835, 1111), (3001, 1687)])
def test_any_output_size_keeps_every_move_on_the_canvas(size):
    width, height = size
    canvas = _canvas(Image.new("RGB", (400, 300), (10, 200, 30)), width, height)
    assert canvas.size == (width + 2 * round(0.3 * width), height + 2 * round(0.3 * height))
    for move in ("static", "push", "pull", "orbit", "pan", "tilt"):
        for amount in (0.18, 0.25, 0.2995, 0.3):  # camera_move's range, its largest step included
            for direction in (-1.0, 1.0):
                for step in range(201):
                    box = _window(move, amount, direction, step / 200, width, height)
                    assert 0 <= box[0] < box[2] <= canvas.width and 0 <= box[1] < box[3] <= canvas.height, box
                    canvas.resize((2, 2), Image.Resampling.NEAREST, box=box)
    # At the start the window is exactly the image inside its mirrored border.
    pad_x, pad_y = (canvas.width - width) // 2, (canvas.height - height) // 2
    assert _window("pan", 0.3, 1.0, 0.0, width, height) == (pad_x, pad_y, pad_x + width, pad_y + height)


def test_the_former_failure_renders_directly(tmp_path):
    """A 480p 16:9 pan right with the largest move (seed 155): PIL refused its last frames before the fix."""
    assert camera_move("a slow pan right", 155) == ("pan", 0.3, 1.0)
    image = Image.new("RGB", (800, 450), (200, 120, 40))
    for tiny in (False, True):
        path = tmp_path / f"pan-{tiny}.mp4"
        size = render_mp4(
            image, path, width=864, height=496, seconds=4, seed=155, prompt="a slow pan right", audio=False, tiny=tiny
        )
        assert size == path.stat().st_size > 0


# --------------------------------------------------------------------------- end to end, over HTTP


def png_of(width: int, height: int) -> str:
    img = Image.new("RGB", (width, height), (60, 110, 170))
    img.paste((230, 200, 40), (width // 4, height // 4, width // 2, height // 2))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def far_edge_seed(prompt: str) -> int:
    """The first seed whose camera move for ``prompt`` is the largest (amount 0.3: to the canvas's far edge)."""
    return next(seed for seed in range(20_000) if camera_move(prompt, seed)[1] == 0.3)


#: (image size, fields, render mode): the failures found (a pan or tilt to the far edge of an 864- or 834-pixel
#: side, whose border rounds down; the benchmark's tiny renders) and input images at the model's limits.
END_TO_END = [
    ((800, 450), {"prompt": "a slow pan right", "resolution": "480p", "aspect_ratio": "16:9"}, "full"),
    ((834, 1112), {"prompt": "pan right", "resolution": "720p", "aspect_ratio": "3:4"}, "full"),
    ((640, 360), {"prompt": "p17 pan right", "resolution": "480p"}, "tiny"),
    ((300, 750), {"prompt": "tilt down", "resolution": "480p", "aspect_ratio": "auto"}, "full"),  # 0.4: 496x864
    ((6000, 2400), {"prompt": "orbit", "resolution": "480p", "aspect_ratio": "auto"}, "full"),  # 2.5: 992x432
]


def wait_result(http: httpx.Client, submitted: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(submitted["status_url"])
        if status.status_code == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the request did not complete in time")
    result = http.get(submitted["response_url"])
    assert result.status_code == 200, result.text
    return result.json()


@pytest.mark.parametrize(("image_size", "fields", "mode"), END_TO_END)
def test_edge_requests_render_over_http(emu, tmp_path, image_size, fields, mode):
    fields = {**fields, "seed": far_edge_seed(fields["prompt"])}
    emu.configure(render=mode)
    payload = {"image_url": png_of(*image_size), "duration": "4", "generate_audio": False, **fields}
    with httpx.Client(timeout=60) as http:
        submitted = http.post(emu.queue_url + "/bytedance/seedance-2.0/fast/image-to-video", json=payload)
        assert submitted.status_code == 200, submitted.text
        out = wait_result(http, submitted.json())
        path = tmp_path / "clip.mp4"
        path.write_bytes(http.get(out["video"]["url"]).content)
    ratio = fields.get("aspect_ratio", "auto")
    if ratio == "auto":
        ratio = nearest_aspect_ratio(*image_size)
    want = SIZES[(fields["resolution"], ratio)] if mode == "full" else (64, 36)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        assert (stream.codec_context.width, stream.codec_context.height) == want
    assert frames == frame_count(4 if mode == "full" else 1)


def test_random_request_sizes_are_valid():
    """The generator above stays within the model's rules (else the 500 prove nothing about valid requests)."""
    rng = random.Random(5)
    for _ in range(2000):
        width, height = random_image_size(rng)
        assert MIN_IMAGE_SIDE <= min(width, height) and max(width, height) <= MAX_IMAGE_SIDE
        assert MIN_IMAGE_RATIO <= width / height <= MAX_IMAGE_RATIO
