"""Choose with people: blind pairwise votes, a Bradley–Terry leaderboard with intervals, and adaptive rounds.

::

    sweep.duel(by="prompt")                    # two takes of the same image side by side, labels hidden
    sweep.vote(3, 7, "a")                      # or in code: job 3 beat job 7 ("a", "b", "tie", "both_bad")
    sweep.leaderboard(by="prompt")             # strength, 95 % interval, wins, losses, ties, votes, videos
    top = sweep.promote(by="prompt", top=2, takes=2, resolution="720p")   # the next round, for the winners
    sd.run_adaptive(grid, budget_usd=5, rounds=2, keep=0.5, score=my_metric)  # successive halving

**Votes** are sweep-level journal lines ``{"event": "vote", "at", "a", "b", "winner", "voter"}``
(fsynced like every other line), so they survive a crash and a reload; ``sweep.votes`` reads them
back from ``journal.jsonl``.

**The fit.** Each value of ``by`` (a prompt, or a tuple of several columns) gets a Bradley–Terry
strength θ: the chance that ``i`` beats ``j`` is ``1 / (1 + exp(θj - θi))``, so a difference of 1
means about 73 % to win. Strengths are centred (0 = the average value on the board). The maximum
likelihood is computed by ``choix.ilsr_pairwise_dense`` (iterative Luce spectral ranking, Maystre &
Grossglauser 2015; choix is a small, maintained library of these algorithms — the reason for the
dependency) on a matrix of win counts where:

- a **tie** is half a win for each side;
- **both bad** says nothing about which is better: it is left out of the fit but counted (column
  ``both_bad``, and in ``votes``);
- a vote between two videos of the *same* value says nothing about the value either: it is ignored
  for that leaderboard (and not counted);
- a **prior**: each value also plays ``prior`` (default 1) virtual *tied* games against a virtual
  average opponent. This keeps every strength finite and the fit defined when the votes are sparse
  or one-sided: a value that never lost gets a large but finite strength with a wide interval, a
  value nobody voted on gets strength 0 with the widest interval, all ties give all strengths 0.

**Intervals** (``level=0.95``): ``ci="wald"`` (default) is the fit's own — strength ± z·se, the
standard errors from the inverse of the (prior-augmented) Fisher information at the estimate, taken
on the centred strengths (a Laplace approximation; instant, so the duel widget refits after every
vote). ``ci="bootstrap"`` resamples the votes with replacement ``n_boot`` times (seeded by ``seed``)
and takes percentiles. With a single value there is nothing to compare: strength 0, no interval (NaN).

**Pair selection** (:func:`next_pair`): only videos of the same start image and, by default, the same
other inputs (``same=``) are paired. Among the pairs of values that have such videos, the next one is
the pair whose strength difference is least certain and least predictable: the largest
``Var(θu − θv) · p(1 − p)``, which is the pair whose one more vote shrinks the variance of its
difference the most (p = the fitted chance that u wins). Never-compared pairs score high because
only the prior constrains them. Ties go to the pair with fewer votes, then to a seeded random draw;
within the pair the two videos least shown so far are taken, and sides are a seeded coin flip. The
same seed and the same votes give the same pairs.

**Rounds.** :meth:`DuelsMixin.promote` makes the next round for the ``top`` values by a score
(``"votes"`` = the leaderboard, ``"rating"``, any numeric column such as a metric, or a callable
over the DataFrame giving one number per video; higher is better) with any input changed
(``resolution="720p"``), runs it in its own folder beside the parent and writes ``round.json``
(``"parent"``: the parent's run folder). :func:`run_adaptive` repeats that with a budget that is a
hard stop across rounds, shown before each round; with a human score it stops after each round for
votes (``.duel()``, then ``.resume()``). Repeated requests are served by the cache at no cost.

The package's parts: ``_fit`` (votes and the Bradley–Terry fit), ``_pairs`` (which pair is shown next),
``_board`` (the leaderboard's HTML), ``_promotion`` (scores, a promoted round, the sweep's
:class:`DuelsMixin`) and ``_adaptive`` (:func:`run_adaptive`). Import every name from here.
"""

from __future__ import annotations

from .._names import set_public_module
from ._adaptive import AdaptiveRun, run_adaptive, run_adaptive_async
from ._board import default_by, leaderboard_html, leaderboard_section
from ._fit import (
    BOARD_STATS,
    HUMAN_SCORES,
    VOTE_COLUMNS,
    WINNERS,
    bradley_terry,
    group_keys,
    leaderboard_frame,
    read_votes,
    win_matrix,
)
from ._pairs import Pair, comparable_pairs, next_pair
from ._promotion import CHANGEABLE, DuelsMixin, Promotion, round_cost, score_values
from ._takes import PROMOTED_FROM as PROMOTED_FROM
from ._takes import with_promoted_from as with_promoted_from

__all__ = [
    "WINNERS",
    "AdaptiveRun",
    "DuelsMixin",
    "Pair",
    "Promotion",
    "bradley_terry",
    "leaderboard_frame",
    "leaderboard_html",
    "leaderboard_section",
    "next_pair",
    "read_votes",
    "round_cost",
    "run_adaptive",
    "run_adaptive_async",
    "score_values",
    "win_matrix",
]
#: Also read as ``seedance_nb.duels.X`` (by the duel widget, the tests and notebooks), outside ``__all__``.
_ALSO = (BOARD_STATS, CHANGEABLE, HUMAN_SCORES, VOTE_COLUMNS, comparable_pairs, default_by, group_keys)

set_public_module(__name__)
