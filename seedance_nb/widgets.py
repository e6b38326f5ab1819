"""ipywidgets front-ends: a generation form, a sweep builder, a live job board and a result browser.

They hold no logic the Python API lacks: they build validated ``Grid``s and call the same sweep and display
code. The two forms' controls are generated from the model's input schema by one builder
(:mod:`seedance_nb.forms`): enums become dropdowns (list boxes in a sweep), bools checkboxes, strings text
areas, numbers sliders or lists; a field fal adds to the schema appears in both. Long work runs as a
background task on the kernel's loop, so Cancel is handled at once::

    from seedance_nb.widgets import GenerateForm, SweepBuilder
    GenerateForm()        # fill in, click Generate; Cancel cancels the remote request
    SweepBuilder()        # prompts x durations x seeds x any field, live cost, a budget gate, then a job board

Each widget also carries a static HTML summary, so a saved notebook reopened
without a kernel still shows what was there. Stable CSS classes
(``seedance-generate``, ``seedance-run``, ``seedance-output``, ``seedance-<field>``, ...) make them
easy to drive from a browser test.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ipywidgets as W

from . import ratings
from .errors import InputError, SeedanceError
from .files import ImageData
from .forms import SchemaForm, parse_list, parse_seeds
from .markup import distinct_labels, jobs_table
from .openapi_schema import InputSchema
from .runs import RunFolder
from .statuses import HAS_VIDEO, JobStatus
from .sweep import Grid, Sweep, run_sweep_async, start_sweep

__all__ = ["GenerateForm", "JobBoard", "ResultBrowser", "SweepBuilder", "parse_list", "parse_seeds"]

logger = logging.getLogger("seedance_nb.widgets")


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


def _in_background(coro: Coroutine[Any, Any, None], on_error: Callable[[BaseException], None]) -> asyncio.Task[None]:
    """Run ``coro`` as a task on the running loop (the kernel's), reporting errors to ``on_error``."""
    task = asyncio.get_running_loop().create_task(coro)

    def done(t: asyncio.Task[None]) -> None:
        error = None if t.cancelled() else t.exception()
        if error is not None:
            on_error(error)

    task.add_done_callback(done)
    return task


def _expose(widget: W.Widget, form: SchemaForm) -> None:
    """Each control as an attribute of ``widget`` named as its field is written (``prompt``, ``prompts``, ...);
    a name the widget already has (a trait such as ``layout``) is left alone: the control stays in ``form``."""
    for control in form:
        if not hasattr(widget, control.attribute):
            setattr(widget, control.attribute, control.widget)


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
    """One video: a control for every input of the model's schema, validated as you type, with cost and Cancel.

    The controls come from :class:`seedance_nb.forms.SchemaForm` (one value each); each is also an attribute
    named as the field is written (``form.image``, ``form.prompt``, ``form.resolution``, ``form.seed``, ...).
    Validation builds the real ``Grid`` from the chosen image (read once per change, not per keystroke), so
    every error names the field as you wrote it.

    Args:
        client: the client to run on (default: :func:`seedance_nb.connect` at the first Generate).
        run_root: where run folders go (default: ``RunFolder.root()``).
        schema: the input schema the controls are generated from (default: the shipped snapshot).
    """

    def __init__(
        self, client: Any = None, *, run_root: str | Path | None = None, schema: InputSchema | None = None
    ) -> None:
        self.client = client
        self.run_root = Path(run_root) if run_root is not None else RunFolder.root()
        self.form = SchemaForm(schema)
        _expose(self, self.form)
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
        self.task: asyncio.Task[None] | None = None
        self._running = False
        self.result_html = ""
        super().__init__(
            [
                *self.form.rows(),
                self.messages,
                self.cost,
                W.HBox([self.go, self.stop]),
                self.status,
                self.output,
            ],
            "Seedance: generate",
        )
        self.form.observe(self.validate)
        self.go.on_click(lambda _b: self._start())
        self.stop.on_click(lambda _b: self.cancel())
        self.validate()

    def inputs(self) -> dict[str, Any]:
        """The form as Grid inputs (raises InputError naming every bad field as written)."""
        return self.form.values()

    def grid(self) -> Grid:
        """The one-video grid the form describes, validated with the chosen image (raises InputError)."""
        # The form only makes fields its schema lists (a newer document may list more than the snapshot).
        return Grid(endpoint=self.form.schema.endpoint, allow_unknown=True, **self.inputs())

    def validate(self) -> bool:
        try:
            values = self.inputs()
            grid = Grid(endpoint=self.form.schema.endpoint, allow_unknown=True, **values)
        except (InputError, SeedanceError) as exc:
            self.messages.value = _problems_html(exc)
            self.cost.value = ""
            self.go.disabled = True
            return False
        image = values.get("image")
        est = grid.inputs()[0].estimate(image.size if isinstance(image, ImageData) else None)
        dims = f"{est.width}×{est.height}"
        self.messages.value = ""
        self.cost.value = f"<span>{html.escape(dims)} at 24 fps · estimated <b>{html.escape(str(est))}</b></span>"
        self.summary.value = html.escape(f"{str(values.get('prompt', ''))[:80]} · {dims} · {est}")
        self.go.disabled = self._running
        return True

    def _start(self) -> None:
        try:
            grid = self.grid()
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
                f" (queue position {job.queue_position})"
                if job.status == JobStatus.SUBMITTED and job.queue_position
                else ""
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
            if job.status in HAS_VIDEO:
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
    """Prompts × durations × seeds × any field of the schema, with a live job count, cost and a budget gate.

    The controls come from :class:`seedance_nb.forms.SchemaForm` with ``sweep=True``: text fields take one
    value per line, numbers and long enums a list (``4, 8``, ``1-5``, ``4 random``), short enums a pick of
    several; each is also an attribute (``builder.prompts``, ``builder.durations``, ``builder.seeds``,
    ``builder.resolutions``, ``builder.aspect_ratios``, ``builder.image``, ...).

    Args:
        client: the client to run on (default: :func:`seedance_nb.connect` at the first Run).
        run_root: where run folders go (default: ``RunFolder.root()``).
        schema: the input schema the controls are generated from (default: the shipped snapshot).
    """

    #: Where a sweep starts: cheap, short videos.
    DEFAULTS: dict[str, Any] = {"resolution": ("480p",), "duration": "4"}

    def __init__(
        self, client: Any = None, *, run_root: str | Path | None = None, schema: InputSchema | None = None
    ) -> None:
        self.client = client
        self.run_root = Path(run_root) if run_root is not None else RunFolder.root()
        self.form = SchemaForm(schema, sweep=True, defaults=self.DEFAULTS)
        _expose(self, self.form)
        self.takes = W.BoundedIntText(value=1, min=1, max=20, description="Takes")
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
        super().__init__(
            [
                *self.form.rows(),
                W.HBox([self.takes, self.budget, self.concurrency]),
                self.count,
                self.run_button,
                self.output,
            ],
            "Seedance: sweep",
        )
        self.form.observe(self.validate)
        for widget in (self.takes, self.budget):
            widget.observe(lambda _c: self.validate(), "value")
        self.run_button.on_click(lambda _b: self._start())
        self.validate()

    @property
    def audio(self) -> Any:
        """The audio checkbox (``builder.generate_audio``; the name it had before the forms were generated)."""
        return self.form["generate_audio"].widget

    def grid(self) -> Grid:
        """The sweep the form describes (raises InputError naming every bad field as written)."""
        endpoint = self.form.schema.endpoint  # the form only makes fields its schema lists
        return Grid(takes=self.takes.value, endpoint=endpoint, allow_unknown=True, **self.form.values())

    def validate(self) -> bool:
        try:
            grid = self.grid()
        except (InputError, SeedanceError) as exc:
            self.count.value = _problems_html(exc)
            self.run_button.disabled = True
            return False
        est = grid.estimate()
        budget: float = self.budget.value  # a FloatText's value
        ok = budget + 1e-9 >= est.high_usd
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
        if self.sweep.task is not None:
            self.sweep.task.add_done_callback(lambda t: self._finished(t))

    def _finished(self, task: asyncio.Task[Sweep]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.show_error(error)
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
        failed = sum(j.status == JobStatus.FAILED for j in jobs)
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
            word = "cancelled" if self._cancelling or self.sweep.counts().get(JobStatus.CANCELLED) else "finished"
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
        self.filters = self._filter_dropdowns(sweep.df)
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
        self.task: asyncio.Task[None] | None = None
        self._show_rating()
        self.render()

    def _filter_dropdowns(self, df: Any) -> dict[str, W.Dropdown]:
        """One dropdown per parameter that varies (its values, "all" first), each re-rendering the grid."""
        filters: dict[str, W.Dropdown] = {}
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
                filters[column] = dropdown
        return filters

    def _job_options(self) -> list[tuple[str, int]]:
        jobs = self.sweep.jobs
        prompts = distinct_labels([j.input.prompt for j in jobs], 40)
        return [
            (f"#{j.job} {p}" + (f" (take {j.take})" if j.take > 1 else ""), j.job)
            for j, p in zip(jobs, prompts, strict=True)
        ]

    def _show_rating(self) -> None:
        if self.job.value is not None and 0 <= self.job.value < len(self.sweep.jobs):
            self.rating.value = ratings.stars(self.sweep.jobs[self.job.value].rating)

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
