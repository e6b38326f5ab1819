"""The widgets, headless against the real emulator: fill, click, await the background task, check state."""

from __future__ import annotations

import asyncio

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
    assert form.go.disabled and "image_url" in form.messages.value and "prompt" in form.messages.value
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
        browser.rating.value = "up"
        browser.note.value = "the <best>"
        browser.save.click()
        browser.more.click()
        await browser.task
        await client.aclose()
        return browser

    browser = asyncio.run(go())
    assert "rated" in browser.summary.value
    df = sweep.df
    assert df.loc[3, "rating"] == "up" and df.loc[3, "notes"] == "the <best>"
    assert len(df) == 5 and df.loc[4, "take"] == 2 and df.loc[4, "status"] == "completed"
    assert emu.stats()["submissions"] == 5
    reloaded = Journal.read(sweep.run_dir / "journal.jsonl")
    assert any(e["event"] == "rated" and e.get("notes") == "the <best>" for e in reloaded)
