"""The journal's group commit (seedance_nb.runner._group_sync): a wave's lines share fsyncs, and no caller returns
before an fsync that started after its own line was written."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_nb.runner._group_sync import GroupSync
from seedance_nb.runs import Journal


class _Watched(Journal):
    """A real journal whose fsyncs are counted, and may be held to widen the window between two."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.syncs: list[tuple[float, float, int]] = []  # (start, end, lines on disk by then)
        self.hold = 0.0
        self.lock = threading.Lock()
        self.fail: OSError | None = None

    def sync(self) -> None:
        started = time.monotonic()
        lines = self.path.read_bytes().count(b"\n")  # what this fsync covers: every line written before it began
        time.sleep(self.hold)
        if self.fail is not None:
            raise self.fail
        super().sync()
        with self.lock:
            self.syncs.append((started, time.monotonic(), lines))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[_Watched]:
    opened = _Watched(tmp_path / "journal.jsonl")
    yield opened
    opened.close()


def test_forty_lines_written_together_share_a_few_fsyncs_and_each_waits_for_one_covering_it(journal: _Watched) -> None:
    journal.hold = 0.02
    group = GroupSync()
    covered: dict[int, int] = {}

    async def job(n: int) -> None:
        await asyncio.sleep(0.001 * (n % 7))
        journal.append({"event": "submitted", "job": n}, durable=False)
        written = journal.path.read_bytes().count(b"\n")
        await group.sync(journal)
        covered[n] = written

    async def go() -> None:
        await asyncio.gather(*(job(n) for n in range(40)))

    asyncio.run(go())
    assert len(covered) == 40
    assert 1 <= len(journal.syncs) <= 6, journal.syncs  # not 40
    for n, written in covered.items():  # each caller's line was on disk when a finished fsync began
        assert any(lines >= written for _, _, lines in journal.syncs), (n, written, journal.syncs)


def test_a_caller_that_writes_while_an_fsync_runs_waits_for_the_next(journal: _Watched) -> None:
    journal.hold = 0.2
    group = GroupSync()

    async def go() -> tuple[float, float]:
        journal.append({"event": "a"}, durable=False)
        first = asyncio.ensure_future(group.sync(journal))
        await asyncio.sleep(0.05)  # the first fsync is running now
        journal.append({"event": "b"}, durable=False)
        await group.sync(journal)
        second_done = time.monotonic()
        await first
        return second_done, journal.syncs[0][1]

    second_done, first_end = asyncio.run(go())
    assert len(journal.syncs) == 2 and journal.syncs[1][2] == 2  # the second fsync covered line "b"
    assert second_done > first_end


def test_a_failed_fsync_is_raised_to_each_caller_it_was_for_and_the_next_runs_again(journal: _Watched) -> None:
    journal.fail = OSError(28, "No space left on device")
    group = GroupSync()

    async def go() -> None:
        journal.append({"event": "a"}, durable=False)
        results = await asyncio.gather(group.sync(journal), group.sync(journal), return_exceptions=True)
        assert all(isinstance(r, OSError) and r.errno == 28 for r in results)
        journal.fail = None
        await group.sync(journal)

    asyncio.run(go())
    assert len(journal.syncs) == 1


def test_a_cancelled_caller_does_not_cancel_the_fsync_the_others_wait_for(journal: _Watched) -> None:
    journal.hold = 0.1
    group = GroupSync()

    async def go() -> None:
        journal.append({"event": "a"}, durable=False)
        quitter = asyncio.ensure_future(group.sync(journal))
        stayer = asyncio.ensure_future(group.sync(journal))
        await asyncio.sleep(0.02)
        quitter.cancel()
        await stayer
        with pytest.raises(asyncio.CancelledError):
            await quitter

    asyncio.run(go())
    assert len(journal.syncs) == 1
