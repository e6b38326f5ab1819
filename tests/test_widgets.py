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


# --------------------------------------------------------------------------- the form builder (seedance_nb.forms)


def _schema_with(**properties):
    """The shipped snapshot with ``properties`` added to its input: what fal adding fields would look like."""
    from seedance_nb.openapi_schema import DEFAULT_ENDPOINT, InputSchema, snapshot_document

    document = snapshot_document(DEFAULT_ENDPOINT)
    (name,) = [k for k in document["components"]["schemas"] if k.endswith("ImageToVideoInput")]
    document["components"]["schemas"][name]["properties"].update(properties)
    return InputSchema.from_openapi(document, DEFAULT_ENDPOINT)


def _shown(widget):
    """Every widget displayed inside ``widget`` (walking children)."""
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += _shown(child)
    return out


def test_each_kind_of_schema_field_gets_its_control():
    import ipywidgets as W

    from seedance_nb.forms import ImagePicker, SchemaForm

    schema = _schema_with(
        style={"type": "string", "enum": ["film", "anime", "clay"], "default": "film", "title": "Style"},
        steps={"type": "integer", "minimum": 1, "maximum": 50, "default": 20},
        budget_tokens={"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 5},
        strength={"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}], "default": 0.5},
        guidance={"type": "number", "default": 7.5},
        frames={"type": "integer"},
        camera_fixed={"type": "boolean", "default": False},
        negative_prompt={"type": "string"},
        loras={"type": "array", "items": {"type": "string"}},
    )
    one = SchemaForm(schema)
    kinds = {c.field.written: type(c.widget) for c in one}
    assert kinds["style"] is W.Dropdown and [v for _, v in one["style"].widget.options] == ["film", "anime", "clay"]
    assert kinds["steps"] is W.IntSlider and (one["steps"].widget.min, one["steps"].widget.max) == (1, 50)
    assert kinds["budget_tokens"] is W.BoundedIntText  # too wide a range for a slider
    assert kinds["strength"] is W.FloatSlider and one["strength"].widget.value == 0.5
    assert kinds["guidance"] is W.FloatText
    assert kinds["frames"] is W.Text  # no default: empty means unset
    assert kinds["camera_fixed"] is W.Checkbox and kinds["generate_audio"] is W.Checkbox
    assert kinds["negative_prompt"] is W.Textarea and kinds["prompt"] is W.Textarea
    assert kinds["image"] is ImagePicker and kinds["end_image"] is ImagePicker
    assert kinds["resolution"] is W.Dropdown and kinds["seed"] is W.Text  # seed: added, the schema lacks it
    assert "loras" not in one  # arrays are left to code
    assert one["prompt"].widget.tooltip.startswith("The text prompt")  # the schema's description, on hover

    sweep = SchemaForm(schema, sweep=True)
    kinds = {c.field.written: type(c.widget) for c in sweep}
    assert kinds["style"] is W.SelectMultiple and kinds["resolution"] is W.SelectMultiple
    assert kinds["duration"] is W.Text  # 13 values: typed as a list
    assert kinds["steps"] is W.Text and kinds["strength"] is W.Text and kinds["seed"] is W.Text
    assert kinds["camera_fixed"] is W.Checkbox and kinds["prompt"] is W.Textarea
    assert sweep["prompt"].attribute == "prompts" and sweep["steps"].attribute == "steps"
    sweep["prompt"].widget.value = "a\nb"
    sweep["steps"].widget.value = "10-12, 40"
    sweep["strength"].widget.value = "0.25, 1"
    sweep["style"].widget.value = ("film", "clay")
    sweep["frames"].widget.value = "3"
    sweep["image"].widget.value = "https://example.com/cat.png"
    values = sweep.values()
    assert values["prompt"] == ["a", "b"] and values["steps"] == [10, 11, 12, 40] and values["strength"] == [0.25, 1.0]
    assert (
        values["style"] == ["film", "clay"]
        and values["frames"] == [3]
        and values["image"] == "https://example.com/cat.png"
    )
    assert "camera_fixed" not in values and "generate_audio" not in values  # at the schema's default: not sent


def test_a_field_added_to_the_snapshot_appears_in_both_forms(png_path):
    import ipywidgets as W

    schema = _schema_with(
        camera_fixed={"type": "boolean", "default": False, "title": "Camera Fixed"},
        motion_strength={"type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "title": "Motion"},
    )
    form = GenerateForm(schema=schema)
    assert form.camera_fixed in _shown(form) and isinstance(form.camera_fixed, W.Checkbox)
    assert form.motion_strength in _shown(form) and isinstance(form.motion_strength, W.FloatSlider)
    form.image.value = str(png_path)
    form.prompt.value = "a slow push-in"
    form.camera_fixed.value = True
    form.motion_strength.value = 0.8
    assert not form.go.disabled, form.messages.value
    (payload,) = [inp.to_payload() for inp in form.grid().inputs()]
    assert payload["camera_fixed"] is True and payload["motion_strength"] == 0.8

    builder = SweepBuilder(schema=schema)
    assert builder.camera_fixed in _shown(builder) and builder.motion_strengths in _shown(builder)
    builder.image.value = str(png_path)
    builder.prompts.value = "push in\nwhip pan"
    builder.motion_strengths.value = "0.2, 0.9"
    assert "<b>4</b> videos" in builder.count.value
    assert sorted(inp.to_payload()["motion_strength"] for inp in builder.grid().inputs()) == [0.2, 0.2, 0.9, 0.9]
    builder.motion_strengths.value = "0.2, 2"
    assert builder.run_button.disabled and "<b>motion_strength</b>" in builder.count.value
    assert "out of range" in builder.count.value
    # A form without the field (the shipped snapshot) has no such control and sends no such field.
    assert not hasattr(GenerateForm(), "camera_fixed")


def test_bad_input_names_the_field_as_written(png_path, tmp_path):
    from seedance_nb.errors import InputError

    form = GenerateForm()
    form.image.value = str(tmp_path / "missing.png")
    form.prompt.value = "a slow push-in"
    form.seed.value = "-3"
    form.duration.value = "5"
    assert form.go.disabled
    assert "<b>image</b>: file not found" in form.messages.value and "image_url" not in form.messages.value
    assert "<b>seed</b>" in form.messages.value
    with pytest.raises(InputError) as caught:
        form.inputs()
    assert set(caught.value.fields) == {"image", "seed"}
    form.image.value = "https://example.com/a cat.png"  # a URL the model would refuse: checked, not sent
    assert "<b>image</b>: not a valid URL" in form.messages.value
    form.end_image.value = "data:text/plain;base64,aGk="
    assert "<b>end_image</b>" in form.messages.value and "end_image_url" not in form.messages.value

    builder = SweepBuilder()
    builder.image.value = str(png_path)
    builder.prompts.value = "a"
    builder.durations.value = "4-6, 99"
    builder.seeds.value = "1, two"
    builder.resolutions.value = ()
    with pytest.raises(InputError) as caught:
        builder.grid()
    assert set(caught.value.fields) == {"duration", "seed", "resolution"}
    text = str(caught.value)
    assert "duration: unknown duration (got '99')" in text and "seed: not a whole number: 'two'" in text
    assert "resolution: pick at least one" in text
    builder.durations.value, builder.seeds.value, builder.resolutions.value = "4-6", "1-2000", ("480p",)
    assert "<b>seed</b>: the range 1-2000 has more than 1000 values" in builder.count.value
    builder.seeds.value = "1..2"
    assert "<b>6</b> videos" in builder.count.value and builder.grid().inputs()[-1].duration == "6"


def test_generate_form_validates_the_chosen_image_itself(tmp_path):
    from seedance_testconf import make_png

    image = tmp_path / "shot.png"
    image.write_bytes(make_png(200, 200))  # too small for the model
    form = GenerateForm()
    form.image.value = str(image)
    form.prompt.value = "a slow push-in"
    assert form.go.disabled
    assert "<b>image</b>: shot.png is 200×200 px; each side must be at least 300 px" in form.messages.value
    image.write_bytes(make_png(450, 800))  # replaced on disk: read again, and aspect "auto" follows it
    form.prompt.value = "a slow push-in, then a tilt"
    assert not form.go.disabled and form.messages.value == ""
    assert "720×1280" in form.cost.value  # 9:16 from the real image, not a placeholder's guess


def test_random_seeds_are_drawn_once_not_on_every_keystroke(png_path):
    builder = SweepBuilder()
    builder.image.value = str(png_path)
    builder.prompts.value = "a"
    builder.seeds.value = "3 random"
    seeds = [inp.seed for inp in builder.grid().inputs()]
    builder.prompts.value = "a slow push-in"
    assert [inp.seed for inp in builder.grid().inputs()] == seeds and len(set(seeds)) == 3
    builder.seeds.value = "3 random "  # a new text: a new draw
    assert len(builder.grid()) == 3
