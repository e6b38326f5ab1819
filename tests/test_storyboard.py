"""Storyboards against the emulator: shots continuing from the chosen take's last frame, branches, films, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest
from skimage.metrics import structural_similarity

import seedance_nb as sd
from seedance_nb.client import AsyncClient
from seedance_nb.emulator import serve
from seedance_nb.media import probe
from seedance_nb.runs import Journal

SHOTS = [
    {"prompt": "a slow push in", "seed": [1, 2], "resolution": "480p", "duration": 4},
    {"prompt": "pan left", "seed": [3, 4], "resolution": "480p", "duration": 4},
    {"prompt": "orbit", "seed": [5, 6], "resolution": "480p", "duration": 4},
]


def _frames(path):
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _first(path):
    return next(_frames(path))


def _last(path):
    last = None
    for last in _frames(path):  # noqa: B007
        pass
    return last


def test_three_shots_two_takes_and_a_rechoice_make_two_branches_and_a_film(client, png_path, tmp_path):
    board = sd.Storyboard(image=png_path, shots=SHOTS, folder=tmp_path / "board", client=client)
    assert board.estimate().jobs == 6 and board.cost() == 0, "the estimate comes before anything is sent"
    board.run(progress=False, metrics=False)
    board.choose(shot=1, job=0)
    shot2 = board.run(progress=False, metrics=False)
    shot2.rate(1, 5)
    board.choose(shot=2, by="rating")  # take #1, the only one rated
    board.run(progress=False, metrics=False)
    board.choose(shot=3, job=0)
    first = board.chosen()
    assert [t["job"] for t in first] == [0, 1, 0]
    tree = board.choose(shot=2, job=0)  # a re-choice: shot 3 again, from take #0; the first branch stays
    assert tree.branches == 2 and len(board.branches()) == 2
    board.run(progress=False, metrics=False)
    board.choose(shot=3, job=1)
    assert [t["job"] for t in board.chosen()] == [0, 0, 1]
    assert [t["job"] for t in board.chosen(branch=0)] == [0, 1, 0], "the first branch is untouched"
    # the tree is a file of its own, read back the same by another process's board
    again = sd.Storyboard.load(tmp_path / "board")
    assert again.branches() == board.branches() and repr(again.tree()) == repr(board.tree())
    saved = json.loads((tmp_path / "board" / "board.json").read_text())
    assert len(saved["nodes"]) == 4 and len(saved["choices"]) == 5
    assert "<svg" in board.tree()._repr_html_() and "shot3-b" in repr(board.tree())

    # continuity: each shot's takes start from the chosen take's last frame, at full resolution
    pairs = {(b, shot) for b in (0, 1) for shot in (1, 2)} - {(1, 1)}  # shot 1 -> 2 is shared by both branches
    for branch, shot in sorted(pairs):
        end = _last(board.chosen(branch=branch)[shot - 1]["path"])
        start = _first(board.sweep(shot + 1, branch=branch).df["path"][0])
        assert start.shape == end.shape == (496, 864, 3)
        assert structural_similarity(end, start, channel_axis=2) >= 0.9

    # the film: the chosen takes one after another, remuxed, sound kept
    film = board.film(tmp_path / "film.mp4")
    infos = [probe(t["path"]) for t in board.chosen()]
    info = probe(film.path)
    assert not film.reencoded and film.reencoded_shots == () and film.complete and film.has_audio and info.has_audio
    assert film.frames == sum(i.frames for i in infos) == sum(1 for _ in _frames(film.path))
    assert abs(info.duration - sum(i.duration for i in infos)) <= 1 / 24
    assert film.posters.exists() and film.cost_usd > 0 and film.jobs == (0, 0, 1)
    # crossfades re-encode: 6 frames shorter per cut
    faded = board.film(tmp_path / "faded.mp4", branch=0, crossfade=6)
    assert faded.reencoded and faded.frames == film.frames - 12 == sum(1 for _ in _frames(faded.path))
    with av.open(str(faded.path)) as container:  # the sound overlaps as the pictures do: still in step
        sound = container.streams.audio[0]
        assert abs(float(sound.duration * sound.time_base) - faded.seconds) < 0.1


def test_a_shot_at_another_resolution_is_the_only_one_re_encoded(client, png_path, tmp_path):
    shots = [{"prompt": "static shot", "resolution": r, "duration": 4} for r in ("480p", "720p", "480p")]
    board = sd.Storyboard(image=png_path, shots=shots, folder=tmp_path / "board", client=client)
    for shot in (1, 2, 3):
        board.run(progress=False, metrics=False)
        board.choose(shot=shot, job=0)
    film = board.film(tmp_path / "film.mp4")
    assert film.reencoded and film.reencoded_shots == (2,)
    takes = [t["path"] for t in board.chosen()]
    assert probe(takes[1]).width > probe(takes[0]).width == probe(film.path).width
    decoded = list(_frames(film.path))
    assert len(decoded) == film.frames == sum(probe(p).frames for p in takes)
    from PIL import Image

    at = 0
    for i, path in enumerate(takes):
        for frame in _frames(path):
            if i != 1:  # copied: the very same pictures (shot 3's too: shot 1's parameter sets are back in-band)
                assert np.array_equal(decoded[at], frame), (i, at)
            else:  # re-encoded to the film's size
                small = np.asarray(Image.fromarray(frame).resize(decoded[at].shape[1::-1], Image.Resampling.BILINEAR))
                assert np.abs(decoded[at].astype(float) - small).mean() < 6, at
            at += 1


def test_refusals_name_the_field(client, emu, png_path, tmp_path):
    with pytest.raises(sd.InputError, match=r"shots\[1\]\.image"):
        sd.Storyboard(image=png_path, shots=[{"prompt": "a"}, {"prompt": "b", "image": png_path}], folder=tmp_path)
    with pytest.raises(sd.InputError, match=r"shots\[0\]\.duration"):
        sd.Storyboard(image=png_path, shots=[{"prompt": "a", "duration": 99}], folder=tmp_path / "b")
    assert not (tmp_path / "b").exists(), "nothing is created for a bad board"
    board = sd.Storyboard(image=png_path, shots=SHOTS[:2], folder=tmp_path / "c", client=client)
    with pytest.raises(sd.InputError, match="shot"):
        board.choose(shot=2, job=0)  # not reached
    with pytest.raises(sd.InputError, match="shot"):
        board.choose(shot=1, job=0)  # not run
    with pytest.raises(sd.InputError, match="branch"):
        board.film(tmp_path / "film.mp4")
    board.run(progress=False, metrics=False)
    with pytest.raises(sd.InputError, match="job"):
        board.choose(shot=1, job=7)
    with pytest.raises(sd.InputError, match="by"):
        board.choose(shot=1, by="rating")  # nothing rated
    with pytest.raises(sd.InputError, match=r"no duel of shot 1.*duel\(\)"):
        board.choose(shot=1, by="duel")  # nothing voted
    # by duel: the take the shot's blind votes rank first (Bradley-Terry by job), whichever was shown first
    shot1 = board.sweep(1)
    first, second = sorted(shot1.df["job"])
    for _ in range(3):
        shot1.vote(first, second, "b")
    board.choose(shot=1, by="duel")
    assert board.chosen()[0]["job"] == second
    with pytest.raises(sd.InputError, match="folder"):
        sd.Storyboard(image=png_path, shots=SHOTS, folder=tmp_path / "c")
    # the board's budget: a shot whose estimate is over what is left is refused, nothing sent
    sent = emu.stats()["submissions"]
    poor = sd.Storyboard(image=png_path, shots=SHOTS, folder=tmp_path / "d", client=client, budget_usd=0.5)
    with pytest.raises(sd.BudgetExceeded):
        poor.run(progress=False, metrics=False)
    assert emu.stats()["submissions"] == sent


CHILD = textwrap.dedent(
    """
    import sys
    import seedance_nb as sd
    from seedance_nb.client import AsyncClient
    base, folder, image = sys.argv[1:4]
    client = AsyncClient(queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn")
    shots = [
        {"prompt": "push in", "seed": [1, 2], "resolution": "480p", "duration": 4},
        {"prompt": "pan left", "seed": [3, 4, 5, 6], "resolution": "480p", "duration": 4},
    ]
    board = sd.Storyboard(image=image, shots=shots, folder=folder, client=client)
    board.run(progress=False, metrics=False)
    board.choose(shot=1, job=1)
    board.run(progress=False, metrics=False, concurrency=2)
    """
)


def _shot2_events(folder: Path) -> list[dict]:
    journal = folder / "shots" / "shot2-a" / "journal.jsonl"
    return Journal.read(journal) if journal.exists() else []


def test_a_kill_in_the_middle_of_shot_2_then_resume_pays_once_per_take(png_path, tmp_path):
    folder = tmp_path / "board"
    with serve(slots=2, speed=0.08, queue_latency=1.0) as emu:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, emu.base_url, str(folder), str(png_path)], stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            ev = _shot2_events(folder)
            submitted = sum(e["event"] == "submitted" for e in ev)
            if submitted >= 2 and submitted == sum(e["event"] == "submitting" for e in ev):
                break
            time.sleep(0.005)
        assert child.poll() is None, "the board finished before the kill: make it slower"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        client = AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)
        board = sd.Storyboard.load(folder, client=client)
        before = board.sweep(2)
        assert not before.done
        ambiguous = sum(job.status == "submitting" for job in before.jobs)
        shot2 = board.run(progress=False, metrics=False)  # resumes shot 2's run
        assert (shot2.df["status"] == "completed").all()
        assert emu.stats()["submissions"] == 2 + 4 + ambiguous, "one submission per take"
        board.choose(shot=2, job=3)
        assert board.film(tmp_path / "film.mp4").shots == 2
