"""Shared fixtures: one emulator per test session over real loopback HTTP, and real input images."""

from __future__ import annotations

import io
import os
import tempfile
import time

# Import hypothesis's plugin module now, not in pytest's terminal summary: parsing it that late can meet a
# GC finaliser mid-parse and trip CPython 3.11.7's "AST constructor recursion depth mismatch" bug.
import hypothesis.internal.observability  # noqa: F401
import pytest
from PIL import Image, ImageDraw

from seedance_nb.emulator import serve

# A fresh per-user home for the whole run (notebook kernels inherit it): nothing a developer's own runs left
# in their cache can make a test pass. Each test gets its own below.
os.environ["SEEDANCE_HOME"] = tempfile.mkdtemp(prefix="seedance-test-home-")


@pytest.fixture(autouse=True)
def _fresh_home(tmp_path_factory, monkeypatch):
    """Every test starts with an empty per-user cache index."""
    monkeypatch.setenv("SEEDANCE_HOME", str(tmp_path_factory.mktemp("home")))


def make_png(width: int = 800, height: int = 450, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A real PNG with some structure (so motion is visible in the video)."""
    img = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(img)
    for i in range(0, width, 40):
        draw.line([(i, 0), (width - i, height)], fill=(255, 255 - i % 255, 80), width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


#: What every test starts from: fast jobs, no faults (tests change what they need; the fixture restores it).
TEST_CONFIG = {
    "slots": 8,
    "speed": 0.002,
    "queue_latency": 1.0,
    "fixed_generation_time": None,
    "log_interval": 1.0,
    "rate_429": 0.0,
    "rate_ingress": 0.0,
    "rate_drop": 0.0,
    "rate_slow": 0.0,
    "slow_seconds": 2.0,
    "rate_moderation": 0.0,
    "api_key": None,
    "fault_seed": 0,
    "strict_subpath": True,
    "render": "full",
    "defects": [],
}


@pytest.fixture(scope="session")
def emulator():
    """A fast emulator for the whole session; tests that change its config restore it."""
    with serve(**TEST_CONFIG) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The session emulator with default test config and fresh stats."""
    emulator.configure(**TEST_CONFIG)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (emulator.stats()["queued"] or emulator.stats()["running"]):
        time.sleep(0.01)  # let the previous test's cancelled jobs finish
    emulator.reset_stats()
    yield emulator
    emulator.configure(**TEST_CONFIG)


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return make_png()


@pytest.fixture(scope="session")
def png_path(tmp_path_factory, png_bytes):
    path = tmp_path_factory.mktemp("images") / "landscape.png"
    path.write_bytes(png_bytes)
    return path


@pytest.fixture
def client(emu):
    from seedance_nb.client import AsyncClient

    return AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)
