"""``generate()`` / ``generate_async()`` as a user meets them, on the emulator over loopback HTTP: one playable
video, a cache hit that sends nothing, refused inputs naming the field, a request cancelled elsewhere, and
Ctrl-C (a real SIGINT) or a cancelled task stopping the remote request so it stops costing money."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import av
import pytest

from seedance_nb import errors
from seedance_nb.client import AsyncClient
from seedance_nb.generation import Result, generate, generate_async
from seedance_nb.schema import output_size
from seedance_nb.sweep import load_sweep

INPUTS = {"duration": 4, "resolution": "480p", "seed": 3}


def _client(emu) -> AsyncClient:
    return AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)


def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _journalled(run_dir) -> str | None:
    """The request id generate() journalled in ``run_dir`` (None before it has)."""
    try:  # the emulator may run the job before the client has journalled the request id it answered
        return load_sweep(run_dir).jobs[0].request_id
    except Exception:  # the run folder is not there yet
        return None


def _idle(emu) -> None:
    """The session's emulator has finished every job an earlier test left running (a Ctrl-C test presses only
    once its own request is journalled, and counts the emulator's cancellations and completions)."""
    assert _until(lambda: not emu.stats()["running"], timeout=90)


def _cancelled_on_the_emulator(emu, count: int = 1) -> int:
    """The emulator's cancelled counter, once it has caught up (a running job completes cancelled just after
    the PUT is answered)."""
    _until(lambda: emu.stats()["cancelled"] >= count and not emu.stats()["running"], timeout=15)
    return emu.stats()["cancelled"]


class CtrlC:
    """Press Ctrl-C: a real SIGINT to this process once ``ready()`` holds.

    The handler raises KeyboardInterrupt (as Python's default one and ipykernel's do) only when the main thread
    is where ``where(frame)`` says a user's Ctrl-C would land (waiting), and ignores the signal anywhere else, so
    a test never interrupts pytest itself; the signal is sent again until it lands (bounded)."""

    def __init__(self, ready: Callable[[], bool], where: Callable[[FrameType | None], bool]) -> None:
        self.ready, self.where = ready, where
        self.fired = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._press, daemon=True)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.fired.is_set() and self.where(frame):
            self.fired.set()
            raise KeyboardInterrupt

    def _press(self) -> None:
        deadline = time.monotonic() + 30
        while not self._stop.is_set() and not self.ready():
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        for _ in range(500):
            if self.fired.is_set() or self._stop.is_set():
                return
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.02)

    def __enter__(self) -> CtrlC:
        assert threading.current_thread() is threading.main_thread()
        self._previous = signal.signal(signal.SIGINT, self._handler)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        signal.signal(signal.SIGINT, self._previous)


def _frames(frame: FrameType | None) -> list[str]:
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names


# --------------------------------------------------------------------------- success and the cache


def test_generate_makes_one_playable_video_and_shows_it(emu, png_path, tmp_path):
    result = generate(
        png_path, "the lighthouse beam sweeps the bay", client=_client(emu), run_dir=tmp_path / "g", **INPUTS
    )

    assert isinstance(result, Result) and result.status == "completed"
    assert result.request_id and emu.stats()["submissions"] == 1
    assert result.path is not None and result.path.is_file()
    assert result.path.resolve().is_relative_to((tmp_path / "g").resolve())
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == output_size("480p", "auto", (800, 450))
        seconds = float(container.duration / av.time_base)
    assert 3.5 <= seconds <= 4.5, seconds
    assert result.to_row() == result.row and result.row["prompt"] == "the lighthouse beam sweeps the bay"
    assert repr(result) == f"<Result completed request_id={result.request_id} path={result.path}>"
    html = result._repr_html_()
    assert "<video" in html and "the lighthouse beam sweeps the bay" in html and "emulated, nothing billed" in html
    assert result.row["video_url"] in html or result.path.name in html
    # journalled like a sweep: the run folder alone rebuilds it
    assert load_sweep(tmp_path / "g").jobs[0].status == "completed"


def test_the_same_request_again_is_served_from_the_cache_and_sends_nothing(emu, png_path, tmp_path):
    first = generate(png_path, "waves roll in", client=_client(emu), run_dir=tmp_path / "one", **INPUTS)
    again = generate(png_path, "waves roll in", client=_client(emu), run_dir=tmp_path / "two", **INPUTS)

    assert first.status == "completed" and again.status == "cached"
    assert emu.stats()["submissions"] == 1  # nothing paid twice
    assert again.path is not None and again.path.read_bytes() == first.path.read_bytes()
    assert again.path.resolve().is_relative_to((tmp_path / "two").resolve())
    assert "cached" in repr(again)


def test_generate_async_awaits_in_a_running_loop_and_files_under_the_runs_root(emu, png_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDANCE_RUNS", str(tmp_path / "runs"))

    async def cell() -> Result:
        async with _client(emu) as client:
            return await generate_async(png_path, "a kite climbs", client=client, **INPUTS)

    result = asyncio.run(cell())
    assert result.status == "completed"
    assert result.path is not None and result.path.resolve().is_relative_to(
        (tmp_path / "runs" / "generations").resolve()
    )


# --------------------------------------------------------------------------- refused inputs


def test_an_invalid_input_is_refused_naming_the_field_and_nothing_is_sent(emu, png_path, tmp_path):
    with pytest.raises(errors.InputError) as info:
        generate(png_path, "p", client=_client(emu), run_dir=tmp_path / "bad", duration=99, resolution="480p")
    assert "duration" in info.value.fields and "duration" in str(info.value)
    with pytest.raises(errors.InputError, match="run_sweep") as axes:
        generate(png_path, "p", client=_client(emu), seed=range(3), aspect_ratio=("16:9", "1:1"))
    assert set(axes.value.fields) == {"seed", "aspect_ratio"}
    assert emu.stats()["submissions"] == 0


def test_an_input_the_service_rejects_is_a_failed_result_naming_the_field(emu, png_path, tmp_path):
    result = generate(png_path, "a forbidden dance", client=_client(emu), run_dir=tmp_path / "r", **INPUTS)

    assert result.status == "failed" and result.path is None
    assert "prompt" in result.row["error"] and "content checker" in result.row["error"]
    assert emu.stats()["submissions"] == 1 and emu.stats()["completed"] == 0
    assert "failed" in result._repr_html_()


# --------------------------------------------------------------------------- cancelled


def test_a_request_cancelled_elsewhere_ends_the_wait_as_cancelled(emu, png_path, tmp_path):
    """Someone cancels the request (another process, fal's dashboard) while generate() waits on it."""
    emu.configure(speed=1.0, fixed_generation_time=30)
    run_dir = tmp_path / "c"

    def journalled_request_id() -> str | None:
        try:  # the emulator may run the job before the client has journalled the request id it answered
            return load_sweep(run_dir).jobs[0].request_id
        except Exception:  # the run folder is not there yet
            return None

    def cancel_it_elsewhere() -> None:
        assert _until(lambda: emu.stats()["running"] == 1 and journalled_request_id() is not None)
        request_id = journalled_request_id()

        async def go() -> bool:
            async with _client(emu) as other:
                return await other.handle(request_id).cancel()

        assert asyncio.run(go())

    helper = threading.Thread(target=cancel_it_elsewhere)
    helper.start()
    started = time.monotonic()
    result = generate(png_path, "a slow orbit", client=_client(emu), run_dir=run_dir, **INPUTS)
    helper.join(timeout=30)

    assert time.monotonic() - started < 25  # it did not wait out the 30 s generation
    assert result.status == "cancelled" and result.path is None
    assert emu.stats()["cancelled"] == 1 and emu.stats()["completed"] == 0


def test_cancelling_the_task_of_generate_async_cancels_the_remote_request(emu, png_path, tmp_path):
    emu.configure(speed=1.0, fixed_generation_time=30)
    run_dir = tmp_path / "t"

    async def cell() -> None:
        async with _client(emu) as client:
            task = asyncio.ensure_future(
                generate_async(png_path, "a slow orbit", client=client, run_dir=run_dir, **INPUTS)
            )
            deadline = time.monotonic() + 30
            while emu.stats()["running"] < 1:
                assert time.monotonic() < deadline and not task.done()
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(cell())
    assert _cancelled_on_the_emulator(emu) == 1 and emu.stats()["completed"] == 0
    assert load_sweep(run_dir).jobs[0].status == "cancelled"


def test_ctrl_c_in_a_script_cancels_the_remote_request(emu, png_path, tmp_path):
    """generate() from a script (no running loop): Ctrl-C while it waits stops the remote request."""
    emu.configure(speed=1.0, fixed_generation_time=30)
    run_dir = tmp_path / "s"
    _idle(emu)
    # The loop idles in select() while the job generates: that is where a user's Ctrl-C lands.
    ready = lambda: _journalled(run_dir) is not None and emu.stats()["running"] == 1  # noqa: E731
    ctrl_c = CtrlC(ready=ready, where=lambda f: "select" in _frames(f)[:1])
    started = time.monotonic()
    with ctrl_c, pytest.raises(KeyboardInterrupt):
        generate(png_path, "a slow orbit", client=_client(emu), run_dir=run_dir, **INPUTS)
    assert ctrl_c.fired.is_set() and time.monotonic() - started < 25
    assert _cancelled_on_the_emulator(emu) == 1 and emu.stats()["completed"] == 0
    assert load_sweep(run_dir).jobs[0].status == "cancelled"


def test_ctrl_c_in_a_notebook_cell_cancels_the_remote_request(emu, png_path, tmp_path):
    """generate() inside a running loop (a Jupyter cell) runs in a worker thread; the kernel's interrupt (a
    SIGINT raising KeyboardInterrupt in the cell) cancels it there and the remote request with it."""
    emu.configure(speed=1.0, fixed_generation_time=30)
    run_dir = tmp_path / "n"

    async def cell() -> None:
        generate(png_path, "a slow orbit", client=_client(emu), run_dir=run_dir, **INPUTS)

    _idle(emu)
    ready = lambda: _journalled(run_dir) is not None and emu.stats()["running"] == 1  # noqa: E731
    ctrl_c = CtrlC(ready=ready, where=lambda f: "_run_in_thread" in _frames(f)[:3])
    loop = asyncio.new_event_loop()
    try:
        with ctrl_c, pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(cell())
    finally:
        loop.close()
    assert ctrl_c.fired.is_set()
    assert _cancelled_on_the_emulator(emu) == 1 and emu.stats()["completed"] == 0
    assert load_sweep(run_dir).jobs[0].status == "cancelled"
