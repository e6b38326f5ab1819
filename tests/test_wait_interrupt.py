"""``RequestHandle.wait()`` interrupted: a cancelled task, a KeyboardInterrupt and a real Ctrl-C under
``asyncio.run`` each cancel the remote request on the emulator (it stops costing money), and re-raise."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from seedance_nb import errors
from seedance_nb.client import AsyncClient, InProgress
from seedance_nb.schema import VideoInput


def _client(emu) -> AsyncClient:
    return AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)


async def _submit(client: AsyncClient, png_bytes: bytes):
    url = await client.upload(png_bytes, "image/png", "in.png")
    return await client.submit(VideoInput(prompt="a slow orbit", image_url=url, resolution="480p", duration=4))


def _settled_as_cancelled(emu, request_id: str) -> None:
    """The emulator counted one cancel and none completed, and fal's result endpoint says cancelled (asked by a
    fresh client, as another process would)."""
    deadline = time.monotonic() + 15  # a running job completes cancelled just after the PUT is answered
    while time.monotonic() < deadline and (emu.stats()["cancelled"] < 1 or emu.stats()["running"]):
        time.sleep(0.02)
    assert emu.stats()["cancelled"] == 1 and emu.stats()["completed"] == 0
    assert emu.stats()["requests"].get("cancel") == 1

    async def ask() -> None:
        async with _client(emu) as other:
            with pytest.raises(errors.RequestCancelled):
                await other.handle(request_id).result()

    asyncio.run(ask())


@pytest.fixture
def slow(emu):
    """Jobs that take 30 s unless cancelled."""
    emu.configure(speed=1.0, fixed_generation_time=30)
    return emu


def test_cancelling_the_waiting_task_cancels_the_remote_request(slow, png_bytes):
    async def go() -> str:
        async with _client(slow) as client:
            handle = await _submit(client, png_bytes)
            running = asyncio.Event()
            task = asyncio.ensure_future(
                handle.wait(on_update=lambda s: running.set() if isinstance(s, InProgress) else None)
            )
            await asyncio.wait_for(running.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return handle.request_id

    started = time.monotonic()
    request_id = asyncio.run(go())
    assert time.monotonic() - started < 25
    _settled_as_cancelled(slow, request_id)


def test_a_keyboard_interrupt_inside_the_wait_cancels_the_remote_request(slow, png_bytes):
    """Ctrl-C landing in the code wait() runs (here: the on_update callback) is re-raised after the cancel."""
    seen: dict[str, str] = {}

    def on_update(status) -> None:
        if isinstance(status, InProgress):
            raise KeyboardInterrupt

    async def go() -> None:
        async with _client(slow) as client:
            handle = await _submit(client, png_bytes)
            seen["request_id"] = handle.request_id
            await handle.wait(on_update=on_update)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(go())
    _settled_as_cancelled(slow, seen["request_id"])


def test_ctrl_c_under_asyncio_run_cancels_the_remote_request(slow, png_bytes):
    """A script awaiting wait() under asyncio.run: a real SIGINT cancels the main task (asyncio.run's own
    handler), wait() cancels the remote request, and asyncio.run raises KeyboardInterrupt."""
    assert threading.current_thread() is threading.main_thread()
    # Python's own Ctrl-C handler, as a script has it (a runner started in the background may ignore SIGINT):
    # asyncio.run replaces only that one with its task-cancelling handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    state: dict[str, object] = {"inside": False}

    async def go() -> None:
        state["inside"] = True
        try:
            async with _client(slow) as client:
                handle = await _submit(client, png_bytes)
                state["request_id"] = handle.request_id
                await handle.wait()
        finally:
            state["inside"] = False

    def press() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "request_id" in state and slow.stats()["running"] == 1 and state["inside"]:
                os.kill(os.getpid(), signal.SIGINT)  # once: a second Ctrl-C would abandon the cancel
                return
            time.sleep(0.02)

    presser = threading.Thread(target=press, daemon=True)
    presser.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(go())
    finally:
        presser.join(timeout=30)
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 25
    _settled_as_cancelled(slow, str(state["request_id"]))
