"""The per-user SQLite file's writers within one process line up on one lock (seedance_nb._sqlite.writer_lock)
instead of sleeping in SQLite's busy handler; the claims and the cache index share it, across threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from seedance_nb._sqlite import writer_lock
from seedance_nb.catalogs._claims import user_claims
from seedance_nb.runs import CacheIndex


def test_one_lock_per_file_whatever_the_path_it_is_named_by(tmp_path, monkeypatch):
    db = tmp_path / "cache.sqlite"
    db.touch()
    link = tmp_path / "link.sqlite"
    link.symlink_to(db)
    monkeypatch.chdir(tmp_path)
    assert writer_lock(db) is writer_lock(str(db)) is writer_lock(link) is writer_lock("cache.sqlite")
    assert writer_lock(tmp_path / "other.sqlite") is not writer_lock(db)
    assert writer_lock(":memory:") is not writer_lock(":memory:")  # nothing to share


@pytest.mark.parametrize("writer", ["claims", "cache index"])
def test_a_writer_waits_for_the_files_lock_and_goes_on_once_it_is_free(tmp_path, writer):
    """Claims (SQLAlchemy) and the cache index (sqlite3) both write cache.sqlite: while another thread of this
    process holds the file's lock, a write waits on it (not in SQLite's busy handler), and it goes on the moment
    the lock is given back."""
    store, index = user_claims(tmp_path), CacheIndex(tmp_path / "cache.sqlite")
    write = {
        "claims": lambda: store.claim("k", endpoint="e"),
        "cache index": lambda: index.add({"key": "k", "path": os.devnull, "info": {}}),
    }[writer]
    lock = writer_lock(tmp_path / "cache.sqlite")
    with ThreadPoolExecutor(1) as pool:
        with lock:
            pending = pool.submit(write)
            with pytest.raises(FutureTimeout):  # (not the builtin TimeoutError on Python 3.10)
                pending.result(timeout=0.5)  # still waiting for the lock held here
        pending.result(timeout=30)
    if writer == "claims":
        assert store.claim_state("k") is not None
    else:
        assert len(index) == 1
    index.close()


def test_many_threads_claiming_at_once_each_get_their_answer(tmp_path):
    """A wave's claims from many threads at once (and the cache index writing beside them): every claim is taken
    exactly once, none fails on a locked file, and a second claim of the same key is refused."""
    store, index = user_claims(tmp_path), CacheIndex(tmp_path / "cache.sqlite")

    def one(i: int) -> tuple[bool, bool]:
        first = store.claim(f"k{i}", endpoint="e")
        store.claim_submitted(f"k{i}", f"r{i}")
        index.add({"key": f"k{i}", "path": os.devnull, "info": {}})
        return first, store.claim(f"k{i}", endpoint="e")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(80)))
    assert answers == [(True, False)] * 80
    assert {store.claim_state(f"k{i}")["request_id"] for i in range(80)} == {f"r{i}" for i in range(80)}
    assert len(index) == 80
    index.close()
