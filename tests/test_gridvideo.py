"""A grid of takes as one tiled video: real takes from the emulator, the output decoded back with PyAV."""

from __future__ import annotations

import av
import numpy as np
import pytest
from seedance_testconf import make_png

import seedance_nb as sd
from seedance_nb.gridvideo import LABEL_PX
from seedance_nb.media import probe

COLOURS = [(220, 40, 40), (40, 200, 60), (40, 70, 220), (230, 210, 40)]


@pytest.fixture
def four(client, tmp_path):
    """Four takes of four solid colours, static camera: two of 4 s and two of 5 s."""
    paths = []
    for i, colour in enumerate(COLOURS):
        path = tmp_path / f"colour{i}.png"
        path.write_bytes(make_png(800, 450, colour))
        paths.append(path)
    grid = sd.Grid(image=paths[:2], prompt="static shot", resolution="480p", duration=4) + sd.Grid(
        image=paths[2:], prompt="static shot", resolution="480p", duration=5
    )
    return sd.run_sweep(grid, client=client, run_dir=tmp_path / "four", progress=False, metrics=False)


def _frames(path):
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _nth(path, n):
    for i, frame in enumerate(_frames(path)):
        if i == n:
            return frame
    raise AssertionError(f"{path} has fewer than {n + 1} frames")


def _tile(frame, r, c, cell):
    cell_w, cell_h = cell
    top = r * (cell_h + LABEL_PX) + LABEL_PX
    return frame[top : top + cell_h, c * cell_w : (c + 1) * cell_w].astype(float)


def _small(frame, cell):
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize(cell, Image.Resampling.BILINEAR)).astype(float)


def test_a_2x2_grid_decodes_to_four_tiles_matching_their_sources(four, tmp_path):
    df = four.df
    out = sd.grid_video(df, tmp_path / "grid.mp4", rows=2, cols=2, cell_width=320, audio=int(df["job"][3]))
    info = probe(out.path)
    assert (out.rows, out.cols) == (2, 2) and out.path.suffix == ".mp4"
    assert info.has_audio, "the chosen cell's sound is in the grid"
    # the longest take sets the length: 5 s at 24 fps
    assert out.frames == 121 == sum(1 for _ in _frames(out.path))
    cell = (320, info.height // 2 - LABEL_PX)  # the takes' aspect ratio (864 x 496), letterboxed
    assert info.width == 640 and abs(cell[1] - 320 * 496 / 864) <= 2
    for n in (0, 48, 120):
        grid_frame = _nth(out.path, n)
        for i, source in enumerate(df["path"]):
            # a 4 s take (97 frames) holds its last frame to the end
            want = _small(_nth(source, min(n, probe(source).frames - 1)), cell)
            got = _tile(grid_frame, i // 2, i % 2, cell)
            # the tile's colour is its source's (both decoded from lossy H.264: compare the mean colours)
            assert np.abs(got.mean(axis=(0, 1)) - want.mean(axis=(0, 1))).max() < 6, (n, i)
            others = [np.abs(got - np.array(COLOURS[j])).mean() for j in range(4)]
            assert int(np.argmin(others)) == i, "each tile shows its own source's colour"
    # each cell is labelled (what varies: the image and the duration)
    assert all("colour" in label for label in out.labels)

    # by axes, as the gallery pivots them (an empty cell where no take has both values), as an animated WebP
    out = four.grid_video(tmp_path / "grid.webp", rows="duration", cols="image", cell_width=128)
    assert (out.rows, out.cols) == (2, 4) and out.labels.count("") == 4
    with av.open(str(out.path)) as container:
        assert container.streams.video[0].codec_context.name == "webp"
    assert out.frames == 121
    with pytest.raises(sd.InputError, match="path"):
        four.grid_video(tmp_path / "grid.gif")
    with pytest.raises(sd.InputError, match="audio"):
        four.grid_video(tmp_path / "grid.webp", audio=0)
    with pytest.raises(sd.InputError, match="audio"):
        four.grid_video(tmp_path / "grid.mp4", audio=99)
    with pytest.raises(sd.InputError, match="rows"):
        four.grid_video(tmp_path / "grid.mp4", rows=1, cols=2)
    with pytest.raises(sd.InputError, match="cols"):
        four.grid_video(tmp_path / "grid.mp4", rows="prompt", cols="nonsense")
    assert not list(tmp_path.glob("*.part"))
