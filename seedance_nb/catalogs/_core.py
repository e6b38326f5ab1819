"""The catalog's implementation (SQLAlchemy is imported here, not when ``seedance_nb`` is imported)."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .._names import set_public_module
from ..errors import BudgetExceeded, ConfigurationError, InputError, Problem
from ..statuses import HAS_VIDEO, JobStatus
from . import _store
from ._claims import ClaimStore
from ._index import find_runs, read_run, run_id
from ._store import COLUMNS, RUN_COLUMNS, claims, jobs, locks, reservations, runs

__all__ = ["COLUMNS", "Catalog", "open_catalog", "parse_budget_env"]

logger = logging.getLogger("seedance_nb.catalogs")

_TIME_COLUMNS = ("submitted_at", "started_at", "completed_at", "planned_at", "at")
#: The job columns read from catalog_jobs (the run's own are read once per run, from catalog_runs).
#: The run's own columns, read once per run (catalog_runs). A job's endpoint is its own (a grid over endpoints
#: sends jobs of one run to several), read from catalog_jobs like the other job columns.
_PER_RUN = tuple(c for c in RUN_COLUMNS if c != "endpoint")
_JOB_COLUMNS = [c for c in COLUMNS if c not in _PER_RUN]
_FLOAT_COLUMNS = _store.column_names(sa.Float) - set(_TIME_COLUMNS)
_INT_COLUMNS = _store.column_names(sa.Integer)
_BOOL_COLUMNS = _store.column_names(sa.Boolean)
_PERIODS = ("day", "month")
#: A reservation (the estimate of a sweep that is running) counts against the cap until released or this old.
RESERVATION_TTL = 12 * 3600.0


def sweeps_root(root: str | os.PathLike[str] | None) -> Path:
    """The sweeps root: the argument, else where new run folders go (``$SEEDANCE_RUNS``, else ``sweeps``)."""
    from ..runs import RunFolder

    return Path(root or RunFolder.root()).resolve()


def _url(url: str | None, root: Path) -> str:
    return url or os.environ.get("SEEDANCE_CATALOG_URL") or f"sqlite:///{root / 'catalog.sqlite'}"


def to_epoch(value: Any, field: str) -> float | None:
    """A time filter as epoch seconds: an ISO date/datetime string, a datetime/date, epoch seconds,
    or a ``timedelta`` (that long ago). Naive times are UTC."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return time.time() - value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                [Problem(field, "is not a date or time", value, "an ISO date such as '2026-11-01' or a datetime")]
            ) from None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if hasattr(value, "timestamp"):  # pandas Timestamp
        return float(value.timestamp())
    raise InputError([Problem(field, "is not a date or time", value, "an ISO date such as '2026-11-01'")])


def period_start(period: str, at: float) -> float:
    moment = datetime.fromtimestamp(at, tz=timezone.utc)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp()


def parse_budget_env(text: str | None) -> dict[str, float]:
    """``SEEDANCE_BUDGET_USD``: ``20`` (per day), ``20/day``, ``300/month`` or ``20/day,300/month``."""
    if not text or not text.strip():
        return {}
    out: dict[str, float] = {}
    for part in text.split(","):
        amount, _, period = part.strip().partition("/")
        period = period.strip().lower() or "day"
        try:
            usd = float(amount.strip().lstrip("$"))
        except ValueError:
            usd = math.nan
        if period not in _PERIODS or not math.isfinite(usd) or usd < 0:
            raise ConfigurationError(
                f"SEEDANCE_BUDGET_USD={text!r} is not understood: write e.g. '20' (USD per day), "
                "'20/day', '300/month' or '20/day,300/month'"
            )
        out[period] = usd
    return out


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class Catalog(ClaimStore):
    """One catalog: a database URL and the sweeps root whose run folders it indexes (and, as a
    :class:`~seedance_nb.catalogs._claims.ClaimStore`, the team's claims: one submission per request)."""

    def __init__(self, url: str | None = None, *, root: str | os.PathLike[str] | None = None) -> None:
        self.root = sweeps_root(root)
        self.url = _url(url, self.root)
        super().__init__(_store.make_engine(self.url))
        try:
            _store.migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._refresh_lock = threading.Lock()

    def __repr__(self) -> str:
        shown = sa.engine.make_url(_store.normalise_url(self.url)).render_as_string(hide_password=True)
        return f"<Catalog {shown} root={str(self.root)!r}>"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ indexing

    def index_run(self, run_dir: str | os.PathLike[str]) -> int:
        """(Re)index one run folder from its journal; returns its number of jobs."""
        run, rows = read_run(Path(run_dir), host=self.host, user=self.user)
        with _store.writing(self.engine) as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(run["run_id"][:15], 16)})
            conn.execute(sa.delete(jobs).where(jobs.c.run_id == run["run_id"]))
            conn.execute(sa.delete(runs).where(runs.c.run_id == run["run_id"]))
            conn.execute(sa.insert(runs), [run])
            if rows:
                conn.execute(sa.insert(jobs), rows)
        return len(rows)

    def refresh(self, *, force: bool = False) -> int:
        """Index every run folder under the root whose journal changed (all with ``force``); forget
        run folders of this host under this root that are gone. Returns the number of runs indexed."""
        with self._refresh_lock:
            found: dict[str, Path] = {}
            for folder in find_runs(self.root):
                resolved = folder.resolve()
                found[run_id(self.host, resolved)] = resolved
            with _store.reading(self.engine) as conn:
                known = {
                    r.run_id: r
                    for r in conn.execute(
                        sa.select(runs.c.run_id, runs.c.run_dir, runs.c.journal_size, runs.c.journal_mtime).where(
                            runs.c.host == self.host
                        )
                    )
                }
            indexed = 0
            for rid, folder in found.items():
                old = known.get(rid)
                try:
                    stat = (folder / "journal.jsonl").stat()
                except OSError:
                    continue
                if force or old is None or old.journal_size != stat.st_size or old.journal_mtime != stat.st_mtime:
                    self.index_run(folder)
                    indexed += 1
            gone = [rid for rid, r in known.items() if rid not in found and Path(r.run_dir).is_relative_to(self.root)]
            if gone:
                with _store.writing(self.engine) as conn:
                    conn.execute(sa.delete(jobs).where(jobs.c.run_id.in_(gone)))
                    conn.execute(sa.delete(runs).where(runs.c.run_id.in_(gone)))
            return indexed

    def rebuild(self) -> int:
        """Forget this host's runs under the root and index every journal again; returns the jobs indexed."""
        with _store.writing(self.engine) as conn:
            mine = [
                r.run_id
                for r in conn.execute(sa.select(runs.c.run_id, runs.c.run_dir).where(runs.c.host == self.host))
                if Path(r.run_dir).is_relative_to(self.root)
            ]
            conn.execute(sa.delete(jobs).where(jobs.c.run_id.in_(mine)))
            conn.execute(sa.delete(runs).where(runs.c.run_id.in_(mine)))
        return sum(self.index_run(folder) for folder in find_runs(self.root))

    # ------------------------------------------------------------------ queries

    def _frame(self, where: list[Any], params: dict[str, Any], order: str, limit: int | None) -> Any:
        # The run's own columns are read once per run (catalog_runs), not once per job: fewer objects to build.
        columns = ", ".join(f'"{c}"' for c in _JOB_COLUMNS)
        sql = f"SELECT {columns} FROM catalog_jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with _store.reading(self.engine) as conn, _no_gc():
            rows = _fetch(conn, sql, params)
            run_rows = _fetch(conn, f"SELECT run_id, {', '.join(RUN_COLUMNS)} FROM catalog_runs", {})
            df = _build(rows, {r[0]: r[1:] for r in run_rows})
        df.attrs["catalog"] = repr(self)
        return df

    def frame(self, *, refresh: bool = True) -> Any:
        """Every job as a DataFrame (``COLUMNS``), oldest first; refreshed from changed journals first."""
        if refresh:
            self.refresh()
        return self._frame([], {}, "planned_at, run_id, job", None)

    def search(
        self,
        text: str | None = None,
        *,
        rating_min: int | None = None,
        since: Any = None,
        until: Any = None,
        limit: int | None = None,
        refresh: bool = True,
        **columns: Any,
    ) -> Any:
        """Jobs whose prompt has every word of ``text`` (as words or word prefixes: "orbit" finds
        "orbiting"), rated at least ``rating_min`` stars, at or after ``since`` and before ``until``
        (the job's completion, else submission, else planning time), with ``column=value`` for any
        other column (a list means any of). Newest first."""
        if refresh:
            self.refresh()
        where: list[str] = []
        params: dict[str, Any] = {}
        if text is not None:
            _text_clause(text, self.dialect, where, params)
        if rating_min is not None:
            if isinstance(rating_min, bool) or not isinstance(rating_min, int | float):
                raise InputError([Problem("rating_min", "must be a number of stars", rating_min, "1 to 5")])
            where.append("rating >= :rating_min")
            params["rating_min"] = rating_min
        for name, value in (("since", since), ("until", until)):
            moment = to_epoch(value, name)
            if moment is not None:
                where.append(f"at {'>=' if name == 'since' else '<'} :{name}")
                params[name] = moment
        for index, (name, value) in enumerate(columns.items()):
            where.append(_column_clause(index, name, value, params))
        return self._frame(where, params, "at DESC, run_id, job", limit)

    # ------------------------------------------------------------------ spend and caps

    def _billed(
        self, conn: Any, since: float | None = None, until: float | None = None, *, emulated: bool = False
    ) -> list[Any]:
        query = sa.select(
            jobs.c.request_id,
            jobs.c.cost_usd,
            jobs.c.est_cost_usd,
            jobs.c.at,
            jobs.c.user,
            jobs.c.run_name,
            jobs.c.run_id,
        ).where(_store.EMULATED_PAID if emulated else _store.COUNTS_AS_MONEY)
        if since is not None:
            query = query.where(jobs.c.at >= since)
        if until is not None:
            query = query.where(jobs.c.at < until)
        seen: set[str] = set()
        out = []
        # One request paid once, however many run folders hold it (a team member who followed
        # another's request, a recovered copy).
        for row in conn.execute(query.order_by(jobs.c.at, jobs.c.run_id, jobs.c.job)):
            if row.request_id:
                if row.request_id in seen:
                    continue
                seen.add(row.request_id)
            out.append(row)
        return out

    def spend(
        self,
        by: str = "day",
        *,
        since: Any = None,
        until: Any = None,
        refresh: bool = True,
        emulated: bool = False,
    ) -> Any:
        """What was paid, per ``by`` (``"day"``, ``"month"``, ``"user"`` or ``"sweep"``): ``actual_usd``
        is what fal said a job cost (a ``cost_usd`` in the journal), ``estimated_usd`` our estimate for
        jobs fal gave no cost for; ``total_usd`` is their sum and ``basis`` says which it rests on.
        A request counts once however many run folders hold it; cached jobs cost nothing, and emulated jobs
        (``backend == "emulator"``) are not money: they are in no total and no cap. Figures are in cents.

        Args:
            by: ``"day"``, ``"month"``, ``"user"`` or ``"sweep"``.
            since: only jobs from then on (as in :meth:`search`).
            until: only jobs before then.
            refresh: re-read the journals that changed first.
            emulated: the rehearsal ledger instead: only the emulator's jobs, at what they would have cost on
                fal (``basis`` says ``emulated``); never part of the money ledger or a cap.
        """
        if by not in ("day", "month", "user", "sweep"):
            raise InputError([Problem("by", "is not a way to group spend", by, "'day', 'month', 'user' or 'sweep'")])
        if refresh:
            self.refresh()
        with _store.reading(self.engine) as conn:
            rows = self._billed(conn, to_epoch(since, "since"), to_epoch(until, "until"), emulated=emulated)
        return _ledger(rows, by, emulated=emulated)

    def set_budget(self, usd: float | None, per: str = "day") -> None:
        """Cap spend per ``per`` (``"day"`` or ``"month"``, UTC) for everyone using this catalog;
        ``None`` removes the cap. ``SEEDANCE_BUDGET_USD`` caps apply too (the lower one wins)."""
        if per not in _PERIODS:
            raise InputError([Problem("per", "is not a budget period", per, "'day' or 'month'")])
        if usd is not None and (
            isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd) or usd < 0
        ):
            raise InputError([Problem("usd", "must be a non-negative amount in USD", usd, "e.g. 20 or None")])
        with _store.writing(self.engine) as conn:
            conn.execute(sa.delete(_store.budgets).where(_store.budgets.c.period == per))
            if usd is not None:
                conn.execute(
                    sa.insert(_store.budgets).values(period=per, usd=float(usd), set_at=time.time(), set_by=self.user)
                )

    def budgets(self) -> dict[str, float]:
        """The caps in force: ``{"day": usd, "month": usd}`` (the lower of the catalog's and the environment's)."""
        with _store.reading(self.engine) as conn:
            caps = {r.period: r.usd for r in conn.execute(sa.select(_store.budgets))}
        for period, usd in parse_budget_env(os.environ.get("SEEDANCE_BUDGET_USD")).items():
            caps[period] = min(usd, caps.get(period, usd))
        return caps

    def spent(self, period: str = "day", *, at: float | None = None) -> dict[str, float]:
        """This period's spend so far: ``actual_usd``, ``estimated_usd`` and ``reserved_usd`` (running sweeps)."""
        with _store.reading(self.engine) as conn:
            return self._spent(conn, period, time.time() if at is None else at)

    def _spent(self, conn: Any, period: str, at: float) -> dict[str, float]:
        start = period_start(period, at)
        actual = estimated = 0.0
        for row in self._billed(conn, start):
            if row.cost_usd is not None:
                actual += row.cost_usd
            else:
                estimated += row.est_cost_usd or 0.0
        reserved = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(reservations.c.estimate_usd), 0.0)).where(
                reservations.c.open.is_(True),
                reservations.c.at >= max(start, at - RESERVATION_TTL),
            )
        ).scalar()
        return {"actual_usd": actual, "estimated_usd": estimated, "reserved_usd": float(reserved or 0.0)}

    def check_cap(self, estimate_usd: float, *, label: str | None = None, reserve: bool = True) -> int | None:
        """Refuse (``BudgetExceeded``, nothing sent) a sweep whose estimate would take this day's or
        month's spend over its cap; otherwise reserve the estimate (so a sweep started at the same
        moment elsewhere sees it) and return the reservation id for :meth:`release_reservation`.
        Checked under a row lock in the catalog, so it holds across processes and machines."""
        caps = self.budgets()
        if not caps:
            return None
        self.refresh()
        now = time.time()
        with _store.writing(self.engine) as conn:
            conn.execute(sa.select(locks.c.name).where(locks.c.name == "budget").with_for_update())
            for period in _PERIODS:
                if period not in caps:
                    continue
                cap = caps[period]
                spent = self._spent(conn, period, now)
                so_far = sum(spent.values())
                if so_far + estimate_usd > cap + 1e-9:
                    when = "today (UTC)" if period == "day" else "this month (UTC)"
                    raise BudgetExceeded(
                        f"this sweep's estimate of ${estimate_usd:.2f} would take spend {when} to "
                        f"${so_far + estimate_usd:.2f}, over the {period} budget of ${cap:.2f}: already "
                        f"${spent['actual_usd']:.2f} billed (fal's figures) + ${spent['estimated_usd']:.2f} "
                        f"billed (estimated) + ${spent['reserved_usd']:.2f} reserved by running sweeps. "
                        "Nothing was sent. Raise it with sd.set_budget(...) or SEEDANCE_BUDGET_USD, "
                        "or shrink the grid.",
                        estimate_usd=estimate_usd,
                        budget_usd=cap,
                    )
            if not reserve:
                return None
            result = conn.execute(
                sa.insert(reservations)
                .values(label=label, owner=self.owner, user=self.user, at=now, estimate_usd=estimate_usd, open=True)
                .returning(reservations.c.id)
            )
            return int(result.scalar_one())

    def release_reservation(self, reservation: int | None) -> None:
        """The sweep has finished (and been indexed): its estimate no longer counts, its jobs do."""
        if reservation is None:
            return
        with _store.writing(self.engine) as conn:
            conn.execute(sa.update(reservations).where(reservations.c.id == reservation).values(open=False))

    # ------------------------------------------------------------------ the team cache

    def lookup(self, key: str) -> dict[str, Any] | None:
        """A finished video for cache key ``key`` from anyone's runs: a local file when one exists
        (``local: True``), else fal's URL (``local: False``; download it while fal keeps it)."""
        with _store.reading(self.engine) as conn:
            rows = (
                conn.execute(
                    sa.select(jobs)
                    .where(jobs.c.cache_key == key, jobs.c.status.in_(sorted(s.value for s in HAS_VIDEO)))
                    .order_by(jobs.c.completed_at.desc())
                )
                .mappings()
                .all()
            )
            claim = conn.execute(sa.select(claims).where(claims.c.key == key)).mappings().first()
        best = _best_row(rows)
        if best is not None:
            return _found_in_row(key, *best)
        if claim is not None and claim["state"] == "completed" and claim["output"]:
            return _found_in_claim(key, claim)
        return None

    # ------------------------------------------------------------------ recovery helpers

    def known_request_ids(self) -> set[str]:
        """Every request id any journal in the catalog (or any claim) holds."""
        with _store.reading(self.engine) as conn:
            ids = {r[0] for r in conn.execute(sa.select(jobs.c.request_id).where(jobs.c.request_id.is_not(None)))}
            ids |= {r[0] for r in conn.execute(sa.select(claims.c.request_id).where(claims.c.request_id.is_not(None)))}
        return ids

    def expiring(self, *, within_days: float = 2.0, retention_days: float = 7.0) -> Any:
        """Catalogued videos with a fal URL and no local copy that fal will delete within ``within_days``
        (fal keeps media at least ``retention_days`` by default)."""
        df = self.frame()
        now = datetime.now(timezone.utc)
        no_copy = df["path"].isna() | ~df["path"].map(lambda p: isinstance(p, str) and Path(p).is_file())
        fetched = HAS_VIDEO | {JobStatus.DOWNLOADING, JobStatus.INTERRUPTED}  # fal made the video, maybe kept it
        has_url = df["video_url"].notna() & df["status"].isin(fetched)
        expires = df["completed_at"] + pd_timedelta(retention_days)
        soon = expires <= now + pd_timedelta(within_days)
        out = df[no_copy & has_url & soon].copy()
        out["expires_at"] = expires[out.index]
        return out


def _fetch(conn: Any, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Plain tuples through the DBAPI cursor of ``conn``'s transaction (no SQLAlchemy Row objects)."""
    statement = sa.text(sql).bindparams(**params) if params else sa.text(sql)
    compiled = statement.compile(dialect=conn.dialect)
    if compiled.positional:
        args: Any = tuple(compiled.params[name] for name in compiled.positiontup or ())
    else:
        args = compiled.params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


@contextlib.contextmanager
def _no_gc() -> Any:
    """Build a large frame without the cyclic GC re-scanning the million young objects it creates."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(rows: list[tuple[Any, ...]], run_values: Mapping[str, tuple[Any, ...]]) -> Any:
    """The catalog DataFrame, column by column from plain tuples (~5x faster than ``DataFrame.from_records``
    over SQLAlchemy rows): floats and times as numpy, nullable integers as ``Int64``, booleans with None."""
    import numpy as np
    import pandas as pd

    data: dict[str, Sequence[Any]] = dict(
        zip(_JOB_COLUMNS, zip(*rows, strict=True) if rows else [()] * len(_JOB_COLUMNS), strict=True)
    )
    run_ids = data["run_id"]
    for index, name in enumerate(RUN_COLUMNS):
        if name not in _PER_RUN:
            continue
        per_run = {rid: values[index] for rid, values in run_values.items()}
        data[name] = [per_run.get(rid) for rid in run_ids]
    out: dict[str, Any] = {}
    for name in COLUMNS:
        values = data[name]
        if name in _TIME_COLUMNS:
            # microseconds, like datetime.fromtimestamp (the sweep DataFrame's), not float nanoseconds
            seconds = np.array(values, dtype=float)
            out[name] = pd.to_datetime(np.round(seconds * 1e6), unit="us", utc=True).array
        elif name in _FLOAT_COLUMNS:
            out[name] = np.array(values, dtype=float)
        elif name in _INT_COLUMNS:
            out[name] = pd.array(values, dtype="Int64")
        else:
            column = np.empty(len(values), dtype=object)  # never inferred: strings stay str, None stays None
            column[:] = [None if v is None else bool(v) for v in values] if name in _BOOL_COLUMNS else values
            out[name] = column
    return pd.DataFrame(out)


def pd_timedelta(days: float) -> Any:
    import pandas as pd

    return pd.Timedelta(days=days)


# --------------------------------------------------------------------------- module-level API

_open: dict[tuple[str, str], Catalog] = {}
_open_lock = threading.Lock()


def open_catalog(url: str | None = None, *, root: str | os.PathLike[str] | None = None) -> Catalog:
    """The catalog for ``url``/``root`` (argument, then environment, then default), opened once per process."""
    resolved_root = sweeps_root(root)
    resolved_url = _url(url, resolved_root)
    with _open_lock:
        found = _open.get((resolved_url, str(resolved_root)))
        if found is None:
            found = _open[(resolved_url, str(resolved_root))] = Catalog(resolved_url, root=resolved_root)
        return found


@atexit.register
def _close_all() -> None:
    with _open_lock:
        for cat in _open.values():
            cat.close()
        _open.clear()


def _best_row(rows: Any) -> tuple[Any, bool] | None:
    """The newest row with an intact local file (True), else the newest with fal's URL (False), else None."""
    best = None
    for row in rows:
        local = bool(row["path"]) and Path(row["path"]).is_file()
        if local and (row["file_size"] is None or Path(row["path"]).stat().st_size == row["file_size"]):
            return (row, True)
        if best is None and row["video_url"]:
            best = (row, False)
    return best


def _found_in_row(key: str, row: Any, local: bool) -> dict[str, Any]:
    """:meth:`Catalog.lookup`'s answer from a catalogued job."""
    return {
        "key": key,
        "local": local,
        "path": row["path"] if local else None,
        "poster": row["poster"] if local and row["poster"] and Path(row["poster"]).is_file() else None,
        "info": {
            "width": row["width"],
            "height": row["height"],
            "fps": row["fps"],
            "duration": row["video_seconds"],
            "has_audio": row["has_audio"],
            "size_bytes": row["file_size"],
        },
        "video_url": row["video_url"],
        "output_seed": row["output_seed"],
        "request_id": row["request_id"],
        "timings": {
            "submitted_at": row["submitted_at"],
            "started_at": row["started_at"],
            "completed_at": row["completed_at"],
        },
    }


def _found_in_claim(key: str, claim: Any) -> dict[str, Any]:
    """:meth:`Catalog.lookup`'s answer from a completed claim (fal's output; no local file)."""
    output = json.loads(claim["output"])
    video = output.get("video") or {}
    return {
        "key": key,
        "local": False,
        "path": None,
        "poster": None,
        "info": {"size_bytes": video.get("file_size")},
        "video_url": video.get("url"),
        "output_seed": output.get("seed"),
        "request_id": claim["request_id"],
        "timings": {
            "submitted_at": claim["claimed_at"],
            "started_at": None,
            "completed_at": claim["updated_at"],
        },
    }


def _text_clause(text: Any, dialect: str, where: list[str], params: dict[str, Any]) -> None:
    """Add the full-text condition for every word of ``text`` (as a word or a word prefix) to ``where``."""
    if not isinstance(text, str):
        raise InputError([Problem("text", "must be a string of words", text, "e.g. 'orbit'")])
    words = _tokens(text)
    if not words:
        return
    if dialect == "sqlite":
        where.append("id IN (SELECT rowid FROM catalog_fts WHERE catalog_fts MATCH :fts)")
        params["fts"] = " ".join(f'"{w}"*' for w in words)
    else:
        where.append("prompt_tsv @@ to_tsquery('simple', :fts)")
        params["fts"] = " & ".join(f"{w}:*" for w in words)


def _column_clause(index: int, name: str, value: Any, params: dict[str, Any]) -> str:
    """The condition ``column == value`` (a list means any of; None matches NULL), its values put in ``params``."""
    if name not in COLUMNS or name in _TIME_COLUMNS:
        allowed = ", ".join(c for c in COLUMNS if c not in _TIME_COLUMNS)
        raise InputError([Problem(name, "is not a catalog column to filter on", value, allowed)])
    values = list(value) if isinstance(value, list | tuple | set) else [value]
    parts = []
    for j, item in enumerate(values):
        if item is None:
            parts.append(f'"{name}" IS NULL')
        else:
            key = f"c{index}_{j}"
            parts.append(f'"{name}" = :{key}')
            params[key] = str(item) if name == "duration" else item
    return "(" + " OR ".join(parts or ["1 = 0"]) + ")"


#: What a spend ledger's ``attrs["note"]`` says, for money and for the rehearsal (``emulated=True``).
_LEDGER_NOTES = {
    False: "total_usd = actual_usd (the cost fal reported) + estimated_usd (our estimate where fal reported none), "
    "in USD rounded to cents; emulated runs are not money and are not counted (--emulated / emulated=True shows "
    "them)",
    True: "a rehearsal: the emulator's jobs at what they would have cost on fal; nothing was paid, and none of it "
    "counts as spend or against a cap",
}


def _ledger_group(row: Any, by: str) -> Any:
    moment = datetime.fromtimestamp(row.at or 0, tz=timezone.utc)
    if by == "day":
        return moment.strftime("%Y-%m-%d")
    if by == "month":
        return moment.strftime("%Y-%m")
    return row.user if by == "user" else row.run_name


def _ledger(rows: list[Any], by: str, *, emulated: bool) -> Any:
    """The spend ledger of ``rows`` (:meth:`Catalog._billed`'s), grouped ``by``, in dollars and cents."""
    import pandas as pd

    records = []
    for row in rows:
        actual = row.cost_usd is not None
        estimated = 0.0 if actual else (row.est_cost_usd or 0.0)
        records.append((_ledger_group(row, by), row.cost_usd if actual else 0.0, estimated, actual))
    df = pd.DataFrame.from_records(records, columns=[by, "actual_usd", "estimated_usd", "actual"])
    out = (
        df.groupby(by, sort=True)
        .agg(
            videos=("actual", "size"),
            actual_videos=("actual", "sum"),
            actual_usd=("actual_usd", "sum"),
            estimated_usd=("estimated_usd", "sum"),
        )
        .reset_index()
    )
    out["total_usd"] = (out["actual_usd"] + out["estimated_usd"]).round(2)  # money: cents
    out["actual_usd"] = out["actual_usd"].round(2)
    out["estimated_usd"] = out["estimated_usd"].round(2)
    out["basis"] = [
        "emulated"
        if emulated
        else ("actual" if a == n else ("estimate" if a == 0 else f"mixed: {a} actual, {n - a} estimated"))
        for a, n in zip(out["actual_videos"], out["videos"], strict=True)
    ]
    out = out.drop(columns=["actual_videos"])
    out.attrs["note"] = _LEDGER_NOTES[emulated]
    return out


set_public_module(__name__)
