"""The widgets, headless against the real emulator: fill, click, await the background task, check state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from seedance_nb.runs import Journal
from seedance_nb.widgets import GenerateForm, JobBoard, ResultBrowser, SweepBuilder, parse_list, parse_seeds


async def until(predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_parsers():
    assert parse_list("4, 8 ,auto", "duration") == [4, 8, "auto"]
    assert parse_seeds("1, 2") == [1, 2] and parse_seeds("") == [None]
    assert len(parse_seeds("3 random")) == 3
    with pytest.raises(ValueError, match="seed"):
        parse_seeds("1, x")


def test_generate_form_validates_as_you_type(png_path):
    form = GenerateForm()
    # the field is named as the user knows it: "image", not the model's "image_url"
    assert form.go.disabled and "image" in form.messages.value and "image_url" not in form.messages.value
    assert "prompt" in form.messages.value
    form.image.value = str(png_path)
    form.prompt.value = "a slow push-in"
    assert not form.go.disabled and form.messages.value == ""
    form.resolution.value, form.duration.value, form.aspect_ratio.value = "720p", "5", "16:9"
    assert "1280×720" in form.cost.value and "$1.2096" in form.cost.value
    form.seed.value = "abc"
    assert form.go.disabled and "seed" in form.messages.value
    form.seed.value = "7"
    form.prompt.value = "   "
    assert form.go.disabled and "prompt" in form.messages.value


def test_generate_form_runs_in_the_background_and_shows_the_video(client, emu, png_path, tmp_path):
    async def go():
        form = GenerateForm(client, run_root=tmp_path)
        form.image.value = str(png_path)
        form.prompt.value = "the <b>sun</b> sets"
        form.resolution.value, form.duration.value = "480p", "4"
        form.go.click()
        assert form.task is not None and form.go.disabled
        await form.task
        await client.aclose()
        return form

    form = asyncio.run(go())
    assert not form.go.disabled and form.stop.disabled  # ready for the next video without touching a field
    assert "completed" in form.status.value and form.output.outputs
    assert "<video" in form.result_html and "&lt;b&gt;sun" in form.result_html
    assert form.sweep.df["status"].tolist() == ["completed"] and emu.stats()["submissions"] == 1
    assert "text/html" in form._repr_mimebundle_()


def test_generate_form_cancel_reaches_the_emulator(client, emu, png_path, tmp_path):
    emu.configure(speed=1.0)

    async def go():
        form = GenerateForm(client, run_root=tmp_path)
        form.image.value = str(png_path)
        form.prompt.value = "slow"
        form.resolution.value, form.duration.value = "480p", "4"
        form.go.click()
        await until(lambda: form.sweep is not None and form.sweep.jobs[0].request_id is not None)
        form.stop.click()
        with pytest.raises(asyncio.CancelledError):
            await form.task
        await client.aclose()
        return form

    form = asyncio.run(go())
    assert "cancelled" in form.status.value
    assert not form.go.disabled and form.stop.disabled  # Generate is enabled again after a cancel
    assert emu.stats()["cancelled"] == 1
    assert form.sweep.df["status"].tolist() == ["cancelled"]


def test_sweep_builder_budget_gate_and_run(client, emu, png_path, tmp_path):
    async def go():
        builder = SweepBuilder(client, run_root=tmp_path)
        builder.image.value = str(png_path)
        builder.prompts.value = "push in\nwhip pan"
        builder.durations.value = "4, 5"
        builder.seeds.value = "1, 2"
        assert "<b>8</b> videos" in builder.count.value and builder.run_button.disabled
        builder.budget.value = 1.0
        assert builder.run_button.disabled and "budget" in builder.count.value
        builder.budget.value = 10.0
        assert not builder.run_button.disabled
        builder.durations.value = "4, 99"
        assert builder.run_button.disabled and "duration" in builder.count.value
        builder.durations.value = "4, 5"
        builder.run_button.click()
        assert builder.sweep is not None and isinstance(builder.board, JobBoard)
        await builder.sweep.task
        await client.aclose()
        return builder

    builder = asyncio.run(go())
    df = builder.sweep.df
    assert len(df) == 8 and (df["status"] == "completed").all()
    board = builder.board
    assert board.progress.value == 8 and board.progress.bar_style == "success"
    assert board.table.value.count("<tr data-status") == 8 and board.grid_out.outputs
    events = Journal.read(builder.sweep.run_dir / "journal.jsonl")
    assert sum(e["event"] == "downloaded" for e in events) == 8


def test_job_board_cancel_all(client, emu, png_path, tmp_path):
    emu.configure(speed=1.0, slots=1)

    async def go():
        builder = SweepBuilder(client, run_root=tmp_path)
        builder.image.value = str(png_path)
        builder.prompts.value = "a\nb\nc"
        builder.budget.value = 100.0
        builder.run_button.click()
        await until(lambda: all(j.request_id for j in builder.sweep.jobs))
        builder.board.cancel_all.click()
        with pytest.raises(asyncio.CancelledError):
            await builder.sweep.task
        await client.aclose()
        return builder

    builder = asyncio.run(go())
    assert set(builder.sweep.df["status"]) == {"cancelled"}
    assert emu.stats()["queued"] == 0
    board = builder.board
    assert board.over and board.cancel_all.disabled and 'data-over="1"' in board.state.value
    assert board.progress.bar_style == "warning"  # over, but not a success
    assert "cancelled" in board.state.value and board.grid_out.outputs


def test_result_browser_filters_rates_and_adds_takes(client, emu, png_path, tmp_path):
    from seedance_nb.sweep import Grid, run_sweep

    sweep = run_sweep(
        Grid(image=png_path, prompt=["a", "b"], seed=[1, 2], resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "s",
        progress=False,
    )

    async def go():
        browser = ResultBrowser(sweep, client)
        assert set(browser.filters) == {"prompt", "seed"}
        browser.filters["prompt"].value = "b"
        assert len(browser.filtered()) == 2
        browser.job.value = 3
        browser.note.value = "the <best>"
        browser.thumbs_up.click()  # a shortcut for 5 stars, saved at once
        assert browser.rating.value == 5 and 'data-saved="3"' in browser.saved.value and "5/5" in browser.saved.value
        browser.job.value = 0
        browser.rating.value = 2
        browser.save.click()
        browser.job.value = 3
        assert browser.rating.value == 5  # picking a video shows its rating
        browser.more.click()  # job 3 has a fixed seed: another take would likely pay for the same video
        assert browser.task is None and "same_seed_ok" in browser.error.value
        browser.same_seed.value = True
        browser.more.click()
        await browser.task
        await client.aclose()
        return browser

    browser = asyncio.run(go())
    assert "rated" in browser.summary.value
    df = sweep.df
    assert df.loc[3, "rating"] == 5 and df.loc[0, "rating"] == 2 and df.loc[3, "notes"] == "the <best>"
    assert len(df) == 5 and df.loc[4, "take"] == 2 and df.loc[4, "status"] == "completed"
    assert emu.stats()["submissions"] == 5
    reloaded = Journal.read(sweep.run_dir / "journal.jsonl")
    assert any(e["event"] == "rated" and e.get("notes") == "the <best>" for e in reloaded)


def test_generate_form_is_ready_again_after_an_error(png_path, tmp_path):
    class Broken:
        """A client whose every call fails: the run ends in an error, shown in the form."""

        def __getattr__(self, name):
            raise RuntimeError("the network is down")

    async def go():
        form = GenerateForm(Broken(), run_root=tmp_path)
        form.image.value = str(png_path)
        form.prompt.value = "a slow push-in"
        form.resolution.value, form.duration.value = "480p", "4"
        form.go.click()
        assert form.go.disabled
        with pytest.raises(Exception):  # noqa: B017  # whatever the runner raises, the form must recover
            await form.task
        await asyncio.sleep(0)
        return form

    form = asyncio.run(go())
    assert not form.go.disabled and form.stop.disabled
    assert "error" in form.status.value


def test_an_uploaded_image_is_labelled_by_its_file_name(png_bytes):
    builder = SweepBuilder()
    builder.image.upload.value = (
        {"name": "beach.png", "type": "image/png", "size": len(png_bytes), "content": memoryview(png_bytes),
         "last_modified": datetime.now(timezone.utc)},
    )  # fmt: skip
    builder.prompts.value = "a\nb"
    assert builder.grid().jobs()[0].labels["image_url"] == "beach.png"


def test_job_board_and_browser_tell_prompts_with_a_long_shared_prefix_apart(client, emu, png_path, tmp_path):
    from seedance_nb.sweep import Grid, run_sweep

    opening = "A cinematic slow dolly shot over a quiet alpine lake at golden hour, mist rising, then "
    sweep = run_sweep(
        Grid(image=png_path, prompt=[opening + "a heron takes off", opening + "a boat drifts in"], resolution="480p",
             duration=4),
        client=client, run_dir=tmp_path / "s", progress=False,
    )  # fmt: skip
    board = JobBoard(sweep)
    assert "…a heron takes off" in board.table.value and "…a boat drifts in" in board.table.value
    browser = ResultBrowser(sweep, client)
    labels = [label for label, _ in browser.filters["prompt"].options]
    assert labels == ["all", "…a heron takes off", "…a boat drifts in"]
    assert [label for label, _ in browser.job.options] == ["#0 …a heron takes off", "#1 …a boat drifts in"]
    assert board.over and board.cancel_all.disabled  # a finished run: nothing left to cancel
