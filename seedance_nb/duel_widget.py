"""The duel widget, by the name it has always been imported as; it lives with the duels (``duels/_widget``).

::

    from seedance_nb.duel_widget import Duel
    Duel(sweep, by="prompt", seed=1)     # what sweep.duel(by="prompt") makes
"""

from __future__ import annotations

from .duels._widget import ACTIONS, KEYS, Duel

__all__ = ["ACTIONS", "KEYS", "Duel"]
