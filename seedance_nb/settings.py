"""Where seedance-nb keeps its own state: read from the environment when asked, never at import.

::

    from seedance_nb.settings import seedance_home
    seedance_home()          # $SEEDANCE_HOME, else the user's cache folder (~/.cache/seedance-nb on Linux)

The ground floor: it imports nothing of the package, so the schema layer (fal's cached OpenAPI documents),
the journal's cache index and the claims all ask here without reaching up to one another. The key's
resolution lives beside it in :mod:`seedance_nb.keys`. Dependency: platformdirs (the per-user cache folder on
Linux, macOS and Windows), imported only when ``SEEDANCE_HOME`` is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["seedance_home"]


def seedance_home() -> Path:
    """The per-user folder of seedance-nb's own state (the cache index): ``$SEEDANCE_HOME``, else the
    user's cache folder."""
    env = os.environ.get("SEEDANCE_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("seedance-nb", appauthor=False))
