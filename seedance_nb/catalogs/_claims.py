"""Insert-once claims per cache key: one submission per request across processes sharing a store.

A :class:`ClaimStore` is a ``catalog_claims`` table in a database: the team catalog's (a
:class:`seedance_nb.catalogs.Catalog` is one) or the user's own, ``$SEEDANCE_HOME/cache.sqlite``
beside the per-user cache index (:func:`user_claims`), which every run uses when no team catalog is
configured. Of two processes starting the same request at once, one claims and submits it, the other
follows the same request id (waits for it, downloads the result into its own run folder).

A claim moves ``claimed`` -> ``submitted`` (with fal's request id) -> ``completed`` (with the output);
``unknown`` when the submit's answer was lost (only the owner settles it through fal's history);
``released`` when the submit failed or the request failed (anyone may submit it again). A ``claimed``
claim may be taken over when its owner is a process of this host that no longer runs, or when it has
had no request id for :data:`CLAIM_STALE_SECONDS` (its owner died elsewhere).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .._names import set_public_module
from ..errors import AmbiguousSubmit, APIError
from . import _store
from ._index import this_host, this_user
from ._store import CatalogUnavailable, claims

__all__ = ["CLAIM_STALE_SECONDS", "RESULT_WINDOW_SECONDS", "ClaimStore", "user_claims"]

logger = logging.getLogger("seedance_nb.catalogs")

#: A claim still without a request id after this long belongs to a process that died: it may be taken over.
CLAIM_STALE_SECONDS = 300.0
#: fal keeps a queue result for an hour after completion (less for large ones): within this, a request
#: another process just completed is followed by its id rather than submitted again.
RESULT_WINDOW_SECONDS = 45 * 60.0
#: States a newer record of the same request may overwrite when claims are reconciled.
_OPEN_STATES = ("claimed", "unknown", "released")


def _dialect_insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def owner_is_gone(owner: str | None) -> bool:
    """Whether ``owner`` (``user@host:pid``) names a process of this host that no longer runs."""
    if not owner or sys.platform == "win32":
        return False
    where, _, pid_text = owner.rpartition(":")
    host = where.partition("@")[2]
    if host != this_host() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's process): alive
        return False
    return False


class ClaimStore:
    """Claims in one database (``engine``): insert-once per cache key, followed by request id."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.host = this_host()
        self.user = this_user()
        self.owner = f"{self.user}@{self.host}:{os.getpid()}"
        #: Claim records a post-submit write could not store (the store went down): written by :meth:`record`
        #: when it is back (the runner's hooks reconcile them). ``key -> values``.
        self.unsynced: dict[str, dict[str, Any]] = {}

    def claim(
        self, key: str, *, endpoint: str | None = None, retake_completed: bool = False, absent: bool = False
    ) -> bool:
        """Claim the right to submit the request with cache key ``key``: ``True`` for exactly one
        caller (insert-once), also when the previous claim was released, went stale or belongs to a
        process of this host that is gone (or, with ``retake_completed``, when it completed: its result
        is gone and a new request is wanted). ``absent``: the caller proved through fal's history that
        its own earlier, ambiguous submit never arrived, so its ``unknown`` claim may be taken again."""
        now = time.time()
        values = {"key": key, "state": "claimed", "owner": self.owner, "endpoint": endpoint}
        insert = (
            _dialect_insert(self.dialect)(claims)
            .values(**values, claimed_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(claims.c.key)
        )
        with _store.writing(self.engine) as conn:
            # RETURNING, not rowcount: psycopg reports no reliable rowcount for ON CONFLICT DO NOTHING.
            if conn.execute(insert).first() is not None:
                return True
            row = conn.execute(sa.select(claims.c.state, claims.c.owner).where(claims.c.key == key)).first()
            gone = row is not None and owner_is_gone(row.owner)
            states = ("claimed", "unknown") if absent else ("claimed",)
            takeover = conn.execute(
                sa.update(claims)
                .where(
                    claims.c.key == key,
                    sa.or_(
                        claims.c.state == "released",
                        sa.and_(claims.c.state == "claimed", claims.c.updated_at < now - CLAIM_STALE_SECONDS),
                        # a process of this host that died between claiming and knowing its request id
                        sa.and_(sa.true() if gone else sa.false(), claims.c.state.in_(states)),
                        # its own claim again: the owner found its ambiguous submit absent from fal's history
                        sa.and_(sa.true() if absent else sa.false(), claims.c.owner == self.owner),
                        sa.and_(sa.true() if retake_completed else sa.false(), claims.c.state == "completed"),
                    ),
                )
                .values(**values, request_id=None, output=None, claimed_at=now, updated_at=now)
                .returning(claims.c.key)
            )
            return takeover.first() is not None

    def claim_state(self, key: str) -> dict[str, Any] | None:
        """The claim of ``key`` as a dict (``state``, ``owner``, ``request_id``, ...), or None.

        Args:
            key: the request's cache key.
        """
        with _store.reading(self.engine) as conn:
            row = conn.execute(sa.select(claims).where(claims.c.key == key)).mappings().first()
        return dict(row) if row else None

    def _update_claim(self, key: str, **values: Any) -> None:
        with _store.writing(self.engine) as conn:
            conn.execute(
                sa.update(claims)
                .where(claims.c.key == key, claims.c.owner == self.owner)
                .values(**values, updated_at=time.time())
            )

    def claim_submitted(self, key: str, request_id: str, *, settled: bool = False) -> None:
        """The claimed request was accepted by fal: others follow ``request_id`` instead of submitting.
        ``settled``: found in fal's history after an ambiguous submit, perhaps by another process than
        the one that sent it (a resumed run): the claim names it whoever holds it, unless completed."""
        if not settled:
            self._update_claim(key, state="submitted", request_id=request_id)
            return
        with _store.writing(self.engine) as conn:
            conn.execute(
                sa.update(claims)
                .where(claims.c.key == key, claims.c.state.in_(_OPEN_STATES))
                .values(state="submitted", request_id=request_id, owner=self.owner, updated_at=time.time())
            )

    def claim_completed(self, key: str, output: Mapping[str, Any]) -> None:
        """The claimed request finished: its output (video URL, seed) serves everyone's cache."""
        with _store.writing(self.engine) as conn:
            conn.execute(
                sa.update(claims)
                .where(claims.c.key == key)
                .values(state="completed", output=json.dumps(dict(output), default=str), updated_at=time.time())
            )

    def release(self, key: str, *, force: bool = False) -> None:
        """Give a claim back (the submit failed before fal took it): the next caller may submit.
        ``force`` also releases another owner's submitted claim (its request failed or was cancelled:
        retrying is anyone's right); never a completed one, nor one whose submit is ``unknown``."""
        if not force:
            self._update_claim(key, state="released", request_id=None)
            return
        with _store.writing(self.engine) as conn:
            conn.execute(
                sa.update(claims)
                .where(
                    claims.c.key == key,
                    sa.or_(claims.c.owner == self.owner, claims.c.state == "submitted"),
                    claims.c.state.not_in(("completed", "unknown")),
                )
                .values(state="released", request_id=None, updated_at=time.time())
            )

    def record(self, key: str, values: Mapping[str, Any]) -> None:
        """Write what another store (or a write that failed) knows of ``key``'s claim: ``values`` holds
        ``state`` and optionally ``request_id``, ``output`` (a dict), ``endpoint``, ``owner``. A claim already
        here wins unless it is open (claimed, unknown, released), or submitted as the same request that
        ``values`` says completed."""
        now = time.time()
        row = {
            "state": values["state"],
            "owner": values.get("owner") or self.owner,
            "request_id": values.get("request_id"),
            "endpoint": values.get("endpoint"),
            "output": None if values.get("output") is None else json.dumps(dict(values["output"]), default=str),
            "updated_at": now,
        }
        insert = _dialect_insert(self.dialect)(claims).values(key=key, claimed_at=now, **row)
        if row["state"] == "released":  # a release only ever reopens this owner's own claim
            condition = sa.and_(claims.c.owner == row["owner"], claims.c.state.not_in(("completed", "unknown")))
        elif row["state"] == "completed":  # a record never takes a claim back to an earlier state
            same = sa.and_(claims.c.state == "submitted", claims.c.request_id == row["request_id"])
            condition = sa.or_(claims.c.state.in_(_OPEN_STATES), same)
        else:
            condition = claims.c.state.in_(_OPEN_STATES)
        upsert = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={k: v for k, v in row.items() if v is not None or k == "request_id"},
            where=condition,
        )
        with _store.writing(self.engine) as conn:
            conn.execute(upsert)

    def _after_submit(self, key: str, write: Any, *args: Any, **values: Any) -> None:
        """A claim write after the POST: a store that went down must not lose the request's answer."""
        try:
            write(key, *args)
        except CatalogUnavailable as exc:
            logger.warning("could not record the claim of request %s (%s): recorded when it is back", key[:8], exc)
            self.unsynced[key] = {**self.unsynced.get(key, {}), **values, "owner": self.owner}

    async def submit_once(
        self,
        client: Any,
        key: str,
        payload: Any,
        *,
        endpoint: str,
        wait_seconds: float = 600.0,
        absent: bool = False,
        **submit_kw: Any,
    ) -> tuple[Any, bool]:
        """Submit ``payload`` unless someone sharing this store already has: returns ``(handle, True)``
        when this call submitted it, ``(handle, False)`` when it follows another process's request (same
        request id, paid once). A claim whose submit fails is released, so a later caller can try.
        :class:`CatalogUnavailable` is raised only before anything is sent (a store that goes down after
        the POST leaves the write in :attr:`unsynced`)."""
        deadline = time.monotonic() + wait_seconds
        retake = False
        while True:
            claim = self.claim
            if await asyncio.to_thread(claim, key, endpoint=endpoint, retake_completed=retake, absent=absent):
                try:
                    handle = await client.submit(payload, endpoint=endpoint, **submit_kw)
                except AmbiguousSubmit:
                    # fal may have queued it: nobody else may submit until the owner settles it through
                    # fal's request history (claim_submitted) or finds it was not queued (release).
                    await asyncio.to_thread(self._after_submit, key, self._mark_unknown, state="unknown")
                    raise
                except BaseException:
                    await asyncio.to_thread(self._after_submit, key, self.release, state="released")
                    raise
                await asyncio.to_thread(
                    self._after_submit,
                    key,
                    self.claim_submitted,
                    handle.request_id,
                    state="submitted",
                    request_id=handle.request_id,
                    endpoint=endpoint,
                )
                return handle, True
            followed = await asyncio.to_thread(self._followable, key)
            if followed == "retake":
                retake = True  # long done and not served from a cache (its video is gone): a new request
            elif followed is not None:
                logger.info("request %s is already submitted elsewhere; following it", key[:8])
                return client.handle(followed, endpoint=endpoint), False
            if time.monotonic() > deadline:
                state = await asyncio.to_thread(self.claim_state, key) or {}
                raise APIError(
                    f"request {key[:8]} was claimed by {state.get('owner')} {wait_seconds:.0f} s ago and is still "
                    f"not known to be submitted ({state.get('state')}); nothing was sent, so it cannot be paid "
                    "twice. Run the owner's sweep again (resume settles it) or sd.recover(), then retry this job."
                )
            await asyncio.sleep(0.1)

    def _mark_unknown(self, key: str) -> None:
        self._update_claim(key, state="unknown")

    def _followable(self, key: str) -> str | None:
        """The request id to follow for ``key`` (submitted, or completed moments ago), ``"retake"`` when it
        completed long ago, else None (claimed and not yet submitted: wait)."""
        state = self.claim_state(key) or {}
        if state.get("request_id") and state.get("state") == "submitted":
            return str(state["request_id"])
        if state.get("state") == "completed":
            if state.get("request_id") and (state.get("updated_at") or 0) > time.time() - RESULT_WINDOW_SECONDS:
                return str(state["request_id"])  # finished after this caller's cache look-up: still on fal
            return "retake"
        return None


_user: dict[str, ClaimStore] = {}
_user_lock = threading.Lock()


def user_claims(home: Path | None = None) -> ClaimStore:
    """The user's own claim store (``$SEEDANCE_HOME/cache.sqlite``, beside the per-user cache index),
    opened once per process and home: the claims every run uses when no team catalog is configured."""
    from ..settings import seedance_home

    path = (home or seedance_home()) / "cache.sqlite"
    with _user_lock:
        found = _user.get(str(path))
        if found is None:
            for other in _user.values():  # another home (tests, a changed SEEDANCE_HOME): close its pool;
                other.engine.dispose()  # it stays usable and reconnects if used again
            engine = _store.make_engine(f"sqlite:///{path}")
            try:
                with _store.writing(engine) as conn:
                    claims.create(conn, checkfirst=True)
            except BaseException:
                engine.dispose()
                raise
            found = _user[str(path)] = ClaimStore(engine)
        return found


@atexit.register
def close_user_claims() -> None:
    """Dispose of every per-user claim store's engine (at exit)."""
    with _user_lock:
        for store in _user.values():
            store.engine.dispose()
        _user.clear()


set_public_module(__name__)
