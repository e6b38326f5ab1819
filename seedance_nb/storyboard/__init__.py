"""Storyboards: shots that continue from the chosen take's last frame, branches kept as a tree, films.

``sd.Storyboard`` (see :mod:`._board`) runs each shot as a :class:`seedance_nb.Sweep` in its own run folder, keeps
the tree of choices in ``board.json`` (:mod:`._tree`), stitches a branch into one MP4 (:mod:`._film`), shows it
in a widget (:mod:`._widget`) and in a report (:mod:`._report`). A wing on the face floor: it imports the
user-facing Sweep; nothing in the core imports it.
"""

from __future__ import annotations

from .._names import set_public_module
from ._board import Film, Storyboard
from ._tree import BoardTree

__all__ = ["BoardTree", "Film", "Storyboard"]

set_public_module(__name__)
