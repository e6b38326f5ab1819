"""ipywidgets front-ends: a generation form, a sweep builder, a live job board and a result browser.

They hold no logic the Python API lacks: they build validated ``VideoInput``s
and ``Grid``s and call the same sweep and display code. Long work runs as a
background task on the kernel's loop, so Cancel is handled at once::

    from seedance_nb.widgets import GenerateForm, SweepBuilder
    GenerateForm()        # fill in, click Generate; Cancel cancels the remote request
    SweepBuilder()        # prompts x durations x seeds, live cost, a budget gate, then a job board

Each widget also carries a static HTML summary, so a saved notebook reopened
without a kernel still shows what was there. Stable CSS classes
(``seedance-generate``, ``seedance-run``, ``seedance-output``, ...) make them
easy to drive from a browser test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as W

from .errors import InputError, SeedanceError
from .files import ImageData, is_url, load_image
from .markup import HAS_VIDEO, distinct_labels, jobs_table, rating_stars
from .runs import RunFolder
from .schema import ASPECT_RATIOS, DURATIONS, RESOLUTIONS, SEED_MAX, VideoInput
from .sweep import Grid, Sweep, run_sweep_async, start_sweep

__all__ = ["GenerateForm", "JobBoard", "ResultBrowser", "SweepBuilder", "parse_list", "parse_seeds"]

logger = logging.getLogger("seedance_nb.widgets")


def parse_list(text: str, field: str) -> list[Any]:
    """``"4, 8, auto"`` → ``[4, 8, "auto"]``; empty text → ``[]``."""
    out: list[Any] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        out.append(int(part) if part.lstrip("-").isdigit() else part)
    return out


def parse_seeds(text: str, rng: random.Random | None = None) -> list[int | None]:
    """``"1, 2, 3"`` → seeds; ``"4 random"`` → four random seeds; empty → one unset seed."""
    text = text.strip()
    if not text:
        return [None]
    words = text.split()
    if len(words) == 2 and words[1].lower() == "random" and words[0].isdigit():
        rng = rng or random.Random()
        return [rng.randint(0, SEED_MAX) for _ in range(int(words[0]))]
    seeds = parse_list(text, "seed")
    bad = [s for s in seeds if not isinstance(s, int)]
    if bad:
        raise InputError([_problem("seed", f"not a whole number: {bad[0]!r}", "a list like '1, 2, 3' or '4 random'")])
    return seeds


def _problem(field: str, message: str, allowed: str | None = None) -> Any:
    from .errors import Problem

    return Problem(field, message, None, allowed)


def _problems_html(exc: Exception) -> str:
    if isinstance(exc, InputError):
        items = "".join(
            f"<li><b>{html.escape(p.field)}</b>: {html.escape(p.message)}"
            + (f" <i>(allowed: {html.escape(p.allowed)})</i>" if p.allowed else "")
            + "</li>"
            for p in exc.problems
        )
        return f'<ul class="seedance-problems" style="color:#b91c1c;margin:2px 0">{items}</ul>'
    return f'<div class="seedance-problems" style="color:#b91c1c">{html.escape(str(exc))}</div>'


def _in_background(coro: Any, on_error: Any) -> asyncio.Task:
    """Run ``coro`` as a task on the running loop (the kernel's), reporting errors to ``on_error``."""
    task = asyncio.get_running_loop().create_task(coro)

    def done(t: asyncio.Task) -> None:
        if not t.cancelled() and t.exception() is not None:
            on_error(t.exception())

    task.add_done_callback(done)
    return task


class _ImagePicker(W.VBox):
    """A start (or end) image from an upload, a URL or a path, with a thumbnail."""

    def __init__(self, label: str, field: str, optional: bool = False, *, css: str | None = None) -> None:
        self.field = field
        self.optional = optional
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.text = W.Text(
            placeholder="https://... or a path", description=label, layout=W.Layout(width="420px", max_width="100%")
        )
        self.text.add_class(f"seedance-{(css or field).replace('_', '-')}")
        self.thumb = W.Image(layout=W.Layout(max_width="160px", max_height="120px", display="none"))
        super().__init__([W.HBox([self.text, self.upload]), self.thumb])
        self.upload.observe(self._uploaded, "value")
        self.text.observe(self._typed, "value")
        self._value: Any = None

    def _uploaded(self, _change: Any) -> None:
        files = self.upload.value
        if files:
            item = files[0]
            data = bytes(item["content"])
            self.text.value = ""
            # Kept with its file name, so grids, the DataFrame and the report label it "beach.png", not "image".
            self._value = (str(item.get("name") or "upload"), data)
            self._show(data)

    def _typed(self, _change: Any) -> None:
        text = self.text.value.strip()
        self._value = text or None
        if text and not is_url(text) and Path(text).expanduser().is_file():
            self._show(Path(text).expanduser().read_bytes())
        else:
            self.thumb.layout.display = "none"

    def _show(self, data: bytes) -> None:
        self.thumb.value = data
        self.thumb.layout.display = ""

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if isinstance(value, str | Path):
            self.text.value = str(value)
        else:
            self._value = value

    def checked(self) -> Any:
        """The image ready for a Grid (URL string or checked ImageData); raises InputError."""
        if self._value is None:
            if self.optional:
                return None
            raise InputError([_problem(self.field, "choose an image (upload, URL or path)")])
        if isinstance(self._value, str) and is_url(self._value):
            return self._value
        if isinstance(self._value, tuple):
            name, data = self._value
            return dataclasses.replace(load_image(data, field=self.field), name=name)
        if isinstance(self._value, ImageData):
            return self._value
        return load_image(self._value, field=self.field)


class _Base(W.VBox):
    """Shared: an error area that never loses a callback's error, and a static summary for saved notebooks."""

    def __init__(self, children: list[W.Widget], title: str) -> None:
        self.title = title
        self.error = W.HTML()
        self.error.add_class("seedance-error")
        self.summary = W.HTML()
        super().__init__([*children, self.error])

    def show_error(self, exc: BaseException) -> None:
        logger.error("%s: %s", self.title, exc, exc_info=exc)
        self.error.value = _problems_html(exc) if isinstance(exc, Exception) else html.escape(repr(exc))

    def static_html(self) -> str:
        return f'<div class="seedance-static"><b>{html.escape(self.title)}</b> {self.summary.value}</div>'

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.static_html()
        return bundle


class GenerateForm(_Base):
    """One video: image, prompt and the model's inputs, validated as you type, with cost and Cancel."""

    def __init__(self, client: Any = None, *, run_root: str | Path | None = None) -> None:
        self.client = client
        self.run_root = Path(run_root) if run_root is not None else RunFolder.root()
        self.image = _ImagePicker("Start image", "image", css="image_url")
        self.end_image = _ImagePicker("End image", "end_image", optional=True, css="end_image_url")
        self.prompt = W.Textarea(
            placeholder="What should happen?",
            description="Prompt",
            layout=W.Layout(width="560px", max_width="100%", height="70px"),
        )
        self.prompt.add_class("seedance-prompt")
        self.resolution = W.Dropdown(options=RESOLUTIONS, value="720p", description="Resolution")
        self.duration = W.Dropdown(options=DURATIONS, value="auto", description="Duration")
        self.aspect_ratio = W.Dropdown(options=ASPECT_RATIOS, value="auto", description="Aspect")
        self.generate_audio = W.Checkbox(value=True, description="Audio")
        self.seed = W.Text(placeholder="random", description="Seed")
        self.messages = W.HTML()
        self.messages.add_class("seedance-messages")
        self.cost = W.HTML()
        self.cost.add_class("seedance-cost")
        self.go = W.Button(description="Generate", button_style="primary", icon="play", disabled=True)
        self.go.add_class("seedance-generate")
        self.stop = W.Button(description="Cancel", icon="stop", disabled=True)
        self.stop.add_class("seedance-cancel")
        self.status = W.HTML()
        self.status.add_class("seedance-status")
        self.output = W.Output()
        self.output.add_class("seedance-output")
        self.sweep: Sweep | None = None
        self.task: asyncio.Task | None = None
        self._running = False
        self.result_html = ""
        controls = W.HBox(
            [W.VBox([self.resolution, self.duration]), W.VBox([self.aspect_ratio, self.seed]), self.generate_audio]
        )
        super().__init__(
            [
                self.image,
                self.end_image,
                self.prompt,
                controls,
                self.messages,
                self.cost,
                W.HBox([self.go, self.stop]),
                self.status,
                self.output,
            ],
            "Seedance: generate",
        )
        for widget in (
            self.prompt,
            self.resolution,
            self.duration,
            self.aspect_ratio,
            self.generate_audio,
            self.seed,
            self.image.text,
            self.image.upload,
            self.end_image.text,
            self.end_image.upload,
        ):
            widget.observe(lambda _c: self.validate(), "value")
        self.go.on_click(lambda _b: self._start())
        self.stop.on_click(lambda _b: self.cancel())
        self.validate()

    def inputs(self) -> dict[str, Any]:
        """The form as Grid inputs (raises InputError naming every bad field)."""
        problems = []
        fields: dict[str, Any] = {}
        for picker, name in ((self.image, "image"), (self.end_image, "end_image")):
            try:
                value = picker.checked()
                if value is not None:
                    fields[name] = value
            except InputError as exc:
                problems += exc.problems
        seed_text = self.seed.value.strip()
        seed = None
        if seed_text and seed_text.lower() != "random":
            if not seed_text.isdigit():
                problems.append(_problem("seed", f"not a whole number: {seed_text!r}", f"0..{SEED_MAX} or empty"))
            else:
                seed = int(seed_text)
        try:
            VideoInput(
                prompt=self.prompt.value,
                image_url="https://placeholder.invalid/x.png",
                resolution=self.resolution.value,
                duration=self.duration.value,
                aspect_ratio=self.aspect_ratio.value,
                generate_audio=self.generate_audio.value,
                seed=seed,
            )
        except InputError as exc:
            problems += exc.problems
        if problems:
            raise InputError(problems, context="fix the form")
        fields.update(
            prompt=self.prompt.value,
            resolution=self.resolution.value,
            duration=self.duration.value,
            aspect_ratio=self.aspect_ratio.value,
            generate_audio=self.generate_audio.value,
        )
        if seed is not None:
            fields["seed"] = seed
        return fields

    def validate(self) -> bool:
        try:
            grid = Grid(**self.inputs())
        except (InputError, SeedanceError) as exc:
            self.messages.value = _problems_html(exc)
            self.cost.value = ""
            self.go.disabled = True
            return False
        inp = grid.inputs()[0]
        job = grid.jobs()[0]
        image = getattr(job, "_image_data", {}).get("image_url")
        size = getattr(image, "size", None)
        est = inp.estimate(size)
        dims = f"{est.width}×{est.height}"
        self.messages.value = ""
        self.cost.value = f"<span>{html.escape(dims)} at 24 fps · estimated <b>{html.escape(str(est))}</b></span>"
        self.summary.value = html.escape(f"{self.prompt.value[:80]} · {dims} · {est}")
        self.go.disabled = self._running
        return True

    def _start(self) -> None:
        try:
            grid = Grid(**self.inputs())
        except InputError as exc:
            self.show_error(exc)
            return
        self.error.value = ""
        self._running = True
        self.go.disabled, self.stop.disabled = True, False
        self.status.value = "submitting…"
        folder = RunFolder.new(kind="generation", root=self.run_root)
        self.task = _in_background(self._run(grid, folder.path), self.show_error)

    async def _run(self, grid: Grid, run_dir: Path) -> None:
        started = asyncio.get_running_loop().time()

        def update(sweep: Sweep, job: Any) -> None:
            self.sweep = sweep
            elapsed = asyncio.get_running_loop().time() - started
            where = (
                f" (queue position {job.queue_position})" if job.status == "submitted" and job.queue_position else ""
            )
            log = f" — {html.escape(job.last_log)}" if job.last_log else ""
            self.status.value = f"<b>{html.escape(job.status)}</b>{where} · {elapsed:.1f} s{log}"

        try:
            client = self.client
            if client is None:
                from .backends import connect

                client = self.client = connect()
            sweep = await run_sweep_async(grid, client=client, run_dir=run_dir, on_update=update, progress=False)
            self.sweep = sweep
            job = sweep.jobs[0]
            if job.status in ("completed", "cached"):
                from .display import result_html

                self.result_html = result_html(sweep.df.iloc[0].to_dict())
                from IPython.display import HTML

                self.output.append_display_data(HTML(self.result_html))
                self.status.value = f"<b>{html.escape(job.status)}</b> · {html.escape(str(job.path))}"
                self.summary.value += " · done"
            else:
                self.status.value = f"<b>{html.escape(job.status)}</b>: {html.escape(job.error or '')}"
        except asyncio.CancelledError:
            self.status.value = "<b>cancelled</b> (the remote request was cancelled too)"
            raise
        except Exception:
            self.status.value = "<b>error</b> (see below)"
            raise
        finally:
            # Done, cancelled or failed: the form is ready for the next video at once.
            self._running = False
            self.stop.disabled = True
            self.validate()

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


class SweepBuilder(_Base):
    """Prompts × durations × seeds × any axis, with a live job count, cost and a budget gate."""

    def __init__(self, client: Any = None, *, run_root: str | Path | None = None) -> None:
        self.client = client
        self.run_root = Path(run_root) if run_root is not None else RunFolder.root()
        self.image = _ImagePicker("Start image", "image", css="image_url")
        self.prompts = W.Textarea(
            placeholder="one prompt per line",
            description="Prompts",
            layout=W.Layout(width="560px", max_width="100%", height="90px"),
        )
        self.prompts.add_class("seedance-prompts")
        self.durations = W.Text(value="4", description="Durations", placeholder="4, 8 or auto")
        self.durations.add_class("seedance-durations")
        self.seeds = W.Text(value="", description="Seeds", placeholder="1, 2, 3 or '4 random'")
        self.seeds.add_class("seedance-seeds")
        self.takes = W.BoundedIntText(value=1, min=1, max=20, description="Takes")
        self.resolutions = W.SelectMultiple(options=RESOLUTIONS, value=("480p",), description="Resolution", rows=2)
        self.aspect_ratios = W.SelectMultiple(options=ASPECT_RATIOS, value=("auto",), description="Aspect", rows=4)
        self.audio = W.Checkbox(value=True, description="Audio")
        self.budget = W.BoundedFloatText(value=0.0, min=0.0, max=100_000.0, step=1.0, description="Budget $")
        self.budget.add_class("seedance-budget")
        self.concurrency = W.BoundedIntText(value=4, min=1, max=64, description="Concurrency")
        self.count = W.HTML()
        self.count.add_class("seedance-count")
        self.run_button = W.Button(description="Run sweep", button_style="primary", icon="play", disabled=True)
        self.run_button.add_class("seedance-run")
        self.output = W.Output()
        self.output.add_class("seedance-output")
        self.board: JobBoard | None = None
        self.sweep: Sweep | None = None
        self._seeds: list[int | None] = [None]
        super().__init__(
            [
                self.image,
                self.prompts,
                W.HBox([self.durations, self.seeds, self.takes]),
                W.HBox([self.resolutions, self.aspect_ratios, self.audio]),
                W.HBox([self.budget, self.concurrency]),
                self.count,
                self.run_button,
                self.output,
            ],
            "Seedance: sweep",
        )
        for widget in (
            self.prompts,
            self.durations,
            self.takes,
            self.resolutions,
            self.aspect_ratios,
            self.audio,
            self.budget,
            self.image.text,
            self.image.upload,
        ):
            widget.observe(lambda _c: self.validate(), "value")
        self.seeds.observe(self._seeds_changed, "value")
        self.run_button.on_click(lambda _b: self._start())
        self.validate()

    def _seeds_changed(self, _change: Any) -> None:
        try:
            self._seeds = parse_seeds(self.seeds.value)  # "N random" is drawn once, not on every keystroke
        except InputError:
            self._seeds = []
        self.validate()

    def grid(self) -> Grid:
        """The sweep the form describes (raises InputError naming every bad field)."""
        prompts = [line.strip() for line in self.prompts.value.splitlines() if line.strip()]
        problems = []
        if not prompts:
            problems.append(_problem("prompt", "write at least one prompt (one per line)"))
        durations = parse_list(self.durations.value, "duration") or ["auto"]
        try:
            seeds = parse_seeds(self.seeds.value) if not self._seeds else self._seeds
        except InputError as exc:
            problems += exc.problems
            seeds = [None]
        try:
            image = self.image.checked()
        except InputError as exc:
            problems += exc.problems
            image = None
        if not self.resolutions.value:
            problems.append(_problem("resolution", "pick at least one", ", ".join(RESOLUTIONS)))
        if not self.aspect_ratios.value:
            problems.append(_problem("aspect_ratio", "pick at least one", ", ".join(ASPECT_RATIOS)))
        if problems:
            raise InputError(problems, context="fix the sweep")
        axes: dict[str, Any] = {
            "image": image,
            "prompt": prompts,
            "duration": durations,
            "resolution": list(self.resolutions.value),
            "aspect_ratio": list(self.aspect_ratios.value),
            "generate_audio": self.audio.value,
        }
        if seeds != [None]:
            axes["seed"] = seeds
        return Grid(takes=self.takes.value, **axes)

    def validate(self) -> bool:
        try:
            grid = self.grid()
        except (InputError, SeedanceError) as exc:
            self.count.value = _problems_html(exc)
            self.run_button.disabled = True
            return False
        est = grid.estimate()
        ok = self.budget.value + 1e-9 >= est.high_usd
        gate = (
            "" if ok else f' <span style="color:#b91c1c">— set the budget to at least ${est.high_usd:.2f} to run</span>'
        )
        price = f"about ${est.usd:.2f}"
        if est.high_usd - est.low_usd > 1e-9:
            price += f" (${est.low_usd:.2f}-${est.high_usd:.2f}: some durations are 'auto')"
        self.count.value = f"<b>{len(grid)}</b> videos · {html.escape(price)}{gate}"
        self.summary.value = html.escape(str(est))
        running = self.sweep is not None and self.sweep.task is not None and not self.sweep.task.done()
        self.run_button.disabled = not ok or running
        return ok

    def _start(self) -> None:
        try:
            grid = self.grid()
            if not self.validate():
                raise InputError([_problem("budget", "the budget does not cover the estimate")])
            client = self.client
            if client is None:
                from .backends import connect

                client = self.client = connect()
            self.sweep = start_sweep(
                grid,
                client=client,
                run_dir=RunFolder.new(root=self.run_root).path,
                concurrency=self.concurrency.value,
                budget_usd=self.budget.value,
            )
        except Exception as exc:  # shown in the widget, never lost
            self.show_error(exc)
            return
        self.error.value = ""
        self.run_button.disabled = True
        self.board = JobBoard(self.sweep)
        self.output.append_display_data(self.board)
        self.sweep.task.add_done_callback(lambda t: self._finished(t))

    def _finished(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.show_error(task.exception())
        self.validate()


class JobBoard(_Base):
    """Every job's status, queue position, elapsed time and error; a progress bar; Cancel all.

    Once the run is over (every job finished, or the run was cancelled or stopped) the board says so, Cancel all
    is disabled, and the grid of results is shown below.
    """

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.progress = W.IntProgress(value=0, min=0, max=max(1, len(sweep.jobs)), description="0 / 0")
        self.state = W.HTML()
        self.state.add_class("seedance-run-state")
        self.table = W.HTML()
        self.table.add_class("seedance-jobs")
        self.cancel_all = W.Button(description="Cancel all", icon="stop")
        self.cancel_all.add_class("seedance-cancel")
        self.grid_out = W.Output()
        self.grid_out.add_class("seedance-grid")
        super().__init__(
            [W.HBox([self.progress, self.cancel_all, self.state]), self.table, self.grid_out], "Seedance: jobs"
        )
        self.cancel_all.on_click(lambda _b: self.cancel())
        self._shown_grid = False
        self._cancelling = False
        sweep.add_listener(lambda _s, _j: self.refresh())
        if sweep.task is not None:
            sweep.task.add_done_callback(lambda _t: self.refresh())
        self.refresh()

    def cancel(self) -> None:
        """Cancel the run: in-flight requests are cancelled on the server, unsent jobs become ``cancelled``."""
        self._cancelling = True
        self.cancel_all.disabled = True
        self.state.value = "<b>cancelling…</b>"
        self.sweep.cancel()
        self.refresh()

    @property
    def over(self) -> bool:
        """True once nothing more will happen without a new run (all done, or the run's task has ended)."""
        task = self.sweep.task
        return all(j.done for j in self.sweep.jobs) or task is None or task.done()

    def refresh(self) -> None:
        jobs = self.sweep.jobs
        done = sum(j.done for j in jobs)
        failed = sum(j.status == "failed" for j in jobs)
        over = self.over
        self.progress.max = max(1, len(jobs))
        self.progress.value = done
        self.progress.description = f"{done} / {len(jobs)}"
        ok = sum(j.status in HAS_VIDEO for j in jobs)
        stopped = done > ok + failed  # cancelled (or otherwise ended without a video)
        self.progress.bar_style = (
            "danger" if failed else "warning" if stopped and over else "success" if ok == len(jobs) else "info"
        )
        self.table.value = jobs_table(jobs, over=over, now=datetime.now(timezone.utc).timestamp())
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.sweep.counts().items()))
        self.summary.value = html.escape(f"{self.sweep.name}: {counts}")
        if over:
            self.cancel_all.disabled = True
            word = "cancelled" if self._cancelling or self.sweep.counts().get("cancelled") else "finished"
            self.state.value = f'<b data-over="1">run {word}</b> · {html.escape(counts)}'
        elif self._cancelling:
            self.state.value = "<b>cancelling…</b>"
        if over and not self._shown_grid:
            self._shown_grid = True
            from IPython.display import HTML

            from .display import sweep_html

            self.grid_out.append_display_data(HTML(sweep_html(self.sweep)))


class ResultBrowser(_Base):
    """Filter a sweep by any parameter, watch the grid, rate videos and note them, ask for more takes.

    Ratings use the one scale of :meth:`Sweep.rate`: 1-5 stars; 👍 and 👎 (labelled "up"/"down" too, for
    fonts without emoji) are shortcuts for 5 and 1.
    """

    def __init__(self, sweep: Sweep, client: Any = None) -> None:
        self.sweep = sweep
        self.client = client
        df = sweep.df
        self.filters: dict[str, W.Dropdown] = {}
        for column in ("prompt", "duration", "seed", "resolution", "aspect_ratio", "image", "take"):
            values = [v for v in df[column].dropna().unique().tolist()] if column in df else []
            if len(values) > 1:
                labels = distinct_labels(values, 60) if column in ("prompt", "image") else [str(v) for v in values]
                dropdown = W.Dropdown(
                    options=[("all", None), *zip(labels, values, strict=True)],
                    description=column,
                    layout=W.Layout(max_width="100%"),
                )
                dropdown.observe(lambda _c: self.render(), "value")
                self.filters[column] = dropdown
        self.job = W.Dropdown(options=self._job_options(), description="Video", layout=W.Layout(max_width="100%"))
        self.job.add_class("seedance-job")
        self.rating = W.ToggleButtons(
            options=[("–", None), *((f"{n} ★", n) for n in range(1, 6))],
            value=None,
            description="Rating",
            tooltips=["no rating", *(f"{n} of 5 stars" for n in range(1, 6))],
            style={"button_width": "48px"},
        )
        self.rating.add_class("seedance-rating")
        self.thumbs_up = W.Button(description="👍 up (5)", tooltip="thumbs up: 5 stars", layout=W.Layout(width="96px"))
        self.thumbs_up.add_class("seedance-thumbs-up")
        self.thumbs_down = W.Button(
            description="👎 down (1)", tooltip="thumbs down: 1 star", layout=W.Layout(width="106px")
        )
        self.thumbs_down.add_class("seedance-thumbs-down")
        self.note = W.Text(description="Note", placeholder="what you liked or not", layout=W.Layout(max_width="100%"))
        self.save = W.Button(description="Save rating", icon="save")
        self.save.add_class("seedance-save")
        self.saved = W.HTML()
        self.saved.add_class("seedance-saved")
        self.more = W.Button(description="More takes", icon="plus")
        self.more.add_class("seedance-more")
        # A take of a job with a fixed seed likely repeats the same (paid) video: only when asked for.
        self.same_seed = W.Checkbox(value=False, description="even with the same seed", indent=False)
        self.same_seed.add_class("seedance-same-seed")
        self.grid_out = W.Output()
        self.grid_out.add_class("seedance-grid")
        wrap = W.Layout(flex_flow="row wrap")
        super().__init__(
            [
                W.HBox(list(self.filters.values()), layout=wrap),
                self.grid_out,
                W.HBox([self.job, self.rating, self.thumbs_up, self.thumbs_down], layout=wrap),
                W.HBox([self.note, self.save, self.more, self.same_seed, self.saved], layout=wrap),
            ],
            "Seedance: results",
        )
        self.save.on_click(lambda _b: self.rate())
        self.thumbs_up.on_click(lambda _b: self._thumb(5))
        self.thumbs_down.on_click(lambda _b: self._thumb(1))
        self.more.on_click(lambda _b: self.more_takes())
        self.job.observe(lambda _c: self._show_rating(), "value")
        self.task: asyncio.Task | None = None
        self._show_rating()
        self.render()

    def _job_options(self) -> list[tuple[str, int]]:
        jobs = self.sweep.jobs
        prompts = distinct_labels([j.input.prompt for j in jobs], 40)
        return [
            (f"#{j.job} {p}" + (f" (take {j.take})" if j.take > 1 else ""), j.job)
            for j, p in zip(jobs, prompts, strict=True)
        ]

    def _show_rating(self) -> None:
        if self.job.value is not None and 0 <= self.job.value < len(self.sweep.jobs):
            self.rating.value = rating_stars(self.sweep.jobs[self.job.value].rating)

    def _thumb(self, stars: int) -> None:
        self.rating.value = stars
        self.rate()

    def filtered(self) -> Any:
        df = self.sweep.df
        for column, dropdown in self.filters.items():
            if dropdown.value is not None:
                df = df[df[column] == dropdown.value]
        return df

    def render(self) -> None:
        from IPython.display import HTML

        from .display import sweep_html

        df = self.filtered()
        self.grid_out.outputs = ()
        self.grid_out.append_display_data(HTML(sweep_html(df)))
        rated = self.sweep.df["rating"].notna().sum()
        self.summary.value = html.escape(f"{self.sweep.name}: {len(df)} shown, {rated} rated")

    def rate(self) -> None:
        """Save the chosen stars and note for the chosen video (journalled), and say so next to the button."""
        try:
            stars = self.rating.value
            self.sweep.rate(self.job.value, rating=stars, note=self.note.value or None)
            when = datetime.now().strftime("%H:%M:%S")
            what = f"{stars}/5 ★" if stars is not None else "note"
            self.saved.value = (
                f'<span style="color:#2e7d32" data-saved="{self.job.value}">✔ saved: #{self.job.value} {what} '
                f"at {when}</span>"
            )
            self.render()
        except Exception as exc:
            self.saved.value = ""
            self.show_error(exc)

    def more_takes(self, n: int = 1) -> None:
        """Plan and run ``n`` more takes of the chosen video (a fixed seed needs "even with the same seed")."""
        try:
            self.error.value = ""
            self.sweep.add_takes(self.job.value, n, same_seed_ok=self.same_seed.value)
            self.job.options = self._job_options()
            client = self.client or self.sweep.client
            self.task = _in_background(self._run_more(client), self.show_error)
        except Exception as exc:
            self.show_error(exc)

    async def _run_more(self, client: Any) -> None:
        await self.sweep.run(client, progress=False)
        self.render()
