"""The catalog's tables (SQLAlchemy Core), its engines and its schema version.

One schema for SQLite and PostgreSQL. Prompt search is SQLite FTS5 (an external-content
table kept by triggers) or a PostgreSQL ``tsvector`` column generated from the prompt with
the ``simple`` configuration (no stemming, like FTS5's ``unicode61`` tokenizer), so the
same words find the same rows on both.

The schema version lives in the ``catalog_meta`` table; :func:`migrate` brings an older
catalog up to :data:`SCHEMA_VERSION` step by step inside one transaction (and refuses a
catalog written by a newer seedance-nb).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .._sqlite import use_wal, writer_lock
from ..columns import COLUMNS as SWEEP_COLUMNS
from ..columns import RECORD_COLUMNS
from ..errors import ConfigurationError, SeedanceError

#: Bump with a new entry in ``_MIGRATIONS``.
SCHEMA_VERSION = 1
#: The rules a journal is indexed by (how ratings and statuses read). When they change, every run folder is indexed
#: again at the next refresh, so a catalog built before reads old journals as the code does now (no schema change:
#: an older seedance-nb opens the catalog still). "2": one rating scale, seedance_nb.ratings (issue 25).
INDEX_RULES = "2"

metadata = sa.MetaData()

#: Sweep columns the catalog does not keep (figures derived from the others when a sweep is loaded).
_SWEEP_ONLY = frozenset({"seed_honoured", "billed_units", "inference_seconds", "model"})
#: Columns of :func:`catalog` / :func:`search`, in order: the run's name, the sweep DataFrame's columns
#: (:data:`seedance_nb.columns.COLUMNS`), then the record's (:data:`seedance_nb.columns.RECORD_COLUMNS`).
COLUMNS = [
    "run_name",
    *(c for c in SWEEP_COLUMNS if c not in _SWEEP_ONLY and c not in RECORD_COLUMNS),
    *(c for c in RECORD_COLUMNS if c != "run_name"),
]
#: Columns that are the same for every job of a run (``catalog_runs`` holds them once per run).
RUN_COLUMNS = ("run_name", "run_dir", "host", "user", "backend", "endpoint")

#: The one description of the columns' SQL types (both tables); a column not named here is text.
_TYPES: dict[str, Any] = {
    "run_id": sa.String(32),
    "cache_key": sa.String(64),
    **dict.fromkeys(("job", "take", "width", "height", "rating", "votes", "jobs"), sa.Integer),
    **dict.fromkeys(("seed", "output_seed", "file_size", "journal_size"), sa.BigInteger),
    **dict.fromkeys(("generate_audio", "has_audio", "billed"), sa.Boolean),
    **dict.fromkeys(
        ("planned_at", "submitted_at", "started_at", "completed_at", "at", "created_at", "journal_mtime"), sa.Float
    ),
    **dict.fromkeys(
        ("queue_seconds", "generation_seconds", "fps", "video_seconds", "est_cost_usd", "cost_usd"), sa.Float
    ),
}
#: Job columns the queries look rows up by.
_INDEXED = frozenset({"run_id", "request_id", "at", "cache_key", "rating"})


def _column(name: str, **options: Any) -> sa.Column[Any]:
    return sa.Column(name, _TYPES.get(name, sa.Text), **options)


runs = sa.Table(
    "catalog_runs",
    metadata,
    _column("run_id", primary_key=True),
    *(_column(name, nullable=name != "run_dir") for name in RUN_COLUMNS),
    *(_column(name) for name in ("created_at", "journal_size", "journal_mtime", "jobs")),
)

jobs = sa.Table(
    "catalog_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *(_column(name, nullable=name not in ("run_id", "job"), index=name in _INDEXED) for name in COLUMNS),
    sa.UniqueConstraint("run_id", "job", name="uq_catalog_jobs_run_job"),
    # catalog() reads every row in this order: the index spares it a sort of the whole table
    sa.Index("ix_catalog_jobs_order", "planned_at", "run_id", "job"),
)

#: The rows that are money, for the spend ledger and the caps: paid for on fal (``billed``, which is
#: :func:`seedance_nb.statuses.is_paid` of the job's status when its journal was indexed) and not emulated (an
#: emulated job is never money; a journal from before backends were recorded counts). Defined here once.
COUNTS_AS_MONEY = sa.and_(jobs.c.billed.is_(True), sa.or_(jobs.c.backend.is_(None), jobs.c.backend != "emulator"))
#: The same jobs' rehearsals: paid-for jobs the emulator made (what they would have cost on fal), never money.
EMULATED_PAID = sa.and_(jobs.c.billed.is_(True), jobs.c.backend == "emulator")


def column_names(kind: type[Any]) -> frozenset[str]:
    """The names of the catalog's job columns whose SQL type is a ``kind`` (``sa.Float``, ``sa.Integer``, ...)."""
    return frozenset(c.name for c in jobs.c if isinstance(c.type, kind))


claims = sa.Table(
    "catalog_claims",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),  # claimed | submitted | completed | released
    sa.Column("owner", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("endpoint", sa.Text),
    sa.Column("output", sa.Text),
    sa.Column("claimed_at", sa.Float),
    sa.Column("updated_at", sa.Float),
)

budgets = sa.Table(
    "catalog_budgets",
    metadata,
    sa.Column("period", sa.String(8), primary_key=True),  # day | month
    sa.Column("usd", sa.Float, nullable=False),
    sa.Column("set_at", sa.Float),
    sa.Column("set_by", sa.Text),
)

reservations = sa.Table(
    "catalog_reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("label", sa.Text),
    sa.Column("owner", sa.Text),
    sa.Column("user", sa.Text),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("estimate_usd", sa.Float, nullable=False),
    sa.Column("open", sa.Boolean, nullable=False),
)

#: One row per named lock; ``SELECT … FOR UPDATE`` on it serialises the budget check on PostgreSQL
#: (on SQLite every write transaction is ``BEGIN IMMEDIATE``, which serialises it already).
locks = sa.Table("catalog_locks", metadata, sa.Column("name", sa.String(32), primary_key=True))

meta = sa.Table(
    "catalog_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS catalog_fts USING fts5(prompt, content='catalog_jobs', content_rowid='id')",
    "CREATE TRIGGER IF NOT EXISTS catalog_fts_ai AFTER INSERT ON catalog_jobs BEGIN "
    "INSERT INTO catalog_fts(rowid, prompt) VALUES (new.id, new.prompt); END",
    "CREATE TRIGGER IF NOT EXISTS catalog_fts_ad AFTER DELETE ON catalog_jobs BEGIN "
    "INSERT INTO catalog_fts(catalog_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); END",
    "CREATE TRIGGER IF NOT EXISTS catalog_fts_au AFTER UPDATE OF prompt ON catalog_jobs BEGIN "
    "INSERT INTO catalog_fts(catalog_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); "
    "INSERT INTO catalog_fts(rowid, prompt) VALUES (new.id, new.prompt); END",
]

_POSTGRES_FTS = [
    "ALTER TABLE catalog_jobs ADD COLUMN IF NOT EXISTS prompt_tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', coalesce(prompt, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS ix_catalog_jobs_prompt_tsv ON catalog_jobs USING gin (prompt_tsv)",
]


def _v1(conn: Connection) -> None:
    metadata.create_all(conn)
    for statement in _SQLITE_FTS if conn.dialect.name == "sqlite" else _POSTGRES_FTS:
        conn.exec_driver_sql(statement)
    conn.execute(sa.insert(locks).values(name="budget"))


#: version -> the step that brings the previous version to it.
_MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1}


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        sa_url = sa.engine.make_url(url)
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own is DEFERRED).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=30000")
                use_wal(cursor, deadline_seconds=5.0)
                cursor.execute("PRAGMA synchronous=NORMAL")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front, so a read-then-write (the budget check, a claim)
            # cannot interleave with another process's; readers begin DEFERRED and never wait.
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # the "postgres" extra is not installed
            raise ConfigurationError(
                "SEEDANCE_CATALOG_URL points at PostgreSQL but psycopg is not installed: "
                "pip install 'seedance-nb[postgres]'"
            ) from exc
        return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
    raise ConfigurationError(
        f"catalog URL {sa.engine.make_url(url).render_as_string(hide_password=True)!r} is not supported: "
        "use sqlite:///path/catalog.sqlite or postgresql://user@host/db (SEEDANCE_CATALOG_URL)"
    )


class CatalogUnavailable(SeedanceError):
    """The catalog's database (a team's PostgreSQL) cannot be reached. The message names it (never its
    password), says that nothing was sent and how to go on."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"the catalog database {url} cannot be reached ({reason}). Nothing was sent. Try again when it is "
            "back, or run without it for this one run: run_sweep(..., catalog=False) (or unset "
            "SEEDANCE_CATALOG_URL); your own processes still submit each request once, but a team member "
            "may then pay for the same request again, and this run counts against no team budget."
        )


#: SQLSTATE classes of a server that is gone: connection exceptions, and the operator intervention
#: codes for a shutdown (57P01 admin, 57P02 crash, 57P03 cannot connect now).
_DOWN_STATES = ("08", "57P01", "57P02", "57P03")


def shown_url(engine: Engine) -> str:
    """The engine's URL without its password (``postgresql://`` as the user wrote it, not the driver's name)."""
    return engine.url.render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://", 1)


def _unavailable(engine: Engine, exc: BaseException) -> CatalogUnavailable | None:
    """``exc`` as :class:`CatalogUnavailable` when it says a PostgreSQL server cannot be reached, else None."""
    if engine.dialect.name == "sqlite" or not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return None
    state = getattr(exc.orig, "sqlstate", None)
    if not (exc.connection_invalidated or state is None or state.startswith(_DOWN_STATES)):
        return None
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return CatalogUnavailable(shown_url(engine), reason[:300])


@contextlib.contextmanager
def _reachable(engine: Engine) -> Iterator[None]:
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        down = _unavailable(engine, exc)
        if down is None:
            raise
        raise down from None


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction (SQLite: ``BEGIN IMMEDIATE``, this process's writers to the file in line on
    :func:`~seedance_nb._sqlite.writer_lock` rather than in SQLite's sleeping busy handler);
    :class:`CatalogUnavailable` when the server is down."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    with writer_lock(database) if database else contextlib.nullcontext(), _reachable(engine), engine.begin() as conn:
        yield conn


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (SQLite: ``BEGIN DEFERRED``, never waits for writers under WAL);
    :class:`CatalogUnavailable` when the server is down."""
    with _reachable(engine), engine.connect() as conn:
        conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            yield conn


def schema_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("catalog_meta"):
        return 0
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else 0


def migrate(engine: Engine) -> int:
    """Create or upgrade the catalog's tables; safe when several processes open one catalog at once."""
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Two processes creating the tables at once: the second waits, then finds them made.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72057594037927936 + 19)")
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the catalog has schema version {current}, newer than this seedance-nb understands "
                f"({SCHEMA_VERSION}); upgrade seedance-nb"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            _MIGRATIONS[version](conn)
        if current != SCHEMA_VERSION:
            table = meta
            conn.execute(sa.delete(table).where(table.c.key == "schema_version"))
            conn.execute(sa.insert(table).values(key="schema_version", value=str(SCHEMA_VERSION)))
        _index_by_todays_rules(conn)
    return SCHEMA_VERSION


def _index_by_todays_rules(conn: Connection) -> None:
    """Make the next refresh index every run again when the catalog was indexed by other :data:`INDEX_RULES`."""
    if conn.execute(sa.select(meta.c.value).where(meta.c.key == "index_rules")).scalar() == INDEX_RULES:
        return
    conn.execute(sa.update(runs).values(journal_size=None, journal_mtime=None))  # "changed": indexed again
    conn.execute(sa.delete(meta).where(meta.c.key == "index_rules"))
    conn.execute(sa.insert(meta).values(key="index_rules", value=INDEX_RULES))


def sqlite_path(url: str) -> Path | None:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return None
    database = sa.engine.make_url(url).database
    return Path(database) if database and database != ":memory:" else None


_ = os
