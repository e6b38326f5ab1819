"""Cassettes: record a fal session to a redacted file, and the weekly canary that diffs fal against the emulator.

- :func:`record` (``sd.record(path)``): every request and response the seedance-nb client makes inside the
  ``with`` block, redacted, written to ``path`` (:mod:`seedance_nb.cassette_format` describes the file);
- the emulator replays a cassette (``seedance-nb emulator --replay FILE``, :mod:`seedance_nb.emulator.replay`);
- :mod:`.canary` (``seedance-nb canary``): one cheapest real job, recorded, diffed against the emulator's answers
  for the same request and fal's OpenAPI against the snapshot.

A wing: it stands on the client and plugs in through the client's seam (``seedance_nb.client._network.TAPS``);
nothing in the core names it.
"""

from __future__ import annotations

from .._names import set_public_module
from ._record import Recorder, record

__all__ = ["Recorder", "record"]

set_public_module(__name__)
