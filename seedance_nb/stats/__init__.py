"""Is that difference real, and what does quality cost? Noise-aware comparisons and the cost/quality frontier.

::

    sweep.compare_groups(by="prompt", metric="motion")   # per pair: effect, interval, real / not yet, takes to settle
    sweep.compare_groups(metric="duels")                  # from the votes, ties as ties (Davidson)
    f = sweep.frontier(quality="start_fidelity", by="resolution")
    f                                                     # the plot, the table, and what to buy next

Three takes of two prompts rarely tell a real difference from a lucky roll: :func:`compare_groups` sets each
difference against the spread between re-rolls of the same cell (a permutation test over the takes, Holm-adjusted
over the pairs; a bootstrap interval) and says how many more takes, at what cost, would settle it.
:func:`frontier` puts each group's cost per take against its quality and marks the Pareto frontier.

Libraries, and why: NumPy for the resampling (vectorised exact permutations) and SciPy's L-BFGS for Davidson's
tie model. ``choix`` (the leaderboard's Bradley–Terry fit) has no tie model: its pairwise fits take wins only, so
a tie would be half a win; Davidson's (1970) model, P(tie) = nu sqrt(pi_i pi_j) / (pi_i + pi_j + nu sqrt(pi_i
pi_j)), is a dozen lines with its gradient. The parts: ``_tests`` (the statistics, pure), ``_compare``
(:func:`compare_groups`), ``_frontier`` (:func:`frontier`, its SVG).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._names import set_public_module
from ._compare import COMPARE_COLUMNS, REAL, UNDECIDED, compare_groups
from ._frontier import CostFrontier, frontier, frontier_svg, pareto
from ._html import noise_section_html, winner_note
from ._tests import bootstrap_interval, davidson_fit, holm, permutation_p, takes_to_settle

__all__ = ["CostFrontier", "StatsMixin", "compare_groups", "frontier", "frontier_svg", "noise_section_html"]
#: Also read as ``seedance_nb.stats.X`` (tests, the report), outside ``__all__``.
_ALSO = (
    COMPARE_COLUMNS,
    REAL,
    UNDECIDED,
    bootstrap_interval,
    davidson_fit,
    holm,
    pareto,
    permutation_p,
    takes_to_settle,
    winner_note,
)


class StatsMixin:
    """What a :class:`~seedance_nb.sweep.Sweep` gains: :meth:`compare_groups` and :meth:`frontier` (thin
    forwards to this package's functions). Mixed in on the top floor only."""

    def compare_groups(self, by: str | Sequence[str] = "prompt", metric: str = "motion", **kwargs: Any) -> Any:
        """For each pair of groups, whether the difference is real (see :func:`compare_groups`).

        Args:
            by: the column(s) whose values are the groups.
            metric: a metric column, ``"rating"`` or ``"duels"``.
            **kwargs: ``level``, ``seed``, ``votes``.
        """
        return compare_groups(self, by, metric, **kwargs)

    def frontier(self, quality: str = "motion", by: str | Sequence[str] = "prompt", **kwargs: Any) -> CostFrontier:
        """Cost per take against ``quality`` by group, the Pareto frontier and what to buy next (see
        :func:`frontier`).

        Args:
            quality: a metric column, ``"rating"`` or ``"duels"``.
            by: the group column(s).
            **kwargs: ``level``, ``seed``.
        """
        return frontier(self, quality, by, **kwargs)

    def gallery(
        self,
        rows: Any = None,
        cols: Any = None,
        *,
        metric: str = "motion",
        by: str | None = None,
        return_html: bool = False,
        **kwargs: Any,
    ) -> str | None:
        """The sweep's grid (:func:`seedance_nb.gallery`) under a line on its best group by ``metric``: marked
        "not yet distinguishable" when the runner-up is within the spread between re-rolls.

        Args:
            rows: the grid's row column(s).
            cols: the grid's column column(s).
            metric: the metric the best group is judged by.
            by: the group column (default: the first varying input other than the seed).
            return_html: return the HTML instead of displaying it.
            **kwargs: :func:`seedance_nb.gallery`'s options.
        """
        from ..display import gallery as grid

        sweep: Any = self
        note = _gallery_note(sweep, metric, by)
        markup = f'<p class="sd-winner">{note}</p>' if note else ""
        markup += grid(sweep, rows, cols, return_html=True, **kwargs) or ""
        if return_html:
            return markup
        from IPython.display import HTML, display

        display(HTML(markup))
        return None


def _gallery_note(sweep: Any, metric: str, by: str | None) -> str:
    """The winner line for the gallery, or "" when there is nothing to compare."""
    from ..markup import varying_columns

    df = sweep.df
    if metric not in df.columns or df[metric].isna().all():
        return ""
    vary = [c for c in varying_columns(df) if c not in ("take", "seed")]
    column = by or (vary[0] if vary else None)
    if column is None:
        return ""
    table = compare_groups(df, column, metric)
    if table.empty:
        return ""
    means = {
        **dict(zip(table["a"], table["mean_a"], strict=True)),
        **dict(zip(table["b"], table["mean_b"], strict=True)),
    }
    return winner_note(table, means, metric)


set_public_module(__name__)
