"""``Storyboard``: shots in order, each a small sweep, each continuing from the last frame of the take chosen before.

::

    board = sd.Storyboard(image="cat.png", folder="boards/cat", takes=2, shots=[
        {"prompt": "the cat looks up", "duration": 5},
        {"prompt": "it jumps onto the table"},
        {"prompt": ["it knocks the glass over", "it curls up and sleeps"]},
    ])
    board.estimate()                  # every shot's cost, before anything is sent
    board.run()                       # shot 1: a sweep in boards/cat/shots/shot1-a
    board.choose(shot=1, job=0)       # shot 2 now starts from take #0's last frame
    board.run(); board.choose(shot=2, by="rating")
    board.choose(shot=2, job=1)       # a re-choice: a new branch (shot 3 again, from #1), nothing overwritten
    board.tree()                      # the branches as a picture
    board.film("cat.mp4")             # the current branch's chosen takes stitched into one MP4

Every shot run is a :class:`seedance_nb.Sweep` in its own run folder under the board's folder, with the
journal, the cache, the budget and resume: ``run()`` after a crash resumes the shot's run (re-attaching by request
id) rather than starting it again. The tree is ``board.json`` in the folder (see :mod:`._tree`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._names import set_public_module
from ..errors import InputError, Problem
from ..grids import Grid, GridEstimate
from ..markup import PAID
from ..statuses import HAS_VIDEO
from ..sweep import Sweep, run_sweep, run_sweep_async
from ._film import last_frame, poster_strip, stitch
from ._tree import BOARD_FILE, BoardTree, TreeState, read_state, write_state

__all__ = ["Film", "Storyboard"]

_SHOT_ONLY = ("image",)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _problems_of(index: int, exc: InputError) -> list[Problem]:
    return [Problem(f"shots[{index}].{p.field}", p.message, p.value, p.allowed, type=p.type) for p in exc.problems]


def _check_shots(shots: Any, takes: int) -> list[dict[str, Any]]:
    if not isinstance(shots, list | tuple) or not shots or not all(isinstance(s, dict) for s in shots):
        raise InputError(
            [Problem("shots", "must be a non-empty list of dicts", shots, '[{"prompt": "..."}, {"prompt": "..."}]')]
        )
    out = []
    for i, shot in enumerate(shots):
        if "image" in shot:
            raise InputError(
                [
                    Problem(
                        f"shots[{i}].image",
                        "a shot starts from the board's image (shot 1) or from the last frame of the take chosen "
                        "for the shot before",
                        shot["image"],
                        "leave it out (an end image is end_image=...)",
                    )
                ]
            )
        if "prompt" not in shot:
            raise InputError([Problem(f"shots[{i}].prompt", "every shot needs a prompt", None, '"a slow push-in"')])
        spec = dict(shot)
        if "takes" not in spec and "seed" not in spec:
            spec["takes"] = takes
        out.append({k: str(v) if isinstance(v, Path) else v for k, v in spec.items()})
    return out


@dataclass(frozen=True)
class Film:
    """A branch's chosen takes stitched into one MP4 (:meth:`Storyboard.film`).

    Args:
        path: the MP4.
        posters: the poster strip (each shot's first frame, side by side), a JPEG beside it.
        shots: how many shots it holds.
        complete: every shot of the board is in it.
        frames: its frames.
        seconds: its length.
        reencoded: False when it was remuxed (the takes' streams alike, no crossfade): no quality lost.
        reencoded_shots: the shots whose video was re-encoded (those whose streams differ from shot 1's; every
            shot with crossfades or when the sound differs); the others' packets are copied as they are.
        has_audio: it has sound (every take had).
        cost_usd: what every take of the branch's shot runs cost (chosen or not).
        jobs: the chosen job of each shot.
        branch: the branch's tip id.
    """

    path: Path
    posters: Path
    shots: int
    complete: bool
    frames: int
    seconds: float
    reencoded: bool
    reencoded_shots: tuple[int, ...]
    has_audio: bool
    cost_usd: float
    jobs: tuple[int, ...]
    branch: str

    def __repr__(self) -> str:
        how = f"shots {list(self.reencoded_shots)} re-encoded" if self.reencoded else "remuxed"
        return (
            f"Film({self.path.name}: {self.shots} shots, {self.seconds:.2f} s, {self.frames} frames, {how}, "
            f"takes cost ${self.cost_usd:.2f})"
        )

    def _repr_html_(self) -> str:
        from ..markup import esc

        return (
            f'<div><video controls width="480" src="{esc(self.path.as_posix())}"></video><br>'
            f'<img src="{esc(self.posters.as_posix())}" style="max-width:100%"><br>{esc(repr(self))}</div>'
        )


class Storyboard:
    """An ordered list of shots; each shot a small sweep starting from the last frame of the take chosen before.

    Made fresh (``image`` and ``shots``) or opened again (``Storyboard(folder=...)`` or :meth:`load`): a folder
    holding ``board.json`` is the same board, whatever process made it.

    Args:
        image: shot 1's first frame (a path or URL).
        shots: one dict per shot: a prompt and any input a :class:`seedance_nb.Grid` takes but ``image``
            (lists are axes; ``takes``; ``end_image`` is that shot's own end image).
        folder: the board's folder (each shot's run folders go under ``shots/``).
        name: the board's name (default: the folder's).
        takes: takes per shot when a shot names neither ``takes`` nor ``seed``.
        client: the client every shot runs through (default: :func:`seedance_nb.connect` at run time).
        budget_usd: the most the whole board may spend; each shot run is refused (nothing sent) when its
            estimate's high end is over what is left.
    """

    def __init__(
        self,
        image: Any = None,
        shots: list[dict[str, Any]] | None = None,
        folder: str | Path | None = None,
        *,
        name: str | None = None,
        takes: int = 1,
        client: Any = None,
        budget_usd: float | None = None,
    ) -> None:
        if folder is None:
            raise InputError([Problem("folder", "a storyboard needs a folder of its own", None, 'folder="boards/x"')])
        self.folder = Path(folder)
        self._frames: dict[Path, tuple[tuple[int, int], Any]] = {}
        self.client = client
        self.budget_usd = budget_usd
        if (self.folder / BOARD_FILE).exists():
            self._state = read_state(self.folder)
            if shots is not None and _check_shots(shots, takes) != self._state.shots:
                raise InputError(
                    [Problem("folder", "already holds a board with other shots", str(folder), "another folder")]
                )
            return
        if image is None:
            raise InputError([Problem("image", "shot 1 needs a first frame", None, 'image="cat.png"')])
        specs = _check_shots(shots, takes)
        for i, spec in enumerate(specs):
            try:
                Grid(image=image, **spec)
            except InputError as exc:
                raise InputError(_problems_of(i, exc)) from None
        self._state = TreeState(name=name or self.folder.name, image=self._keep_image(image), shots=specs)
        self._new_node(1, None, self._state.image)
        self._save()

    @classmethod
    def load(cls, folder: str | Path, *, client: Any = None, budget_usd: float | None = None) -> Storyboard:
        """Open a board from its folder (after a crash, or in another kernel).

        Args:
            folder: the board's folder (holding ``board.json``).
            client: the client its shots run through.
            budget_usd: the most the whole board may spend.

        Raises:
            FileNotFoundError: the folder holds no board.
        """
        if not (Path(folder) / BOARD_FILE).exists():
            raise FileNotFoundError(f"{folder} holds no storyboard ({BOARD_FILE})")
        return cls(folder=folder, client=client, budget_usd=budget_usd)

    # ------------------------------------------------------------------ state

    def _keep_image(self, image: Any) -> str:
        """Shot 1's image copied into the board's folder (so the board is whole on its own); a URL as given."""
        source = Path(str(image)) if isinstance(image, str | Path) else None
        if source is None or not source.is_file():
            return str(image)
        dest = self.folder / "frames" / f"start{source.suffix.lower()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        return str(dest.relative_to(self.folder))

    def _save(self) -> None:
        write_state(self.folder, self._state)

    def _new_node(self, shot: int, parent: str | None, image: str) -> dict[str, Any]:
        letter = sum(n["shot"] == shot for n in self._state.nodes.values())
        node_id = f"shot{shot}-{chr(ord('a') + letter) if letter < 26 else letter}"
        node = {"id": node_id, "shot": shot, "parent": parent, "image": image, "run": f"shots/{node_id}"}
        node["made_at"] = _now()
        self._state.nodes[node_id] = node
        self._state.current = node_id
        return node

    @property
    def name(self) -> str:
        """The board's name."""
        return self._state.name

    @property
    def shots(self) -> list[dict[str, Any]]:
        """The shots as given (a copy)."""
        return [dict(s) for s in self._state.shots]

    def __len__(self) -> int:
        return len(self._state.shots)

    def __repr__(self) -> str:
        chosen = sum(c is not None for _, c in self._state.path())
        return (
            f"<Storyboard {self.name!r}: {len(self)} shots, {chosen} chosen on the current branch, "
            f"{len(self.branches())} branch(es) in {self.folder}>"
        )

    def _image_of(self, node: dict[str, Any]) -> str:
        image = node["image"]
        local = self.folder / image
        return str(local) if not image.startswith(("http://", "https://", "data:")) and local.exists() else image

    def grid(self, shot: int) -> Grid:
        """Shot ``shot``'s grid on the current branch (its first frame: the chosen take's last frame).

        Args:
            shot: the shot's number (1 is the first).
        """
        node = self._node_at(shot)
        return Grid(image=self._image_of(node), **self._state.shots[shot - 1])

    def estimate(self) -> GridEstimate:
        """Every shot's jobs and cost for one pass down a branch, before anything is sent (shot 1's image stands
        in for the frames not chosen yet: the price depends on the duration and resolution only)."""
        image = self._image_of(self._state.nodes[next(iter(self._state.nodes))])
        return Grid.concat(*(Grid(image=image, **spec) for spec in self._state.shots)).estimate()

    # ------------------------------------------------------------------ walking the current branch

    def _node_at(self, shot: Any, tip: str | None = None) -> dict[str, Any]:
        if isinstance(shot, bool) or not isinstance(shot, int) or not 1 <= shot <= len(self):
            raise InputError([Problem("shot", "no such shot", shot, f"1..{len(self)}")])
        for node, _ in self._state.path(tip):
            if node["shot"] == shot:
                return node
        raise InputError(
            [Problem("shot", "this branch has not reached that shot yet", shot, f"choose a take of shot {shot - 1}")]
        )

    def _tip(self, branch: Any) -> str:
        tips = self._state.tips()
        if branch is None:
            return self._state.current or tips[-1]
        if isinstance(branch, int) and not isinstance(branch, bool) and 0 <= branch < len(tips):
            return tips[branch]
        if isinstance(branch, str) and (branch in self._state.nodes or branch in self._state.choices):
            return self._state.deepest(branch)
        raise InputError([Problem("branch", "no such branch", branch, f"0..{len(tips) - 1} (board.branches())")])

    def sweep(self, shot: int, branch: Any = None) -> Sweep:
        """The run of shot ``shot`` on a branch (to look at, rate or duel its takes).

        Args:
            shot: the shot's number.
            branch: a branch (its index in :meth:`branches` or its tip's id); default: the current one.

        Raises:
            InputError: the shot has not been run on that branch.
        """
        node = self._node_at(shot, self._tip(branch))
        run_dir = self.folder / node["run"]
        if not (run_dir / "journal.jsonl").exists():
            raise InputError([Problem("shot", "has not been run on this branch", shot, "board.run() first")])
        return Sweep.load(run_dir)

    @property
    def branch(self) -> str:
        """The current branch's tip id (what :meth:`run`, :meth:`choose` and :meth:`film` act on)."""
        return self._tip(None)

    def branches(self) -> list[str]:
        """Every branch's tip id, oldest first (index into this list for ``branch=``)."""
        return self._state.tips()

    def switch(self, branch: Any) -> BoardTree:
        """Make another branch the current one (what :meth:`run`, :meth:`choose` and :meth:`film` act on).

        Args:
            branch: its index in :meth:`branches`, or a node's or choice's id (the newest tip under it).
        """
        self._state.current = self._tip(branch)
        self._save()
        return self.tree()

    # ------------------------------------------------------------------ running and choosing

    def run(self, shot: int | None = None, *, client: Any = None, **options: Any) -> Sweep:
        """Run the current branch's next shot (or ``shot``), or resume it if it was cut off: nothing paid twice.

        Args:
            shot: which shot (default: the one the current branch waits for).
            client: the client (default: the board's, else :func:`seedance_nb.connect`).
            **options: :meth:`seedance_nb.Sweep.run`'s (``concurrency``, ``budget_usd``, ``progress``, ...).

        Raises:
            InputError: every shot of the branch is chosen already, or the shot is not reached yet.
            BudgetExceeded: the shot's estimate is over what is left of the board's budget (nothing sent).
        """
        node, client, options = self._prepare(shot, client, options)
        run_dir = self.folder / node["run"]
        if (run_dir / "journal.jsonl").exists():
            return Sweep.resume(run_dir, client=client, **options)
        grid = Grid(image=self._image_of(node), **self._state.shots[node["shot"] - 1])
        return run_sweep(grid, client=client, run_dir=run_dir, name=f"{self.name} {node['id']}", **options)

    async def run_async(self, shot: int | None = None, *, client: Any = None, **options: Any) -> Sweep:
        """:meth:`run` for ``await`` in a notebook cell (the widget runs shots this way, in the background).

        Args:
            shot: which shot (default: the one the current branch waits for).
            client: the client (default: the board's, else :func:`seedance_nb.connect`).
            **options: :meth:`seedance_nb.Sweep.run`'s.
        """
        node, client, options = self._prepare(shot, client, options)
        run_dir = self.folder / node["run"]
        if (run_dir / "journal.jsonl").exists():
            sweep = Sweep.load(run_dir)
            await sweep.resume_async(client, **options)
            return sweep
        grid = Grid(image=self._image_of(node), **self._state.shots[node["shot"] - 1])
        return await run_sweep_async(grid, client=client, run_dir=run_dir, name=f"{self.name} {node['id']}", **options)

    def _prepare(
        self, shot: int | None, client: Any, options: dict[str, Any]
    ) -> tuple[dict[str, Any], Any, dict[str, Any]]:
        """The node to run, the client and the options (the board's budget: what is left of it)."""
        if shot is None:
            tip = self._state.current or ""
            if tip in self._state.choices:
                raise InputError(
                    [Problem("shot", "every shot of this branch has a chosen take", None, "board.film(path)")]
                )
            node = self._state.nodes[tip]
        else:
            node = self._node_at(shot)
        if self.budget_usd is not None and "budget_usd" not in options:
            options["budget_usd"] = max(0.0, self.budget_usd - self.cost())
        return node, client if client is not None else self.client, options

    def waiting(self) -> int | None:
        """The shot the current branch waits for (to be run or chosen), or None when every shot is chosen."""
        tip = self._state.current or ""
        return None if tip in self._state.choices else int(self._state.nodes[tip]["shot"])

    def report(self, path: str | Path, *, film: bool = True) -> Path:
        """Write the board's HTML report: the tree, each branch's chosen takes, the current branch's film (rendered
        beside the page as ``<name>-film.mp4``, with the poster strip) and what the takes cost.

        Args:
            path: the HTML file to write.
            film: render and show the current branch's film (when a take of it is chosen).
        """
        from ._report import write_report

        return write_report(self, path, film=film)

    def widget(self) -> Any:
        """The storyboard widget: a row of takes per shot, click to choose, the branch picker, "Run next shot",
        "Render film", and the estimate before anything is sent (:class:`seedance_nb.storyboard.StoryboardWidget`).
        """
        from ._widget import StoryboardWidget

        return StoryboardWidget(self)

    def _pick(self, sweep: Sweep, shot: int, job: Any, by: str | None) -> int:
        """The job chosen: given, the best rated, or the best by a metric (see :meth:`seedance_nb.Sweep.best`)."""
        if (job is None) == (by is None):
            raise InputError([Problem("job", "give a job or by=, not both or neither", job, 'job=0 or by="rating"')])
        df = sweep.df
        done = df[df["status"].isin(HAS_VIDEO)]
        if by == "rating":
            rated = done[done["rating"].notna()]
            if rated.empty:
                raise InputError(
                    [Problem("by", f"no take of shot {shot} is rated", by, f"board.sweep({shot}).rate(job, 5)")]
                )
            return int(rated.sort_values("rating", ascending=False, kind="stable")["job"].iloc[0])
        if by == "duel":
            return _duel_winner(sweep, shot)
        if by is not None:
            return int(sweep.best(by)["job"].iloc[0])
        if job not in set(done["job"]):
            raise InputError(
                [Problem("job", f"shot {shot} has no finished take with this number", job, str(sorted(done["job"])))]
            )
        return int(job)

    def choose(self, shot: int, job: int | None = None, *, by: str | None = None) -> BoardTree:
        """Choose a take of a shot on the current branch: the next shot starts from its last frame.

        Choosing another take of a shot that already has one chosen makes a new branch (the next shot again,
        from the new take); the old branch stays. Choosing a take chosen before goes back to its branch.

        Args:
            shot: the shot's number.
            job: the take's job number (the ``job`` column of ``board.sweep(shot).df``).
            by: instead of ``job``: ``"rating"`` (the best rated take), ``"duel"`` (the take the shot's blind duels
                rank first: ``board.sweep(shot).duel()`` or ``.vote(a, b, "a")``, a Bradley–Terry fit by job) or a
                metric (``"motion"``, ...: the best take by it, as :meth:`seedance_nb.Sweep.best` ranks).

        Raises:
            InputError: the shot has not been run, or the job has no video.
        """
        node = self._node_at(shot)
        chosen = self._pick(self.sweep(shot), shot, job, by)
        again = [c for c in self._state.children(node["id"]) if c["job"] == chosen]
        if again:
            self._state.current = self._state.deepest(again[0]["id"])
        else:
            self._add_choice(node, chosen, by or "job")
        self._save()
        return self.tree()

    def _add_choice(self, node: dict[str, Any], job: int, by: str) -> None:
        row = self._row(node, job)
        choice_id = f"c{len(self._state.choices) + 1}"
        frame = Path("frames") / f"{choice_id}-{node['id']}-job{job}.png"
        (self.folder / frame).parent.mkdir(parents=True, exist_ok=True)
        last_frame(row["path"]).save(self.folder / frame, "PNG")
        choice = {"id": choice_id, "node": node["id"], "job": job, "by": by, "frame": str(frame), "made_at": _now()}
        self._state.choices[choice_id] = choice
        self._state.current = choice_id
        if node["shot"] < len(self):
            self._new_node(node["shot"] + 1, choice_id, str(frame))

    def _row(self, node: dict[str, Any], job: int) -> dict[str, Any]:
        df = self._frame(self.folder / node["run"])
        row: dict[str, Any] = df[df["job"] == job].iloc[0].to_dict()
        return row

    # ------------------------------------------------------------------ looking at it

    def _frame(self, run_dir: Path) -> Any:
        """A shot run's DataFrame, read again only when its journal changed (the tree and costs read it often)."""
        journal = run_dir / "journal.jsonl"
        stat = journal.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._frames.get(run_dir)
        if cached is None or cached[0] != stamp:
            cached = self._frames[run_dir] = (stamp, Sweep.load(run_dir).df)
        return cached[1]

    def _summary(self, node: dict[str, Any]) -> str:
        run_dir = self.folder / node["run"]
        if not (run_dir / "journal.jsonl").exists():
            return "not run"
        df = self._frame(run_dir)
        done = int(df["status"].isin(HAS_VIDEO).sum())
        return f"{done}/{len(df)} takes, ${self._paid(df):.2f}"

    @staticmethod
    def _paid(df: Any) -> float:
        paid = df[df["status"].isin(PAID)]
        return float(paid["cost_usd"].fillna(paid["est_cost_usd"]).fillna(0).sum())

    def cost(self, branch: Any = None, *, everything: bool = True) -> float:
        """What the board's takes cost (every take paid, chosen or not; on the emulator, what fal would bill).

        Args:
            branch: with ``everything=False``, only the shot runs on this branch (default: the current one).
            everything: every shot run of every branch.
        """
        nodes = (
            list(self._state.nodes.values())
            if everything
            else [node for node, _ in self._state.path(self._tip(branch))]
        )
        total = 0.0
        for node in nodes:
            run_dir = self.folder / node["run"]
            if (run_dir / "journal.jsonl").exists():
                total += self._paid(self._frame(run_dir))
        return total

    def tree(self) -> BoardTree:
        """The branches as a small picture (SVG in Jupyter, text in a terminal); ``*`` marks the current one."""
        nodes = tuple({**node, "summary": self._summary(node)} for node in self._state.nodes.values())
        current = tuple(key for node, choice in self._state.path() for key in (node["id"], choice and choice["id"]))
        return BoardTree(
            name=self.name,
            shots=len(self),
            nodes=nodes,
            choices=tuple(self._state.choices.values()),
            tips=tuple(self._state.tips()),
            current=tuple(k for k in current if k),
        )

    def chosen(self, branch: Any = None) -> list[dict[str, Any]]:
        """The chosen takes of a branch, shot by shot: the shot, its run, the job and its DataFrame row.

        Args:
            branch: a branch (index or tip id); default: the current one.
        """
        out = []
        for node, choice in self._state.path(self._tip(branch)):
            if choice is not None:
                out.append({"shot": node["shot"], "node": node["id"], "job": choice["job"], **self._take(node, choice)})
        return out

    def _take(self, node: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
        row = self._row(node, choice["job"])
        return {"path": row["path"], "prompt": row["prompt"], "poster": row.get("poster")}

    def film(self, path: str | Path, branch: Any = None, *, crossfade: int = 0) -> Film:
        """Stitch a branch's chosen takes into one MP4, with a poster strip of the shots beside it.

        The takes are remuxed (their packets copied, no quality lost) when their streams' parameters match, and
        re-encoded only when they differ or ``crossfade`` is asked for; sound is kept when every take has it.

        Args:
            path: the MP4 to write (atomically); the strip goes beside it as ``<name>-shots.jpg``.
            branch: a branch (its index in :meth:`branches` or its tip's id); default: the current one.
            crossfade: frames over which each shot fades into the next (0: straight cuts).

        Raises:
            InputError: no take of the branch is chosen yet, or a bad ``crossfade``.
        """
        if isinstance(crossfade, bool) or not isinstance(crossfade, int) or not 0 <= crossfade <= 48:
            raise InputError([Problem("crossfade", "must be a number of frames, 0..48", crossfade, "0 or 12")])
        tip = self._tip(branch)
        takes = self.chosen(tip)
        if not takes:
            raise InputError([Problem("branch", "no take is chosen on it yet", branch, "board.choose(shot=1, job=0)")])
        dest = Path(path)
        videos = [Path(t["path"]) for t in takes]
        made = stitch(videos, dest, crossfade=crossfade)
        strip = poster_strip(videos, dest.with_name(f"{dest.stem}-shots.jpg"))
        return Film(
            path=dest,
            posters=strip,
            shots=len(takes),
            complete=len(takes) == len(self),
            frames=made.frames,
            seconds=made.seconds,
            reencoded=made.reencoded,
            reencoded_shots=tuple(t["shot"] for t, redone in zip(takes, made.redone, strict=True) if redone),
            has_audio=made.has_audio,
            cost_usd=round(self.cost(tip, everything=False), 6),
            jobs=tuple(t["job"] for t in takes),
            branch=tip,
        )


def _duel_winner(sweep: Sweep, shot: int) -> int:
    """The take a shot's duels rank first (the Bradley–Terry leaderboard by job); refused with no votes."""
    if sweep.votes.empty:
        fix = f'board.sweep({shot}).duel(), or board.sweep({shot}).vote(a, b, "a")'
        raise InputError([Problem("by", f"no duel of shot {shot} has been voted", "duel", fix)])
    return int(sweep.leaderboard(by="job")["job"].iloc[0])


set_public_module(__name__)
