"""The one rating scale: 1-5 stars, with thumbs and yes/no as shortcuts.

Everything that reads or writes a rating reads it here: the journal reader (:meth:`seedance_nb.runs.Job.apply`,
so old journals read by today's rule), the catalog index, the report, the widgets and the duels read ratings
with :func:`stars`; ``sweep.rate()`` checks what it is given with :func:`normalize_rating`. One answer per input:

=====================================================  =======
given                                                  stars
=====================================================  =======
a whole number 1..5 (``4``, ``4.0``, ``"4"``)           that
``"up"``, ``True``, ``"yes"``, ``"good"``, ``"+1"``, 👍  5
``"down"``, ``False``, ``"no"``, ``"bad"``, ``"-1"``, 👎  1
``0``, ``7``, ``3.5``, ``"x"``, None, NaN               not a rating
=====================================================  =======

A number outside 1..5 is not clamped (``7`` is not "very good", it is a typo or another scale), and a fraction is
not rounded (``3.5`` is between two stars, and the scale has none there): both read as no rating, and
``sweep.rate()`` refuses them. A ground-floor module: it imports nothing of the package but the errors.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InputError, Problem

__all__ = ["DOWN", "UP", "normalize_rating", "stars"]

#: Words (lower case) that mean the best rating, 5 stars.
UP = frozenset({"up", "yes", "good", "+1", "👍"})
#: Words (lower case) that mean the worst rating, 1 star.
DOWN = frozenset({"down", "no", "bad", "-1", "👎"})


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (no numpy import here)."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def stars(value: Any) -> int | None:
    """The rating ``value`` on the 1-5 star scale, or None when it is not a rating (see the module's table).

    Args:
        value: what a journal, a DataFrame or a user holds as a rating: a number, a word, a bool or None.
    """
    value = _plain(value)
    if isinstance(value, bool):
        return 5 if value else 1
    if isinstance(value, str):
        word = value.strip().lower()
        if word in UP:
            return 5
        if word in DOWN:
            return 1
        try:
            value = float(word)
        except ValueError:
            return None
    if isinstance(value, int):
        return value if 1 <= value <= 5 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and 1 <= value <= 5:
        return int(value)
    return None


def normalize_rating(value: Any) -> int:
    """The rating ``value`` as stars 1-5, for storing; refuses anything :func:`stars` does not read as a rating.

    Args:
        value: the rating the user gave (``sweep.rate(job, rating=...)``).

    Raises:
        InputError: naming ``rating``, when ``value`` is not a rating (``0``, ``7``, ``3.5``, ``"x"``).
    """
    number = stars(value)
    if number is None:
        raise InputError(
            [
                Problem(
                    "rating",
                    "is not a rating",
                    value,
                    "stars 1..5 (a whole number), or 'up'/'yes' (5) / 'down'/'no' (1)",
                )
            ]
        )
    return number
