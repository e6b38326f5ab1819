"""The storyboard widget, driven through its controls against the emulator (no browser: ipywidgets' own API)."""

from __future__ import annotations

import asyncio

import seedance_nb as sd

SHOTS = [
    {"prompt": "a slow push in", "seed": [1, 2], "resolution": "480p", "duration": 4},
    {"prompt": "pan left", "seed": [3, 4], "resolution": "480p", "duration": 4},
]


def _button(widget, cls):
    found = []
    stack = [widget]
    while stack:
        w = stack.pop()
        if cls in getattr(w, "_dom_classes", ()):
            found.append(w)
        stack.extend(getattr(w, "children", ()))
    assert len(found) == 1, (cls, len(found))
    return found[0]


def test_the_widget_shows_the_estimate_first_then_runs_chooses_branches_and_films(client, emu, png_path, tmp_path):
    board = sd.Storyboard(image=png_path, shots=SHOTS, folder=tmp_path / "board", client=client)
    view = board.widget()
    assert "4 videos per branch" in view.estimate.value and "$" in view.estimate.value
    assert emu.stats()["submissions"] == 0, "the estimate is shown before anything is sent"
    assert view.run_button.description == "Run shot 1" and view.film_button.disabled

    async def go():
        async def click_run():
            task = view.run_next()
            assert task is not None and view.run_button.disabled
            await task

        await click_run()
        assert not view.error.value, view.error.value
        assert emu.stats()["submissions"] == 2
        assert view.run_button.disabled and view.run_button.description == "Choose a take of shot 1"
        _button(view, "seedance-story-take-1-1").click()  # choose take #1 of shot 1
        assert [t["job"] for t in board.chosen()] == [1]
        assert view.run_button.description == "Run shot 2"
        await click_run()
        assert view.run_button.disabled and view.run_button.description == "Choose a take of shot 2"
        await client.aclose()

    asyncio.run(go())
    _button(view, "seedance-story-take-2-0").click()
    assert view.run_button.disabled and view.run_button.description == "Every shot chosen"
    _button(view, "seedance-story-take-1-0").click()  # a re-choice: a second branch
    assert len(view.branch.options) == 2 and view.branch.value == board.branch
    view.branch.value = view.branch.options[0][1]  # back to the first branch
    assert [t["job"] for t in board.chosen()] == [1, 0]
    view.film_path.value = str(tmp_path / "film.mp4")
    view.film_button.click()
    assert (tmp_path / "film.mp4").exists() and "2 shots" in view.status.value, view.error.value
    # the report: the tree, both branches' chosen takes, the current branch's film beside the page
    page = board.report(tmp_path / "story.html")
    text = page.read_text()
    assert "<svg" in text and "Branch 0" in text and "Branch 1" in text and "story-film.mp4" in text
    assert (tmp_path / "story-film.mp4").exists() and (tmp_path / "story-film-shots.jpg").exists()
    assert "<svg" in view.tree_view.value and "Storyboard" in view._repr_mimebundle_()["text/html"]
