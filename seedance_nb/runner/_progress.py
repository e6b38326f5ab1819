"""The run's progress bar (tqdm, when installed): one tick per finished video, failures in the postfix."""

from __future__ import annotations

from typing import Any

from ..runs import Job, JobStatus


def _progress(sweep: Any) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=len(sweep.jobs), desc=sweep.name, unit="video", initial=sum(j.done for j in sweep.jobs))

    def update(_sweep: Any, _job: Job) -> None:
        done = sum(j.done for j in _sweep.jobs)
        if done != bar.n:
            failed = sum(j.status == JobStatus.FAILED for j in _sweep.jobs)
            if failed:
                bar.set_postfix_str(f"failed={failed}", refresh=False)
            bar.update(done - bar.n)

    sweep.add_listener(update)
    original = bar.close

    def close() -> None:
        sweep.remove_listener(update)
        original()

    bar.close = close  # type: ignore[method-assign]  # tqdm has no close hook: wrap this bar's own method
    return bar
