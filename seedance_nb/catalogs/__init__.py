"""The catalog: every job of every run folder, searchable, with a spend ledger, caps and a team cache.

::

    import seedance_nb as sd
    sd.catalog()                                           # one row per job of every run under sweeps/
    hits = sd.search("orbit", rating_min=4, since="2026-11-01")
    sd.show(hits.iloc[0])                                  # the video of a catalog row
    sd.spend(by="month")                                   # actual cost where fal said it, else estimates
    sd.set_budget(20, per="day")                           # sweeps that would cross it are refused

The journals stay the record of truth: the catalog is an index rebuilt from them at any time
(:meth:`Catalog.rebuild`) and brought up to date lazily (each query re-reads the journals that
changed since the last one, by size and mtime). It lives in one SQLite file at the sweeps root
(``sweeps/catalog.sqlite``, WAL mode, FTS5 for prompt search) or, for a team, in PostgreSQL
(``SEEDANCE_CATALOG_URL=postgresql://user@host/db``; psycopg 3). Both go through SQLAlchemy Core,
one schema and one code path; the schema version is kept in the catalog and upgraded on open.

Dependencies, and why: SQLAlchemy (a well-kept SQL layer over SQLite and PostgreSQL, so the same
queries and tests run on both) and, for a team catalog only, psycopg 3 (PostgreSQL's maintained Python
driver; the binary wheel needs no system libpq): ``pip install 'seedance-nb[postgres]'``.

What it gives the runner (:mod:`seedance_nb.sweep`), all checked in the database, never in memory,
so they hold across processes and machines sharing one catalog:

- :meth:`Catalog.check_cap` before a run: refuses (``BudgetExceeded``, with the numbers) a sweep
  whose estimate would cross the day or month cap, under a row lock, and reserves the estimate.
- :meth:`Catalog.lookup` (a request already completed by anyone is served from the catalog) and
  :meth:`Catalog.submit_once` (an insert-once claim per cache key: of two processes starting the
  same request at once, one submits and the other follows the same request id). Without a team
  catalog the same claims live in the user's own store (``$SEEDANCE_HOME/cache.sqlite``), so one
  user's notebooks never pay twice for one request; a team catalog that goes down mid-run falls back
  to them (:class:`CatalogUnavailable` before a run: nothing is sent).

The spend ledger and the caps count money only: emulated jobs (``backend == "emulator"``) are never in them.
- :meth:`Catalog.index_run` after a run (the lazy refresh covers any run that never called it).

Environment: ``SEEDANCE_CATALOG_URL`` (default ``sqlite:///<root>/catalog.sqlite``),
``SEEDANCE_RUNS`` (the sweeps root, where new run folders go; default ``sweeps``), ``SEEDANCE_BUDGET_USD``
(``20`` = $20 per day, or ``20/day``, ``300/month``, ``20/day,300/month``).
"""

from __future__ import annotations

import os
from typing import Any

from .._names import set_public_module

__all__ = [
    "COLUMNS",
    "Catalog",
    "CatalogUnavailable",
    "Recovery",
    "catalog",
    "check_cap",
    "open_catalog",
    "parse_budget_env",
    "recover",
    "recover_async",
    "search",
    "set_budget",
    "spend",
]

#: Loaded on first use, so ``import seedance_nb`` does not pay for SQLAlchemy: name -> submodule.
_LAZY = {"COLUMNS": "_core", "Catalog": "_core", "open_catalog": "_core", "parse_budget_env": "_core"}
_LAZY["Recovery"] = "_recover"
_LAZY["CatalogUnavailable"] = "_store"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def catalog(url: str | None = None, *, root: str | os.PathLike[str] | None = None) -> Any:
    """Every job of every run folder under the sweeps root, as a DataFrame (``COLUMNS``).

    Args:
        url: the catalog's database (default: ``SEEDANCE_CATALOG_URL``, else SQLite in the sweeps root).
        root: the sweeps root (default: where new run folders go, ``$SEEDANCE_RUNS`` or ``sweeps``).
    """
    from ._core import open_catalog

    return open_catalog(url, root=root).frame()


def search(
    text: str | None = None,
    *,
    rating_min: int | None = None,
    since: Any = None,
    until: Any = None,
    url: str | None = None,
    root: str | os.PathLike[str] | None = None,
    **columns: Any,
) -> Any:
    """Find generations by words of their prompt and any column: see :meth:`Catalog.search`.

    Args:
        text: words the prompt must have (as words or word prefixes: "orbit" finds "orbiting").
        rating_min: at least this many stars.
        since: at or after this time (an ISO date or datetime, a datetime, epoch seconds or a timedelta ago).
        until: before this time (the same forms).
        url: the catalog's database (default: ``SEEDANCE_CATALOG_URL``, else SQLite in the sweeps root).
        root: the sweeps root (default: where new run folders go, ``$SEEDANCE_RUNS`` or ``sweeps``).
        **columns: ``column=value`` for any other column (a list means any of).
    """
    from ._core import open_catalog

    return open_catalog(url, root=root).search(text, rating_min=rating_min, since=since, until=until, **columns)


def spend(
    by: str = "day",
    *,
    url: str | None = None,
    root: str | os.PathLike[str] | None = None,
    since: Any = None,
    until: Any = None,
    emulated: bool = False,
) -> Any:
    """The spend ledger: see :meth:`Catalog.spend`.

    Args:
        by: ``"day"``, ``"month"``, ``"user"`` or ``"sweep"``.
        since: as in :func:`search`.
        until: as in :func:`search`.
        url: as in :func:`search`.
        root: as in :func:`search`.
        emulated: the rehearsal ledger: the emulator's jobs at what they would have cost on fal (never money).
    """
    from ._core import open_catalog

    return open_catalog(url, root=root).spend(by, since=since, until=until, emulated=emulated)


def set_budget(
    usd: float | None, per: str = "day", *, url: str | None = None, root: str | os.PathLike[str] | None = None
) -> None:
    """Cap spend per day or month across every sweep using this catalog: see :meth:`Catalog.set_budget`.

    Args:
        usd: the cap in dollars; None removes it.
        per: ``"day"`` or ``"month"`` (UTC).
        url: the catalog's database (default: ``SEEDANCE_CATALOG_URL``, else SQLite in the sweeps root).
        root: the sweeps root (default: where new run folders go, ``$SEEDANCE_RUNS`` or ``sweeps``).
    """
    from ._core import open_catalog

    open_catalog(url, root=root).set_budget(usd, per)


def check_cap(
    estimate_usd: float, *, label: str | None = None, url: str | None = None, root: str | os.PathLike[str] | None = None
) -> int | None:
    """Refuse a sweep whose estimate would cross a cap: see :meth:`Catalog.check_cap`."""
    from ._core import open_catalog

    return open_catalog(url, root=root).check_cap(estimate_usd, label=label)


def recover(since: Any = None, *, client: Any = None, **kwargs: Any) -> Any:
    """Download completed requests of this account that no journal holds into ``<sweeps root>/recovered``.

    Args:
        since: an ISO date or datetime, a ``timedelta`` ago, or epoch seconds (default: 24 hours ago, as
            fal's history).
        client: the client (default: :func:`seedance_nb.connect`).
        **kwargs: ``catalog``, ``endpoint``, ``run_dir``, ``download`` (False: journal the requests without
            downloading their videos) and ``warn_within_days`` (list catalogued videos with no local copy
            whose fal URL expires that soon).
    """
    from ._recover import recover as _recover

    return _recover(since, client=client, **kwargs)


async def recover_async(since: Any = None, *, client: Any = None, **kwargs: Any) -> Any:
    """:func:`recover` for a running loop."""
    from ._recover import recover_async as _recover_async

    return await _recover_async(since, client=client, **kwargs)


set_public_module(__name__)
