"""The question ``seedance-nb sweep`` asks before it spends: "Spend $X on N videos? [y/N]".

On a backend that bills (fal: FAL_KEY set and no emulator asked for), a sweep whose estimate may cost more
than the threshold prints its itemised estimate and asks. The threshold is ``--confirm-above USD``, else
``SEEDANCE_CONFIRM_ABOVE``, else :data:`DEFAULT_CONFIRM_ABOVE` ($1; ``0`` asks before any paid sweep). The
figure compared is the high end of the estimate (what a budget is checked against). ``--yes`` answers yes
without asking; a stdin that is not a terminal (a script, a pipe, CI) is never taken for a yes: without
``--yes`` the sweep is refused before anything is sent. The emulator bills nothing and never asks.
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from typing import Any, TextIO

from ._text import plural

__all__ = ["CONFIRM_ENV", "DEFAULT_CONFIRM_ABOVE", "ConfirmationNeeded", "confirm_spend", "confirm_threshold"]

#: Ask before a paid sweep whose estimate may cost more than this many USD.
DEFAULT_CONFIRM_ABOVE = 1.0
#: The environment variable that sets the threshold when ``--confirm-above`` is not given.
CONFIRM_ENV = "SEEDANCE_CONFIRM_ABOVE"


class ConfirmationNeeded(Exception):
    """The sweep would spend above the threshold and nobody can be asked (no terminal, no ``--yes``), or the
    threshold itself is unreadable; the message says what to pass. Nothing was sent."""


def confirm_threshold(flag: float | None) -> float:
    """The threshold in USD: ``--confirm-above``, else ``SEEDANCE_CONFIRM_ABOVE``, else $1.

    Args:
        flag: the value of ``--confirm-above`` (None when not given).

    Raises:
        ConfirmationNeeded: ``SEEDANCE_CONFIRM_ABOVE`` is not an amount in USD.
    """
    if flag is not None:
        return flag
    text = os.environ.get(CONFIRM_ENV, "").strip()
    if not text:
        return DEFAULT_CONFIRM_ABOVE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise ConfirmationNeeded(
            f"{CONFIRM_ENV}={text!r} is not an amount in USD: set it to e.g. 1 or 2.50 (0 asks before any paid "
            "sweep), or pass --confirm-above USD"
        )
    return value


def _itemised(grid: Any) -> list[str]:
    """One line per kind of video (resolution, aspect ratio, duration): how many, each, subtotal."""
    groups: dict[str, list[float]] = defaultdict(list)
    jobs = grid.jobs()
    endpoints = {getattr(job.input, "endpoint", None) for job in jobs}
    for job in jobs:
        inp = job.input
        seconds = "auto" if str(inp.duration) == "auto" else f"{inp.duration} s"
        where = [str(getattr(inp, "endpoint", ""))] if len(endpoints) > 1 else []
        groups[" ".join([*where, str(inp.resolution), str(inp.aspect_ratio), seconds])].append(job.est_cost_usd or 0.0)
    lines = []
    for kind, costs in groups.items():
        each = sum(costs) / len(costs)
        lines.append(f"  {len(costs):>4} x {kind:<32} ~${each:.2f} each   ${sum(costs):>8.2f}")
    return lines


def confirm_spend(
    grid: Any,
    *,
    threshold: float,
    yes: bool,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> bool:
    """Ask before a paid sweep above ``threshold``; True to go on. The caller checks that the backend bills.

    Args:
        grid: the :class:`~seedance_nb.grids.Grid` about to run.
        threshold: ask when the high end of the estimate is above this many USD.
        yes: ``--yes``: go on without asking.
        stdin: where the answer is read (default ``sys.stdin``); it must be a terminal.
        out: where the estimate and the question are written (default ``sys.stdout``).

    Raises:
        ConfirmationNeeded: the question cannot be asked (stdin is not a terminal) and ``yes`` is False.
    """
    est = grid.estimate()
    if yes or est.high_usd <= threshold + 1e-9:
        return True
    stdin = sys.stdin if stdin is None else stdin
    out = sys.stdout if out is None else out
    videos = plural(est.jobs, "video")
    amount = f"${est.usd:.2f}" if est.high_usd - est.low_usd < 1e-9 else f"up to ${est.high_usd:.2f}"
    if stdin is None or not stdin.isatty():
        raise ConfirmationNeeded(
            f"this sweep may cost {amount} on fal ({videos}), above the ${threshold:.2f} that needs a yes "
            f"(--confirm-above, {CONFIRM_ENV}), and stdin is not a terminal to ask on: pass --yes to spend it, "
            "or shrink the sweep. Nothing was sent"
        )
    print(f"estimate on fal (billed to your account; asked above ${threshold:.2f}, see --confirm-above):", file=out)
    print("\n".join(_itemised(grid)), file=out)
    print(f"  total: {est}", file=out)
    print(f"Spend {amount} on {videos}? [y/N] ", end="", file=out, flush=True)
    answer = stdin.readline().strip().lower()
    if answer in ("y", "yes"):
        return True
    print("nothing was sent (answer y to spend, or pass --yes)", file=out)
    return False
