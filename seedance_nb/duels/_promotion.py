"""Scores and rounds: a round's cost, scoring takes, :class:`Promotion` and the sweep's :class:`DuelsMixin`."""

from __future__ import annotations

import html
import json
import logging
import math
import operator
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from .._names import set_public_module
from .._text import plural
from ..errors import BudgetExceeded, InputError, Problem
from ..runs import Journal, input_row, now
from ..schema import DEFAULT_ENDPOINT
from ..statuses import HAS_VIDEO, MAY_STILL_BE_PAID, is_paid
from ._fit import WINNERS, _by, _finished, group_keys, leaderboard_frame, read_votes
from ._takes import PROMOTED_FROM, chosen_takes, promoted_takes

if TYPE_CHECKING:
    from ..client import AsyncClient
    from ..grids import Grid
    from ..runner import Run as Sweep  # the host: the top floor's Sweep, a Run


logger = logging.getLogger("seedance_nb.duels")  # one logger for the package (users filter on it)
T = TypeVar("T")

# --------------------------------------------------------------------------- scores and rounds


def _costs_money(job: Any) -> bool:
    """Does this job cost money now? Paid for (:func:`seedance_nb.statuses.is_paid`), or fal may still bill it
    (:data:`~seedance_nb.statuses.MAY_STILL_BE_PAID`: counted, so the budget stays a hard stop). Cached videos
    cost nothing now."""
    return is_paid(job.status, getattr(job, "video_url", None)) or job.status in MAY_STILL_BE_PAID


def _images_of(job: Any) -> Mapping[str, Any]:
    """A job's loaded input images by field."""
    return job.image_data or {}


def round_cost(sweep: Any) -> float:
    """What a round cost: the high estimate of each billed video (cached ones are free)."""
    total = 0.0
    for job in sweep.jobs:
        if _costs_money(job):
            image = _images_of(job).get("image_url")
            size = getattr(image, "size", None)
            total += job.input.estimate(size).high_usd
    return round(total, 6)


def score_values(
    sweep: Any, by: str | Sequence[str] = "prompt", score: str | Callable[[pd.DataFrame], Any] | None = None
) -> pd.Series:
    """One score per value of ``by`` (higher is better), best first; values with no score last (NaN).

    ``score``: ``"votes"`` (or ``"leaderboard"``): the Bradley–Terry strength; ``"rating"`` or any
    numeric column (a metric): its mean over the value's finished videos; a callable: given the
    DataFrame of finished videos, returns one number per row (a Series on the same index), averaged
    per value. ``None`` picks ``"votes"`` when there are votes, else ``"rating"`` when any video is rated.
    """
    df = sweep.df
    columns = _by(by, df)
    if score is None:
        score = _default_score(sweep)
    if isinstance(score, str) and score in ("votes", "leaderboard"):
        board: pd.DataFrame = sweep.leaderboard(by=columns)
        if board.attrs.get("votes", 0) == 0:
            raise InputError([Problem("score", "no votes between different values yet", score, "vote first")])
        keys = group_keys(board, columns)
        # annotated: pandas-stubs give Any when mypy checks for Python 3.10
        index = pd.Index(keys, tupleize_cols=False)
        scores: pd.Series = pd.Series(board["strength"].tolist(), index=index, name="score")
        return scores
    done = df[_finished(df)]
    numbers = _per_video(df, done, score)
    sums: dict[Any, list[float]] = {}
    for key, value in zip(group_keys(done, columns), numbers.tolist(), strict=True):
        sums.setdefault(key, [])
        if value is not None and not math.isnan(value):
            sums[key].append(float(value))
    if not any(sums.values()):
        raise InputError(
            [Problem("score", f"no finished video has a {score if isinstance(score, str) else 'score'} yet", None)]
        )
    return _means_best_first(sums)


def _default_score(sweep: Any) -> str:
    """``"votes"`` when there are votes, else ``"rating"`` when any video is rated."""
    df = sweep.df
    if not read_votes(sweep.run_dir).empty:
        return "votes"
    if "rating" in df.columns and df["rating"].notna().any():
        return "rating"
    raise InputError(
        [
            Problem(
                "score",
                "there are no votes or ratings to rank by yet",
                None,
                "vote (sweep.duel() or sweep.vote), rate, or pass score=<column or callable>",
            )
        ]
    )


def _per_video(df: pd.DataFrame, done: pd.DataFrame, score: Any) -> pd.Series:
    """One number per finished video: a column of it, or what the callable ``score`` says of it."""
    if callable(score):
        per_video = score(done)
        if not isinstance(per_video, pd.Series) or not per_video.index.equals(done.index):
            raise InputError(
                [Problem("score", "must return a Series with one number per row of the DataFrame it is given", None)]
            )
        return pd.to_numeric(per_video, errors="coerce")
    if isinstance(score, str):
        if score not in df.columns:
            raise InputError([Problem("score", f"no column {score!r}", score, "'votes', 'rating', a metric column")])
        return pd.to_numeric(done[score], errors="coerce")
    raise InputError([Problem("score", "unknown score", score, "'votes', 'rating', a column name or a callable")])


def _means_best_first(sums: Mapping[Any, list[float]]) -> pd.Series:
    """Each key's mean, highest first; keys with no number last (NaN), in their first-seen order."""
    keys = list(sums)
    means = [sum(v) / len(v) if v else math.nan for v in sums.values()]
    order = sorted(
        range(len(keys)), key=lambda i: (math.isnan(means[i]), -means[i] if not math.isnan(means[i]) else 0, i)
    )
    return pd.Series(
        [means[i] for i in order], index=pd.Index([keys[i] for i in order], tupleize_cols=False), name="score"
    )


def _describe_score(score: Any) -> str:
    if score is None:
        return "votes or ratings"
    if callable(score):
        return getattr(score, "__name__", "a callable")
    return str(score)


def _round_dir(parent: Path, stem: str, number: int) -> Path:
    base = parent / f"{stem}-round{number}"
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _announce(text: str) -> None:
    """Say it where the user looks: the notebook cell when there is one, and the log."""
    logger.info(text)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import HTML, display

        display(
            HTML(f'<div class="seedance-round" style="font:13px sans-serif;margin:2px 0">{html.escape(text)}</div>')
        )


@dataclass
class Promotion:
    """The next round, planned and not yet run: ``grid`` holds the ``top`` values' inputs with ``changes``."""

    parent: Any
    grid: Grid
    by: list[str]
    values: list[Any]
    scores: pd.Series
    score: str | Callable[[pd.DataFrame], Any]
    takes: int
    changes: dict[str, Any]
    round: int
    run_dir: Path
    #: Take promotions (``best=``): each new job's draft job number, in the new grid's order.
    promoted_from: list[int] | None = None
    #: What the promotion left out (inputs the new endpoint's schema lacks), one line each.
    notes: list[str] = field(default_factory=list)

    @property
    def estimate(self) -> Any:
        return self.grid.estimate()

    def __str__(self) -> str:
        by = ", ".join(self.by)
        est = self.estimate
        cost = f"about ${est.usd:.2f}" + (f" (up to ${est.high_usd:.2f})" if est.high_usd > est.usd + 1e-9 else "")
        changed = ", ".join(f"{k}={v}" for k, v in self.changes.items())
        if self.promoted_from is not None:
            drafts = ", ".join(str(j) for j in self.promoted_from)
            return (
                f"Round {self.round}: take(s) {drafts} of {self.parent.name} again with the same prompt, image and "
                f"seed{', ' + changed if changed else ''}: {est}"
            )
        return (
            f"Round {self.round}: the top {len(self.values)} of {len(self.scores)} by {_describe_score(self.score)} "
            f"({by}), {plural(self.takes, 'take')} each{', ' + changed if changed else ''}: "
            f"{plural(est.jobs, 'video')}, {cost}"
        )

    def _check(self, budget_usd: float | None) -> None:
        est = self.estimate
        if budget_usd is not None and est.high_usd > budget_usd + 1e-9:
            raise BudgetExceeded(
                f"round {self.round} ({plural(est.jobs, 'video')}) may cost up to ${est.high_usd:.2f}, over the "
                f"${budget_usd:.2f} left; nothing was sent. Lower top= or takes=, or raise the budget.",
                estimate_usd=est.high_usd,
                budget_usd=budget_usd,
            )

    def _write_round(self, budget_usd: float | None) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        est = self.estimate
        info = {
            "round": self.round,
            "parent": str(self.parent.run_dir),
            "parent_name": self.parent.name,
            "by": self.by,
            "values": _jsonable(self.values),
            "scores": _jsonable([[k, None if math.isnan(v) else v] for k, v in self.scores.items()]),
            "score": _describe_score(self.score),
            "takes": self.takes,
            "changes": _jsonable(self.changes),
            **({PROMOTED_FROM: self.promoted_from} if self.promoted_from is not None else {}),
            "notes": self.notes,
            "budget_usd": budget_usd,
            "estimate_usd": round(est.usd, 6),
            "estimate_high_usd": round(est.high_usd, 6),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        part = self.run_dir / "round.json.part"
        part.write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(part, self.run_dir / "round.json")

    async def run_async(self, client: Any = None, *, budget_usd: float | None = None, **run_kwargs: Any) -> Sweep:
        """Run this round (refused, with nothing sent, when its high estimate is over ``budget_usd``).

        The run folder is created first and ``round.json`` written into it before anything is sent, so
        the link to the parent survives a crash of the round.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            **run_kwargs: :meth:`seedance_nb.Sweep.run`'s options.
        """
        self._check(budget_usd)
        if client is None:
            from ..backends import connect

            client = connect()
        sweep: Sweep = type(self.parent).create(self.grid, self.run_dir, backend=client.backend)  # parent's class
        try:
            self._write_round(budget_usd)
            await sweep.run(client, budget_usd=budget_usd, **run_kwargs)
        finally:
            sweep.close()
        return sweep

    def run(self, client: Any = None, *, budget_usd: float | None = None, **run_kwargs: Any) -> Sweep:
        """Sync :meth:`run_async` (works inside Jupyter too).

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            **run_kwargs: :meth:`seedance_nb.Sweep.run`'s options.
        """
        from .._sync import run_sync

        return run_sync(_with_client(client, lambda c: self.run_async(c, budget_usd=budget_usd, **run_kwargs)))


async def _with_client(client: AsyncClient | None, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """``body(client)``, connecting when ``client`` is None and closing its connections after (the sweep's own)."""
    from ..backends import with_client

    return await with_client(client, body)


def _grid_from_jobs(
    jobs: Sequence[Any], endpoint: str, takes: int, changes: Mapping[str, Any], *, same_seed_ok: bool = False
) -> Grid:
    from ..grids import Grid

    seeded = takes > 1 and any(
        (job.input.replace(**changes) if changes else job.input).seed is not None for job in jobs
    )
    if seeded and not same_seed_ok:
        raise InputError(
            [
                Problem(
                    "takes",
                    f"takes={takes} of inputs with a fixed seed repeats the same request, which likely pays again "
                    "for the same video",
                    takes,
                    "seed=None (each take then gets its own random seed), takes=1, or same_seed_ok=True",
                )
            ],
            context="promote",
        )

    rows: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for job in jobs:
        inp = job.input.replace(**changes) if changes else job.input
        if inp in seen:
            continue
        seen.add(inp)
        images = _images_of(job)
        row = input_row(inp, images.get("image_url", inp.image_url), images.get("end_image_url", inp.end_image_url))
        rows.append({**row, "endpoint": inp.endpoint})
    names = list(dict.fromkeys(k for row in rows for k in row))
    fields: dict[str, Any] = {}
    for name in names:
        column = [row.get(name) for row in rows]
        if all(value is column[0] or value == column[0] for value in column) and not isinstance(column[0], list):
            if column[0] is not None:
                fields[name] = column[0]
        else:
            fields[name] = column
    # The fields are the parent's, already sent (their names were checked then); changes are checked above.
    endpoints = fields.pop("endpoint", endpoint)  # each input's own (a list when they differ)
    return Grid(takes=takes, mode="zip", endpoint=endpoints, same_seed_ok=same_seed_ok, allow_unknown=True, **fields)


#: Inputs a promoted round may change (``**changes`` of :meth:`DuelsMixin.promote`).
CHANGEABLE = ("resolution", "duration", "aspect_ratio", "generate_audio", "seed", "end_user_id")


def _changes_check(changes: Mapping[str, Any], extra: Iterable[str] = ()) -> None:
    """Refuse a change to a value's identity (prompt, images) and unknown names (a typo would go to fal)."""
    allowed = set(CHANGEABLE) | set(extra)
    problems = []
    for name in changes:
        if name in ("image", "image_url", "end_image", "end_image_url", "prompt"):
            problems.append(Problem(name, "a promoted round keeps each value's own inputs; it cannot be changed"))
        elif name not in allowed:
            problems.append(Problem(name, "not an input a round can change", name, ", ".join(sorted(allowed))))
    if problems:
        raise InputError(problems, context="promote")


# --------------------------------------------------------------------------- the Sweep mixin


def _check_count(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError([Problem(field, "must be a whole number of at least 1", value, "1, 2, 3, ...")])


def _chosen_jobs(sweep: Any, columns: Sequence[str], chosen: Sequence[Any]) -> list[Any]:
    """The finished jobs of the ``chosen`` values of ``columns``, in the order the values were chosen."""
    df = sweep.df
    key_of = dict(zip(df["job"].astype(int).tolist(), group_keys(df, columns), strict=True))
    jobs = [j for j in sweep.jobs if j.status in HAS_VIDEO and key_of.get(j.job) in chosen]
    jobs.sort(key=lambda j: chosen.index(key_of[j.job]))
    return jobs


def _next_round(sweep: Any, run_dir: str | os.PathLike[str] | None) -> tuple[int, Path]:
    """The next round's number and folder (default: beside this one, ``<root name>-round<N>``)."""
    number = int(sweep.round_info.get("round", 1)) + 1
    stem = str(sweep.round_info.get("root_name") or sweep.name)
    if stem.endswith(f"-round{number - 1}"):
        stem = stem[: -len(f"-round{number - 1}")]
    return number, Path(run_dir) if run_dir is not None else _round_dir(Path(sweep.run_dir).parent, stem, number)


class DuelsMixin:
    """Votes, the leaderboard, the duel widget and promotion: mixed into :class:`seedance_nb.sweep.Sweep` on the
    top floor only (the core's :class:`seedance_nb.runner.Run` never names it)."""

    jobs: list[Any]
    run_dir: Path
    name: str
    meta: dict[str, Any]

    if TYPE_CHECKING:  # provided by the host class (Sweep)

        @property
        def df(self) -> pd.DataFrame: ...

        def _open(self) -> Journal: ...

        def close(self) -> None: ...

    # ------------------------------------------------------------------ votes

    def vote(self, a: int, b: int, winner: str, *, voter: str | None = None) -> dict[str, Any]:
        """Record one blind vote between two videos. Journalled (fsynced) at once; returns the journal line.

        Args:
            a: the job number of the video shown first.
            b: the job number of the other video.
            winner: ``"a"``, ``"b"``, ``"tie"`` or ``"both_bad"``.
            voter: who voted (kept with the vote).
        """
        numbers = {}
        by_number = {job.job: job for job in self.jobs}
        problems = []
        for name, value in (("a", a), ("b", b)):
            try:
                if isinstance(value, bool):
                    raise TypeError
                number = operator.index(value)
            except TypeError:
                problems.append(Problem(name, "must be a job number", value, "an int from sweep.df['job']"))
                continue
            job = by_number.get(number)
            if job is None:
                problems.append(Problem(name, f"no job {number} in this sweep", value, f"0..{len(self.jobs) - 1}"))
            elif job.status not in HAS_VIDEO:
                problems.append(
                    Problem(name, f"job {number} has no video to judge (status {job.status})", value, "a finished job")
                )
            else:
                numbers[name] = number
        if len(numbers) == 2 and numbers["a"] == numbers["b"]:
            problems.append(Problem("b", "a video cannot duel itself", b, "another job number"))
        if winner not in WINNERS:
            problems.append(Problem("winner", "unknown outcome", winner, ", ".join(repr(w) for w in WINNERS)))
        if voter is not None and not isinstance(voter, str):
            problems.append(Problem("voter", "must be text", voter, "a name or None"))
        if problems:
            raise InputError(problems, context="vote not recorded")
        entry: dict[str, Any] = {"event": "vote", "at": now(), "a": numbers["a"], "b": numbers["b"], "winner": winner}
        if voter is not None:
            entry["voter"] = voter
        self._open().append(entry)
        task = getattr(self, "task", None)
        if task is None or task.done():
            self.close()
        return entry

    @property
    def votes(self) -> pd.DataFrame:
        """Every vote so far: ``vote``, ``at``, ``a``, ``b``, ``winner``, ``voter`` (read from the journal)."""
        return read_votes(self.run_dir)

    def leaderboard(self, by: str | Sequence[str] = "prompt", **fit: Any) -> pd.DataFrame:
        """The Bradley–Terry leaderboard of ``by``'s values, best first (see :func:`leaderboard_frame`).

        Args:
            by: the input column(s) whose values are ranked.
            **fit: :func:`leaderboard_frame`'s options (``ci``, ``level``, ``prior``, ``n_boot``, ``seed``).
        """
        return leaderboard_frame(self.df, self.votes, by, **fit)

    def duel(self, by: str | Sequence[str] = "prompt", **options: Any) -> Any:
        """The duel widget (:class:`seedance_nb.duel_widget.Duel`): vote by buttons or keys, watch the board.

        Args:
            by: the input column(s) whose values compete (``"prompt"``, ``["prompt", "seed"]``, ...).
            **options: the widget's options (``same``, ``seed``, ``voter``, ``width``, ``client``).
        """
        from ._widget import Duel

        return Duel(self, by=by, **options)

    # ------------------------------------------------------------------ rounds

    @property
    def round_info(self) -> dict[str, Any]:
        """This run's ``round.json`` (``round``, ``parent``, ``values``, ...) or ``{"round": 1}`` for a first run."""
        path = Path(self.run_dir) / "round.json"
        if not path.is_file():
            return {"round": 1}
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return info

    def plan_promotion(
        self,
        by: str | Sequence[str] = "prompt",
        top: int | None = None,
        takes: int | None = None,
        *,
        score: str | Callable[[pd.DataFrame], Any] | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        same_seed_ok: bool = False,
        best: Any = None,
        endpoint: str | None = None,
        **changes: Any,
    ) -> Promotion:
        """The next round for the ``top`` values by ``score`` (see :func:`score_values`), not yet run; or, with
        ``best``, for the chosen takes themselves (draft, then promote).

        Each chosen value keeps its own inputs (every distinct input of its finished videos) with
        ``changes`` applied, e.g. ``resolution="720p"``; ``takes`` defaults to this run's takes. More
        than one take of an input with a fixed seed would repeat the same paid request: pass
        ``seed=None`` (each take gets its own random seed) or, knowingly, ``same_seed_ok=True``.

        Args:
            by: the input column(s) whose values are ranked.
            top: how many values go on (default: half the scored values, rounded up).
            takes: takes of each input in the next round (default: this run's; 1 with ``best``).
            score: what ranks the values (see :func:`score_values`), or the takes with ``best=N``.
            run_dir: the next round's folder (default: beside this one, named ``<name>-round<N>``).
            same_seed_ok: allow more takes of inputs with a fixed seed.
            best: promote takes, not values: the ``best`` N takes by ``score`` (an int), or the takes to promote
                (job numbers, or rows of ``df``). Each runs again with the same prompt, image and seed (the seed
                fal reported when none was set); the promoted sweep's ``promoted_from`` column names its draft.
            endpoint: the endpoint to run the promoted round on (default: each input's own): a better tier or
                another model. Inputs its schema lacks are left out, with a note.
            **changes: input fields to change in the next round (``resolution="720p"``, ``seed=None``, ...).
        """
        _changes_check(changes, {k for job in self.jobs for k in job.input.extra})
        if best is not None:
            return self._plan_takes(best, takes, score, run_dir, same_seed_ok, endpoint, changes)
        return self._plan_values(by, top, takes, score, run_dir, same_seed_ok, endpoint, changes)

    def _plan_values(
        self,
        by: str | Sequence[str],
        top: int | None,
        takes: int | None,
        score: str | Callable[[pd.DataFrame], Any] | None,
        run_dir: str | os.PathLike[str] | None,
        same_seed_ok: bool,
        endpoint: str | None,
        changes: Mapping[str, Any],
    ) -> Promotion:
        """:meth:`plan_promotion` of the ``top`` values of ``by``."""
        columns = _by(by, self.df)
        if top is not None:
            _check_count("top", top)
        if takes is None:
            takes = int(self.meta.get("takes") or 1)
        _check_count("takes", takes)
        scores = score_values(self, columns, score)
        ranked = [k for k, v in scores.items() if not math.isnan(v)]
        top = top if top is not None else max(1, math.ceil(len(ranked) / 2))
        chosen = ranked[:top]
        jobs: list[Any] = _chosen_jobs(self, columns, chosen)
        notes: list[str] = []
        moved_to = {"endpoint": endpoint} if endpoint is not None else {}
        if endpoint is not None:  # the same inputs on another endpoint (seeds as they were: takes may vary them)
            moved, endpoint, notes = promoted_takes(self, [j.job for j in jobs], endpoint, {"seed": None})
            jobs = [replace(t, input=t.input.replace(seed=j.input.seed)) for t, j in zip(moved, jobs, strict=True)]
        endpoint = endpoint or getattr(self, "endpoint", None) or self.meta.get("endpoint") or DEFAULT_ENDPOINT
        grid = _grid_from_jobs(jobs, endpoint, takes, changes, same_seed_ok=same_seed_ok)
        number, target = _next_round(self, run_dir)
        return Promotion(
            parent=self,
            grid=grid,
            by=columns,
            values=chosen,
            scores=scores,
            score=score if score is not None else ("votes" if not self.votes.empty else "rating"),
            takes=takes,
            changes={**moved_to, **changes},
            round=number,
            run_dir=target,
            notes=notes,
        )

    def _plan_takes(
        self,
        best: Any,
        takes: int | None,
        score: str | Callable[[pd.DataFrame], Any] | None,
        run_dir: str | os.PathLike[str] | None,
        same_seed_ok: bool,
        endpoint: str | None,
        changes: Mapping[str, Any],
    ) -> Promotion:
        """:meth:`plan_promotion` with ``best``: the chosen takes, retargeted, as the next round."""
        takes = 1 if takes is None else takes
        _check_count("takes", takes)
        numbers, scores = chosen_takes(self, best, lambda: score_values(self, ["job"], score))
        moved, target_endpoint, notes = promoted_takes(self, numbers, endpoint, changes)
        grid = _grid_from_jobs(moved, target_endpoint, takes, {}, same_seed_ok=same_seed_ok)
        drafts = [next(t.job for t in moved if t.input == inp) for inp in grid.inputs()[::takes]]
        number, target = _next_round(self, run_dir)
        return Promotion(
            parent=self,
            grid=grid,
            by=["job"],
            values=numbers,
            scores=scores,
            score=score if score is not None else ("explicit" if not scores.size else "votes or ratings"),
            takes=takes,
            changes={**({"endpoint": endpoint} if endpoint else {}), **changes},
            round=number,
            run_dir=target,
            promoted_from=[d for d in drafts for _ in range(takes)],
            notes=notes,
        )

    def promote(
        self,
        by: str | Sequence[str] = "prompt",
        top: int | None = None,
        takes: int | None = None,
        *,
        score: str | Callable[[pd.DataFrame], Any] | None = None,
        budget_usd: float | None = None,
        client: Any = None,
        run_dir: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        progress: bool | None = None,
        same_seed_ok: bool = False,
        best: Any = None,
        endpoint: str | None = None,
        **changes: Any,
    ) -> Sweep:
        """Make and run the next round for the ``top`` values, or the ``best`` takes (see
        :meth:`plan_promotion`); returns its sweep.

        The round runs in its own folder beside this one with a ``round.json`` naming this run as its
        parent; its estimate is shown first, and ``budget_usd`` refuses it (nothing sent) when over.
        ``sweep.promote(best=3, endpoint="bytedance/seedance-2.0/image-to-video", resolution="1080p")`` finishes
        the three best drafts on the standard tier at 1080p, each with its draft's prompt, image and seed.

        Args:
            by: the input column(s) whose values are ranked.
            top: how many values go on (default: half the scored values, rounded up).
            takes: takes of each input in the next round (default: this run's; 1 with ``best``).
            score: what ranks the values (see :func:`score_values`), or the takes with ``best=N``.
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            client: the client (default: :func:`seedance_nb.connect`).
            run_dir: the next round's folder (default: beside this one).
            concurrency: requests on fal at once.
            progress: a progress bar.
            same_seed_ok: allow more takes of inputs with a fixed seed.
            best: promote takes: the best N by ``score``, or job numbers, or rows of ``df``.
            endpoint: the endpoint the round runs on (default: each input's own).
            **changes: input fields to change in the next round.
        """
        plan = self.plan_promotion(
            by,
            top,
            takes,
            score=score,
            run_dir=run_dir,
            same_seed_ok=same_seed_ok,
            best=best,
            endpoint=endpoint,
            **changes,
        )
        _announce(str(plan) + (f"; budget ${budget_usd:.2f}" if budget_usd is not None else ""))
        return plan.run(client, budget_usd=budget_usd, concurrency=concurrency, progress=progress)


set_public_module(__name__)
