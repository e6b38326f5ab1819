"""The duel widget (``seedance_nb.duel_widget``): two videos side by side, labels hidden, vote, repeat.

::

    duel = sweep.duel(by="prompt")      # or Duel(sweep, by="prompt", seed=1)
    duel                                # ← left better, → right better, T tie, B both bad, S skip

Sides are randomized and nothing on screen says which value a video stands for. The two videos play
together (seedance_nb.display's synchronized comparison: one control bar, the left video leads).
Each vote goes to the sweep's journal at once (:meth:`seedance_nb.duels.DuelsMixin.vote`), the
leaderboard refits, and the next pair is the one the ranking is least sure about
(:func:`seedance_nb.duels.next_pair`). Keyboard shortcuts work while the pointer is over the widget
or focus is inside it (after a click), so they never steal the notebook's own keys; in Python,
:meth:`Duel.press` does what a key does. Displayed in a notebook, the leaderboard is also a plain HTML
output under the widget that is updated after every vote, so a saved notebook shows the standings
without a kernel. Built on ipywidgets (a dependency already), imported only when a duel is made.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import random
import uuid
from collections.abc import Sequence
from typing import Any

import ipywidgets as W

from .._names import set_public_module
from .._text import plural
from ..display import compare_html
from ..markup import script_json
from ._board import leaderboard_html
from ._fit import group_keys, leaderboard_frame
from ._pairs import comparable_pairs, next_pair

__all__ = ["ACTIONS", "KEYS", "Duel"]

logger = logging.getLogger("seedance_nb.duel_widget")

#: What each button does: (label, tooltip).
ACTIONS = {
    "left": ("◀ Left is better", "the left video is better (key ←)"),
    "tie": ("Tie", "equally good (key T)"),
    "right": ("Right is better ▶", "the right video is better (key →)"),
    "both_bad": ("Both bad", "neither is acceptable (key B)"),
    "skip": ("Skip", "show another pair; nothing is recorded (key S)"),
}
#: Keyboard shortcuts (``KeyboardEvent.key`` → action).
KEYS = {
    "ArrowLeft": "left",
    "ArrowRight": "right",
    "t": "tie",
    "T": "tie",
    "ArrowDown": "tie",
    "b": "both_bad",
    "B": "both_bad",
    "s": "skip",
    "S": "skip",
}

_KEYS_JS = """(function () {
  var id = %s, keys = %s;
  var registry = window.__seedanceDuels = window.__seedanceDuels || {};
  if (registry[id]) return;
  function handler(e) {
    var root = document.querySelector(".seedance-duel-" + id);
    if (!root) { window.removeEventListener("keydown", handler, true); delete registry[id]; return; }
    if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    var action = keys[e.key];
    if (!action) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    if (!(root.contains(document.activeElement) || root.matches(":hover"))) return;
    var button = root.querySelector("button.seedance-duel-" + action.replace("_", "-"));
    if (!button || button.disabled) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    button.click();
  }
  registry[id] = handler;
  window.addEventListener("keydown", handler, true);
})();"""


class Duel(W.VBox):
    """A blind pairwise duel over ``sweep``'s videos, ranking the values of ``by``.

    ``same``: the input columns two videos must share (default: every input but ``by``; the start
    image always). ``seed`` makes the pairs and sides reproducible. ``voter`` is written with each
    vote. ``adaptive`` (an :class:`seedance_nb.duels.AdaptiveRun`) adds a button that runs its next round.
    """

    def __init__(
        self,
        sweep: Any,
        by: str | Sequence[str] = "prompt",
        *,
        same: Sequence[str] | None = None,
        seed: int | None = None,
        voter: str | None = None,
        width: int = 420,
        adaptive: Any = None,
        client: Any = None,
    ) -> None:
        self.sweep = sweep
        self.by = [by] if isinstance(by, str) else list(by)
        self.same = same
        self.voter = voter
        self.width = width
        self.adaptive = adaptive
        self.client = client
        self.rng = random.Random(seed if seed is not None else random.SystemRandom().randrange(2**32))
        self.id = uuid.uuid4().hex[:12]
        self.pair: Any = None
        self.skipped: set[tuple[int, int]] = set()
        self.cast = 0
        self.task: asyncio.Task[None] | None = None
        self._display_id: str | None = None

        self.title = W.HTML()
        self.progress = W.IntProgress(min=0, max=1, value=0, layout=W.Layout(width="240px"))
        self.stage = W.Output(layout=W.Layout(min_height="120px"))
        self.stage.add_class("seedance-duel-stage")
        self.buttons = self._vote_buttons()
        self.board = W.HTML()
        self.board.add_class("seedance-duel-board")
        self.error = W.HTML()
        self.error.add_class("seedance-error")
        controls = [self.buttons[a] for a in ("left", "tie", "right", "both_bad", "skip")]
        self.next_round = self._next_round_button(shown=adaptive is not None)
        super().__init__(
            [
                W.HBox([self.title, self.progress]),
                self.stage,
                W.HBox(controls),
                W.HBox([self.next_round]),
                self.board,
                self.error,
            ]
        )
        self.add_class("seedance-duel")
        self.add_class(f"seedance-duel-{self.id}")
        self.advance()

    def _vote_buttons(self) -> dict[str, W.Button]:
        """One button per action (:data:`ACTIONS`), each calling :meth:`choose`; left and right stand out."""
        buttons: dict[str, W.Button] = {}
        for action, (label, tip) in ACTIONS.items():
            button = W.Button(description=label, tooltip=tip, layout=W.Layout(width="auto"))
            button.add_class(f"seedance-duel-{action.replace('_', '-')}")
            button.on_click(lambda _b, a=action: self.choose(a))
            buttons[action] = button
        buttons["left"].button_style = buttons["right"].button_style = "primary"
        return buttons

    def _next_round_button(self, *, shown: bool) -> W.Button:
        button = W.Button(description="Next round ▶", icon="forward", layout=W.Layout(width="auto"))
        button.add_class("seedance-duel-next-round")
        button.on_click(lambda _b: self.run_next_round())
        if not shown:
            button.layout.display = "none"
        return button

    # ------------------------------------------------------------------ state

    def leaderboard(self) -> Any:
        return leaderboard_frame(self.sweep.df, self.sweep.votes, self.by)

    def leaderboard_html(self) -> str:
        return leaderboard_html(self.leaderboard())

    def advance(self) -> None:
        """Choose the next pair, show it, and refresh the progress and the leaderboard."""
        df, votes = self.sweep.df, self.sweep.votes
        self.pair = next_pair(df, votes, self.by, same=self.same, rng=self.rng, exclude=self.skipped)
        self.stage.outputs = ()
        from IPython.display import HTML

        if self.pair is None:
            self.stage.append_display_data(
                HTML(
                    '<div class="seedance-duel-empty" style="padding:8px">Nothing to compare: a duel needs finished '
                    f"videos of two different values of {html.escape(', '.join(self.by))} made from the same image "
                    "and the same other inputs (pass same=[...] to loosen that).</div>"
                )
            )
        else:
            rows = df.set_index("job", drop=False)
            left, right = rows.loc[self.pair.left], rows.loc[self.pair.right]
            markup = compare_html(left, right, labels=["Left", "Right"], width=self.width, sync=True)
            script = f"<script>{_KEYS_JS % (script_json(self.id), json.dumps(KEYS))}</script>"
            self.stage.append_display_data(HTML(markup + script))
        for button in self.buttons.values():
            button.disabled = self.pair is None
        self._refresh(df, votes)

    def _refresh(self, df: Any, votes: Any) -> None:
        pairs = comparable_pairs(df, self.by, same=self.same)
        key_of = dict(zip(df["job"].astype(int).tolist(), _values(df, self.by), strict=True))
        compared = {
            frozenset((key_of.get(a), key_of.get(b)))
            for a, b in zip(votes["a"].tolist(), votes["b"].tolist(), strict=True)
        }
        done = sum(1 for pair in pairs if frozenset(pair) in compared)
        self.progress.max = max(1, len(pairs))
        self.progress.value = done
        self.progress.bar_style = "success" if pairs and done == len(pairs) else "info"
        count = f"{len(votes)} vote{'' if len(votes) == 1 else 's'}"
        self.title.value = (
            f'<b>Which is better?</b> <span class="seedance-duel-count">{count}</span> · '
            f"{done} of {plural(len(pairs), 'pair')} of {html.escape(', '.join(self.by))} compared"
            + (f" · {self.cast} this session" if self.cast else "")
        )
        markup = leaderboard_html(leaderboard_frame(df, votes, self.by))
        self.board.value = markup
        if self._display_id is not None:
            from IPython.display import HTML, update_display

            update_display(HTML(self._static(markup)), display_id=self._display_id)

    # ------------------------------------------------------------------ actions

    def choose(self, action: str) -> None:
        """Do what a button does: ``left``, ``right``, ``tie``, ``both_bad`` or ``skip``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if self.pair is None:
            return
        try:
            if action == "skip":
                self.skipped.add((self.pair.left, self.pair.right))
            else:
                winner = {"left": "a", "right": "b"}.get(action, action)
                self.sweep.vote(self.pair.left, self.pair.right, winner, voter=self.voter)
                self.cast += 1
                self.skipped.clear()
            self.error.value = ""
            self.advance()
        except Exception as exc:  # shown in the widget, never lost in a callback
            logger.exception("duel: %s failed", action)
            self.error.value = f'<div style="color:#b91c1c">{html.escape(str(exc))}</div>'

    def press(self, key: str) -> None:
        """What a keyboard shortcut does (``"ArrowLeft"``, ``"t"``, ...); other keys are ignored."""
        action = KEYS.get(key)
        if action is not None:
            self.choose(action)

    def run_next_round(self) -> None:
        """Run the adaptive run's next round in the background and duel on it when it is done."""
        if self.adaptive is None:
            return
        self.next_round.disabled = True

        async def go() -> None:
            try:
                await self.adaptive.resume_async(self.client)
                if self.adaptive.current is not self.sweep:
                    self.sweep = self.adaptive.current
                    self.skipped.clear()
                self.error.value = html.escape(self.adaptive.message)
                self.advance()
            except Exception as exc:
                logger.exception("duel: next round failed")
                self.error.value = f'<div style="color:#b91c1c">{html.escape(str(exc))}</div>'
            finally:
                self.next_round.disabled = self.adaptive.status == "done"

        self.task = asyncio.get_running_loop().create_task(go())

    # ------------------------------------------------------------------ display

    def _static(self, board: str) -> str:
        name = html.escape(str(getattr(self.sweep, "name", "")))
        return f'<div class="seedance-duel-static"><b>Duel</b> · {name}{board}</div>'

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self._static(self.board.value)
        return bundle

    def _ipython_display_(self) -> None:
        """The widget, then the leaderboard as a plain HTML output that each vote updates (saved notebooks)."""
        from IPython.display import HTML, display

        bundle = super()._repr_mimebundle_() or {}
        name = html.escape(str(getattr(self.sweep, "name", "")))
        bundle["text/html"] = f'<div class="seedance-duel-static"><b>Duel</b> · {name} (run the notebook to vote)</div>'
        display(bundle, raw=True)
        self.board.layout.display = "none"  # shown once, below, as an output that survives saving
        self._display_id = self._display_id or f"seedance-duel-{self.id}"
        display(HTML(self._static(self.board.value)), display_id=self._display_id)


def _values(df: Any, by: Sequence[str]) -> list[Any]:
    return group_keys(df, list(by))


set_public_module(__name__)
