"""The runner's hooks: what plugs into a run (seedance_nb.hooks), the top floor's Sweep plugging in the claims
and the metrics, and metrics kept off the runner's critical path (against the emulator, real MP4s)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import seedance_nb as sd
from seedance_nb.catalogs.runner import RunHooks
from seedance_nb.hooks import HookChain, RunnerHooks
from seedance_nb.quality import MetricsHooks
from seedance_nb.runner import Run, run_sweep
from seedance_nb.runs import Journal
from seedance_nb.sweep import Grid, Sweep


class Recording(RunnerHooks):
    """A real hook that notes every call (and, optionally, holds each download until every job is submitted)."""

    def __init__(self, hold_downloads: bool = False) -> None:
        self.calls: list[str] = []
        self.hold_downloads = hold_downloads
        self.seen_while_held: list[list[bool]] = []

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        self.calls.append("before_run")

    async def submit(self, client: Any, key: str, payload: Any, endpoint: str, **kw: Any) -> Any:
        self.calls.append("submit")
        return await client.submit(payload, endpoint=endpoint, disable_fallbacks=kw["disable_fallbacks"])

    async def completed(self, key: str, output: dict[str, Any]) -> None:
        self.calls.append("completed")

    async def awaiting_video(self, job: Any) -> None:
        self.calls.append("awaiting_video")

    async def after_download(self, run: Any, job: Any, path: Path) -> None:
        self.calls.append("after_download")
        assert Path(path).is_file()
        if self.hold_downloads and job.job == 0:
            # Wait (bounded) until every job of the run has been submitted: only possible when a slow
            # after_download holds no request slot.
            async def all_submitted() -> None:
                while not all(j.request_id for j in run.jobs):
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(all_submitted(), 120)
            self.seen_while_held.append([j.request_id is not None for j in run.jobs])

    async def after_run(self) -> None:
        self.calls.append("after_run")


def _run_class(hooks: RunnerHooks) -> type[Run]:
    class Plugged(Run):
        @classmethod
        def make_hooks(cls, run_dir: Path, catalog: Any = None, **_options: Any) -> Any:
            return catalog if isinstance(catalog, HookChain) else HookChain([hooks])

    return Plugged


def test_the_runner_calls_the_hooks_it_is_given(emu, client, tmp_path, png_path):
    hooks = Recording()
    grid = Grid(image=png_path, prompt=["a", "b"], seed=1, duration=4, resolution="480p")
    run = run_sweep(grid, client=client, run_dir=tmp_path / "r", progress=False, sweep_class=_run_class(hooks))
    assert type(run).__name__ == "Plugged" and run.counts() == {"completed": 2}
    assert hooks.calls[0] == "before_run" and hooks.calls[-1] == "after_run"
    assert hooks.calls.count("before_run") == 1  # checked before the folder existed, not again by run()
    assert hooks.calls.count("submit") == 2 and hooks.calls.count("completed") == 2
    assert hooks.calls.count("after_download") == 2
    # each job announces its video once it is submitted, before any result: the metrics worker starts there
    assert hooks.calls.count("awaiting_video") == 2 and hooks.calls.index("awaiting_video") < hooks.calls.index(
        "completed"
    )
    assert "motion" not in run.df or run.df["motion"].isna().all()  # the core alone measures nothing


def test_a_slow_after_download_never_holds_the_next_submit(emu, client, tmp_path, png_path):
    hooks = Recording(hold_downloads=True)
    grid = Grid(image=png_path, prompt=["a", "b", "c"], seed=1, duration=4, resolution="480p")
    run = run_sweep(
        grid, client=client, run_dir=tmp_path / "r", progress=False, concurrency=1, sweep_class=_run_class(hooks)
    )
    assert hooks.seen_while_held == [[True, True, True]]
    assert run.counts() == {"completed": 3}


class SlowSubmit(RunnerHooks):
    """Every submit after the first takes ``delay`` seconds to send (a claim store or a network that is slow)."""

    def __init__(self, delay: float) -> None:
        self.delay, self.sent = delay, 0

    async def submit(self, client: Any, key: str, payload: Any, endpoint: str, **kw: Any) -> Any:
        self.sent += 1
        if self.sent > 1:
            await asyncio.sleep(self.delay)
        return await client.submit(payload, endpoint=endpoint, disable_fallbacks=kw["disable_fallbacks"])


def test_a_freed_slot_is_refilled_before_the_finished_job_reads_its_result(emu, client, tmp_path, png_path):
    """One slot, two jobs: job 0 finishes, its slot goes to job 1, whose submit is slow. Job 0's result is read
    only once job 1's submit is sent (submits first when a wave of jobs ends together), and nothing is lost."""
    grid = Grid(image=png_path, prompt=["a", "b"], seed=1, duration=4, resolution="480p")
    run = run_sweep(
        grid,
        client=client,
        run_dir=tmp_path / "r",
        progress=False,
        concurrency=1,
        sweep_class=_run_class(SlowSubmit(0.6)),
    )
    assert run.counts() == {"completed": 2}
    at = {(e["job"], e["event"]): e["at"] for e in Journal.read(run.run_dir / "journal.jsonl") if "job" in e}
    assert at[(1, "submitted")] < at[(0, "result")], "job 0 read its result while its freed slot was refilled"
    assert at[(0, "result")] - at[(1, "submitting")] >= 0.5  # it waited for the slow submit, not a fixed time


def test_a_finished_job_waits_at_most_yield_seconds_for_a_refill(monkeypatch):
    """The wait is bounded: a slot handed to a job that never reports its submit delays a result, never holds it."""
    from seedance_nb.runner import _slots

    monkeypatch.setattr(_slots, "YIELD_SECONDS", 0.2)
    asyncio.run(_refill_bound(_slots.RequestSlots))


async def _refill_bound(request_slots: Any) -> None:
    slots = request_slots(1)
    await slots.acquire()
    slots.started()
    waiter = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # handed to the waiting job: finished jobs now yield to it
    loop = asyncio.get_running_loop()
    began = loop.time()
    await slots.refilled()
    assert 0.15 <= loop.time() - began < 1.0  # it never called started(): the bound let the result go
    await waiter
    slots.started()
    began = loop.time()
    await slots.refilled()  # refilled: no wait
    assert loop.time() - began < 0.05


def test_the_user_facing_sweep_plugs_in_claims_and_metrics(tmp_path):
    assert issubclass(sd.Sweep, Run) and sd.Sweep is Sweep
    assert not Run.make_hooks(tmp_path).hooks  # the core's own run names no wing
    kinds = [type(h) for h in Sweep.make_hooks(tmp_path, None, backend="emulator").hooks]
    assert kinds == [RunHooks, MetricsHooks]
    assert [type(h) for h in Sweep.make_hooks(tmp_path, False, metrics=False).hooks] == [RunHooks]
    on_fal = Sweep.make_hooks(tmp_path, False, backend="fal", endpoint=sd.DEFAULT_ENDPOINT, metrics=False)
    assert [type(h).__name__ for h in on_fal.hooks] == ["RunHooks", "DriftCheck"]  # the daily drift check: a hook
    made = Sweep.make_hooks(tmp_path)
    assert Sweep.make_hooks(tmp_path, made) is made  # hooks already made (and reserved) are used as they are


def test_resume_and_load_give_the_user_facing_class(emu, client, tmp_path, png_path):
    grid = Grid(image=png_path, prompt="a", seed=1, duration=4, resolution="480p")
    first = sd.run_sweep(grid, client=client, run_dir=tmp_path / "r", progress=False)
    assert type(first) is Sweep and first.df["motion"].notna().all()  # the metrics hook measured it
    again = Sweep.resume(tmp_path / "r", client=client, progress=False)
    assert type(again) is Sweep and type(sd.load_sweep(tmp_path / "r")) is Sweep
    assert type(again.retry_failed(client=client, progress=False)) is Sweep


def test_metrics_backpressure_waits_for_room_then_journals(emu, client, tmp_path, png_path):
    grid = Grid(image=png_path, prompt=["a", "b"], seed=1, duration=4, resolution="480p")
    sweep = sd.run_sweep(grid, client=client, run_dir=tmp_path / "r", progress=False, metrics=False)
    assert sweep.df["motion"].isna().all()
    hooks = MetricsHooks(workers=1, bound=1)
    first, second = sweep.jobs

    async def feed() -> None:
        await hooks.after_download(sweep, first, sweep.run_dir / first.path)
        assert not first.metrics  # queued, not measured in the caller's step
        await hooks.after_download(sweep, second, sweep.run_dir / second.path)  # waits for room
        assert first.metrics  # room came back only when the first was measured and journalled
        await hooks.after_run()

    asyncio.run(feed())
    sweep.close()
    assert sd.load_sweep(sweep.run_dir).df["motion"].notna().all()
