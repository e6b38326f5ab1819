"""``generate()``: one video from an image and a prompt, journalled like any sweep so nothing paid for is lost.

::

    result = seedance_nb.generate("cat.png", "the cat turns its head", duration=5, resolution="480p")
    result            # a player in the notebook; result.path is the downloaded MP4
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._names import set_public_module
from .client import AsyncClient
from .errors import InputError, Problem
from .runs import Job, RunFolder
from .schema import DEFAULT_ENDPOINT
from .sweep import Grid, Sweep
from .validation import unknown_field_problems

__all__ = ["Result", "generate", "generate_async"]

SAMPLE_IMAGE = Path(__file__).with_name("data") / "sample.png"


class Result:
    """One generated video: the job's record, its row, and a player via ``_repr_html_``.

    Args:
        sweep: the one-job sweep :func:`generate` ran.
    """

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self.job: Job = sweep.jobs[0]

    @property
    def row(self) -> dict[str, Any]:
        return self.job.row(self.sweep.run_dir.resolve())

    def to_row(self) -> dict[str, Any]:
        """The video's row, as in a sweep's ``df`` (inputs, status, path, timings, cost)."""
        return self.row

    @property
    def path(self) -> Path | None:
        value = self.row["path"]
        return Path(value) if value else None

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def request_id(self) -> str | None:
        return self.job.request_id

    def __repr__(self) -> str:
        return f"<Result {self.job.status} request_id={self.job.request_id} path={self.path}>"

    def _repr_html_(self) -> str:
        from .display import result_html

        return result_html(self.row)


#: :func:`seedance_nb.run_sweep`'s run options that make sense for one video (``concurrency`` and
#: ``resubmit_unknown`` do not), and ``name``; generate takes them as options, never as model inputs.
RUN_OPTIONS = ("progress", "budget_usd", "download", "force", "on_update", "metrics", "catalog", "disable_fallbacks")
_OPTIONS = ("client", "run_dir", "name", "allow_unknown", *RUN_OPTIONS)


async def generate_async(
    image: Any,
    prompt: str,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    progress: bool = False,
    allow_unknown: bool = False,
    **inputs: Any,
) -> Result:
    """Generate one video (await in a cell). Inputs are the model's fields (duration, seed, ...).

    One call makes exactly one video: a list of prompts or durations is refused (use
    :func:`seedance_nb.run_sweep` with a :class:`seedance_nb.Grid` for several). The same request made
    before, by ``generate`` or a sweep, from any folder, is served from the cache (nothing paid).

    Args:
        image: the start image: a path, bytes, a PIL image, a numpy array, a data URI or an http(s) URL.
        prompt: what happens in the video.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        progress: a progress bar while the video is made (off by default).
        allow_unknown: send fields the endpoint's schema does not list (with a warning) instead of refusing
            them ("did you mean ...?").
        **inputs: the model's other fields (``duration``, ``resolution``, ``seed``, ``end_image``, ...), and
            :func:`seedance_nb.run_sweep`'s options that fit one video: ``budget_usd``, ``download``,
            ``force``, ``on_update``, ``metrics``, ``catalog``, ``disable_fallbacks`` and ``name`` (options,
            never sent to the model).

    Raises:
        InputError: a bad input, a field the schema does not list, or several values for one field (nothing
            was sent).
    """
    from .sweep import run_sweep_async

    options = {k: inputs.pop(k) for k in (*RUN_OPTIONS, "name") if k in inputs}
    _refuse_axes(image=image, prompt=prompt, **inputs)
    endpoint = inputs.pop("endpoint", DEFAULT_ENDPOINT)
    if not allow_unknown:
        problems = unknown_field_problems(
            ["image", "prompt", *inputs],
            endpoint,
            aliases={"image": "image_url", "end_image": "end_image_url"},
            suggest=_OPTIONS,
        )
        if problems:
            raise InputError(problems, context="generate() was given a field fal does not list; nothing was sent")
    grid = Grid(image=image, prompt=prompt, endpoint=endpoint, allow_unknown=allow_unknown, **inputs)
    run_dir = Path(run_dir) if run_dir else RunFolder.new(kind="generation").path
    sweep = await run_sweep_async(grid, client=client, run_dir=run_dir, progress=progress, **options)
    return Result(sweep)


def generate(
    image: Any, prompt: str, *, client: AsyncClient | None = None, run_dir: str | Path | None = None, **kwargs: Any
) -> Result:
    """Sync :func:`generate_async` (works in scripts and inside Jupyter).

    Args:
        image: the start image: a path, bytes, a PIL image, a numpy array, a data URI or an http(s) URL.
        prompt: what happens in the video.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        **kwargs: the model's other fields (``duration``, ``resolution``, ``seed``, ``end_image``, ...) and
            :func:`generate_async`'s options (``progress``, ``allow_unknown``, ``budget_usd``, ...).
    """
    from ._sync import run_sync
    from .backends import with_client

    return run_sync(with_client(client, lambda c: generate_async(image, prompt, client=c, run_dir=run_dir, **kwargs)))


def _refuse_axes(**inputs: Any) -> None:
    """generate() makes one video: lists, tuples and ranges (a sweep's axes) are refused, naming the field."""
    problems = [
        Problem(
            name,
            f"has {len(value)} values; generate() makes one video",
            None,
            "one value; for several, sd.run_sweep(sd.Grid(image=..., prompt=[...], ...))",
        )
        for name, value in inputs.items()
        if isinstance(value, list | tuple | range | set | frozenset)
    ]
    if problems:
        raise InputError(problems, context="generate() takes single values; nothing was sent")


set_public_module(__name__)
