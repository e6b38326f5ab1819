"""The storyboard widget: one row per shot with its takes, a click to choose, the branch picker, "Run next shot"
and "Render film", with the estimate shown before any shot is sent.

It holds no logic the board lacks: each control calls :class:`Storyboard`'s methods, and a shot runs as a
background task on the kernel's loop (:meth:`Storyboard.run_async`), so the notebook stays usable. Stable CSS
classes (``seedance-story-estimate``, ``seedance-story-run``, ``seedance-story-film``, ``seedance-story-branch``,
``seedance-story-take``, ``seedance-story-shot``) make it easy to drive from a browser test.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..statuses import HAS_VIDEO
from ..widgets import _Base, _in_background

__all__ = ["StoryboardWidget"]


def _css(widget: W.Widget, name: str) -> W.Widget:
    widget.add_class(name)
    return widget


class StoryboardWidget(_Base):
    """A storyboard in a notebook (``board.widget()``).

    Args:
        board: the :class:`seedance_nb.Storyboard` (typed loosely: the board imports this module, not the reverse).
        thumb_width: each take's poster width in pixels.
    """

    def __init__(self, board: Any, *, thumb_width: int = 160) -> None:
        self.board = board
        self.thumb_width = thumb_width
        self.task: asyncio.Task[None] | None = None
        self._busy = False
        self.estimate = _css(W.HTML(), "seedance-story-estimate")
        self.branch = _css(W.Dropdown(description="branch"), "seedance-story-branch")
        self.run_button = _css(W.Button(description="Run next shot", button_style="primary"), "seedance-story-run")
        self.film_path = W.Text(value=str(board.folder / "film.mp4"), description="film")
        self.film_button = _css(W.Button(description="Render film"), "seedance-story-film")
        self.rows = W.VBox()
        self.tree_view = W.HTML()
        self.status = _css(W.HTML(), "seedance-story-status")
        self.run_button.on_click(lambda _: self.run_next())
        self.film_button.on_click(lambda _: self.render_film())
        self.branch.observe(self._switched, names="value")
        controls = W.HBox([self.branch, self.run_button, self.film_path, self.film_button])
        super().__init__([self.estimate, controls, self.rows, self.tree_view, self.status], f"Storyboard {board.name}")
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def refresh(self) -> None:
        """Redraw everything from the board (its folder is the truth)."""
        board = self.board
        est = board.estimate()
        self.estimate.value = (
            f"<b>{len(board)} shots</b>: {est.jobs} videos per branch, about ${est.usd:.2f} "
            f"(at most ${est.high_usd:.2f}); spent so far ${board.cost():.2f}"
        )
        tips = board.branches()
        current = board.branch
        self._updating = True
        try:
            self.branch.options = [(f"{i}: {tip}", tip) for i, tip in enumerate(tips)]
            self.branch.value = current if current in tips else None
        finally:
            self._updating = False
        waiting = board.waiting()
        ran = waiting is not None and self._ran(waiting)
        self.run_button.disabled = waiting is None or ran or self._busy
        if waiting is None:
            self.run_button.description = "Every shot chosen"
        else:
            self.run_button.description = f"Choose a take of shot {waiting}" if ran else f"Run shot {waiting}"
        self.film_button.disabled = not board.chosen()
        self.rows.children = [self._row(shot) for shot in range(1, len(board) + 1)]
        self.tree_view.value = board.tree()._repr_html_()
        self.summary.value = html.escape(repr(board))

    def _ran(self, shot: int) -> bool:
        """The shot's run on the current branch has every job finished (it waits for a choice, not a run)."""
        try:
            return bool(self.board.sweep(shot).done)
        except Exception:  # not run yet
            return False

    def _row(self, shot: int) -> W.Widget:
        spec = self.board.shots[shot - 1]
        title = _css(W.HTML(f"<b>Shot {shot}</b>: {html.escape(str(spec.get('prompt')))}"), "seedance-story-shot")
        try:
            sweep = self.board.sweep(shot)
        except Exception:  # not reached or not run on this branch yet
            return W.VBox([title, W.HTML("<i>not run yet</i>")])
        chosen = {t["shot"]: t["job"] for t in self.board.chosen()}.get(shot)
        takes = []
        records: list[dict[str, Any]] = sweep.df.to_dict("records")
        for row in records:
            if row["status"] not in HAS_VIDEO:
                takes.append(W.HTML(f"#{row['job']}: {html.escape(str(row['status']))}"))
                continue
            takes.append(self._take(shot, row, chosen == row["job"]))
        return W.VBox([title, W.HBox(takes)])

    def _take(self, shot: int, row: dict[str, Any], chosen: bool) -> W.Widget:
        picture: W.Widget = W.HTML("")
        poster = row.get("poster")
        if isinstance(poster, str) and Path(poster).is_file():
            picture = W.Image(value=Path(poster).read_bytes(), format="jpeg", width=self.thumb_width)
        label = f"#{row['job']}" + (" ✓ chosen" if chosen else " choose")
        button = _css(W.Button(description=label, button_style="success" if chosen else ""), "seedance-story-take")
        button.add_class(f"seedance-story-take-{shot}-{row['job']}")
        button.on_click(lambda _, s=shot, j=row["job"]: self.choose(s, int(j)))
        return W.VBox([picture, button])

    # ------------------------------------------------------------------ acting

    def _switched(self, change: dict[str, Any]) -> None:
        if getattr(self, "_updating", False) or change.get("new") is None:
            return
        try:
            self.board.switch(change["new"])
            self.refresh()
        except Exception as exc:  # shown in the widget, never lost
            self.show_error(exc)

    def choose(self, shot: int, job: int) -> None:
        """Choose take ``job`` of ``shot`` (what clicking it does).

        Args:
            shot: the shot's number.
            job: the take's job number.
        """
        try:
            self.board.choose(shot=shot, job=job)
            self.error.value = ""
        except Exception as exc:  # shown in the widget, never lost
            self.show_error(exc)
        self.refresh()

    def run_next(self) -> asyncio.Task[None] | None:
        """Run the shot the current branch waits for, in the background (what "Run shot k" does)."""

        async def go() -> None:
            self.status.value = "running…"
            try:
                await self.board.run_async(progress=False)
                self.status.value = "done"
            finally:
                self._busy = False
                self.refresh()

        try:
            self.task = _in_background(go(), self.show_error)
        except RuntimeError as exc:  # no running loop: outside a notebook
            self.show_error(exc)
            return None
        self._busy = True
        self.run_button.disabled = True
        return self.task

    def render_film(self) -> None:
        """Stitch the current branch's chosen takes into the film path (what "Render film" does)."""
        try:
            film = self.board.film(self.film_path.value)
            self.status.value = html.escape(repr(film))
            self.error.value = ""
        except Exception as exc:  # shown in the widget, never lost
            self.show_error(exc)
