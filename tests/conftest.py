"""Shared fixtures: one emulator per test session over real loopback HTTP, and real input images."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time

# Import hypothesis's plugin module now, not in pytest's terminal summary: parsing it that late can meet a
# GC finaliser mid-parse and trip CPython 3.11.7's "AST constructor recursion depth mismatch" bug.
import hypothesis.internal.observability  # noqa: F401
import pytest
from PIL import Image, ImageDraw

from seedance_nb.emulator import serve

# Tests import this module's helpers as `seedance_testconf`, never as `conftest`: pyproject's testpaths also load
# notebooks/conftest.py, and "conftest" in sys.modules is whichever conftest pytest imported last.
sys.modules.setdefault("seedance_testconf", sys.modules[__name__])

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
    "object_ttl_scale": 1.0,
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


# --------------------------------------------------------------------------- PostgreSQL for the catalog tests
# A real server: SEEDANCE_TEST_PG_URL (an admin URL, e.g. postgresql://postgres@127.0.0.1:5433/postgres, which
# .ci/run exports after starting Debian's PostgreSQL), else a throwaway cluster started here from Debian's
# binaries on a free loopback port. With CI=true a missing server fails the tests instead of skipping them.


def _pg_bindir() -> str | None:
    import glob
    import os
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(candidates[-1]) if candidates else None


def _start_throwaway_postgres():
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _pg_bindir()
    if bindir is None:
        return None, None
    base = tempfile.mkdtemp(prefix="seedance-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as Debian's postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            return None, None
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(base, "data")
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "timeout": 120}
    subprocess.run([*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], **run)
    options = f"-h 127.0.0.1 -p {port} -k {base} -F"
    log = os.path.join(base, "log")
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"], **run
    )

    def stop() -> None:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], **run)
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_admin_url():
    """An admin URL of a running PostgreSQL (see the comment above); skipped locally when none can be had."""
    import os

    url = os.environ.get("SEEDANCE_TEST_PG_URL")
    stop = None
    if not url:
        try:
            url, stop = _start_throwaway_postgres()
        except Exception as exc:  # noqa: BLE001 - reported below
            url, reason = None, f"could not start PostgreSQL: {exc}"
        else:
            reason = "no PostgreSQL binaries (apt-get install postgresql) and SEEDANCE_TEST_PG_URL unset"
        if not url:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"CI needs PostgreSQL for the catalog tests: {reason}")
            pytest.skip(reason)
    yield url
    if stop is not None:
        stop()


@pytest.fixture
def postgres_url(postgres_admin_url):
    """A fresh, empty database on the test PostgreSQL server, dropped afterwards."""
    import uuid

    import psycopg

    name = f"seedance_test_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path):
    """The catalog database for a test: an SQLite file, or a fresh PostgreSQL database (both backends)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def fresh_webhook_keys(emulator):
    """Webhook keys fetched by another test (from a key that test configured) are not this emulator's keys now:
    the JWKS cache is emptied around the test, and the emulator's config put back."""
    import dataclasses

    from seedance_nb import webhooks

    before = dataclasses.asdict(emulator.config)
    webhooks._cache.clear()
    yield
    webhooks._cache.clear()
    emulator.configure(**before)
