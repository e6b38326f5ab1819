"""Issue 24: faults that would strand a paid job. A status that never completes, a redirect on the result, a full
disk, a compressed download past its promised size, a result echoing the key. Each against the emulator or a small
hostile "fal" served over loopback HTTP (tests/loopback.py); no mocks of our own code.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from loopback import LoopbackApp, tiny_mp4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from seedance_nb.client import AsyncClient
from seedance_nb.errors import InputError
from seedance_nb.runs import Journal
from seedance_nb.sweep import Grid, Sweep, run_sweep

FAKE_KEY = "0123abcd-4567-89ef-aaaa-bbbbccccdddd:feedface0123456789abcdef01234567"
RESULT_PATH = "/queue/bytedance/seedance-2.0/requests/r1"


class HostileFal(LoopbackApp):
    """A 'fal' on loopback: one request ``r1``, COMPLETED at once (no status stream: the client polls), whose result
    and video answers the test chooses. Counts submits and result reads."""

    def __init__(
        self,
        result: Callable[[HostileFal, int], Response] | None = None,
        video: Callable[[HostileFal], Response] | None = None,
    ) -> None:
        self.submits = 0
        self.result_reads = 0
        self.video_reads = 0
        self.mp4 = tiny_mp4()
        self.lock = threading.Lock()
        self._result = result or (lambda fal, n: JSONResponse(fal.output()))
        self._video = video or (lambda fal: Response(fal.mp4, media_type="video/mp4"))

        async def route(request: Request) -> Response:
            path = request.url.path
            if request.method == "POST" and path.startswith("/queue/"):
                await request.body()
                with self.lock:
                    self.submits += 1
                return JSONResponse({"request_id": "r1"})
            if path.endswith("/stream"):
                return JSONResponse({"detail": "no stream here"}, status_code=404)
            if path.endswith("/status"):
                return JSONResponse({"status": "COMPLETED", "request_id": "r1", "logs": None, "metrics": {}})
            if path == RESULT_PATH:
                with self.lock:
                    self.result_reads += 1
                    n = self.result_reads
                return self._result(self, n)
            if path == "/files/v.mp4":
                with self.lock:
                    self.video_reads += 1
                return self._video(self)
            return JSONResponse({"detail": "not found"}, status_code=404)

        app = Starlette(routes=[Route("/{path:path}", route, methods=["GET", "POST", "PUT"])])
        super().__init__(app)

    def output(self, **video: object) -> dict:
        """fal's result body for the tiny MP4 served at /files/v.mp4."""
        file = {"url": self.base_url + "/files/v.mp4", "content_type": "video/mp4", "file_size": len(self.mp4)}
        return {"video": {**file, **video}, "seed": 7}

    def client(self, key: str | None = None) -> AsyncClient:
        base = self.base_url
        return AsyncClient(
            key, queue_url=base + "/queue", rest_url=base + "/rest", cdn_url=base + "/cdn", api_url=base + "/api"
        )


def one_job(png_path) -> Grid:
    return Grid(image=png_path, prompt="p", resolution="480p", duration=4)


# --------------------------------------------------------------------------- a redirect on the result


def test_a_redirect_on_the_result_is_resumable_never_failed_and_never_paid_again(png_path, tmp_path):
    answers = {"redirect": True}

    def result(fal: HostileFal, n: int) -> Response:
        if answers["redirect"]:
            return Response(status_code=302, headers={"location": "http://127.0.0.1:9/elsewhere"})
        return JSONResponse(fal.output())

    with HostileFal(result=result) as fal:
        sweep = run_sweep(one_job(png_path), client=fal.client(), run_dir=tmp_path / "r", progress=False)
        (row,) = sweep.df.to_dict("records")
        assert row["status"] == "interrupted", row
        assert "302" in row["error"] and "resume()" in row["error"]
        assert fal.submits == 1 and fal.result_reads >= 1
        # retry_failed pays for nothing: the request was accepted, its result only answered strangely.
        sweep.retry_failed(client=fal.client(), progress=False)
        assert fal.submits == 1 and sweep.df["status"].tolist() == ["interrupted"]
        # Once the result answers, resume() fetches it by request id: one submit in all, the video on disk.
        answers["redirect"] = False
        done = Sweep.resume(sweep.run_dir, client=fal.client(), progress=False)
        assert done.df["status"].tolist() == ["completed"] and fal.submits == 1
        assert Path(done.df["path"][0]).stat().st_size == len(fal.mp4)


@pytest.mark.parametrize(
    ("answer", "status", "submits"),
    [
        (lambda: Response(status_code=307, headers={"location": "https://elsewhere.test/r"}), "interrupted", 1),
        (lambda: Response("<html>bad gateway</html>", status_code=500, media_type="text/html"), "interrupted", 1),
        (lambda: Response("<html>gone</html>", status_code=410, media_type="text/html"), "interrupted", 1),
        (lambda: Response("<html>a portal</html>", status_code=200, media_type="text/html"), "interrupted", 1),
        # fal's own words on the request: failed (fal bills no failed request; PROTOCOL.md §4.4). A refused input
        # is not sent again; the model's own 500 is, by retry_failed (a new request, as the user asked).
        (lambda: JSONResponse({"detail": [{"loc": ["body", "prompt"], "msg": "bad", "type": "x"}]}, 422), "failed", 1),
        (lambda: JSONResponse({"detail": "Internal Server Error"}, 500), "failed", 2),
    ],
)
def test_only_fals_own_verdict_on_the_result_fails_a_job(png_path, tmp_path, answer, status, submits):
    with HostileFal(result=lambda fal, n: answer()) as fal:
        sweep = run_sweep(one_job(png_path), client=fal.client(), run_dir=tmp_path / "v", progress=False)
        assert sweep.df["status"].tolist() == [status], sweep.df["error"].tolist()
        sweep.retry_failed(client=fal.client(), progress=False)
        assert fal.submits == submits


# --------------------------------------------------------------------------- a compressed download past its size


def test_a_compressed_video_is_stopped_at_the_size_fal_promised_and_stays_resumable(png_path, tmp_path):
    bomb = gzip.compress(bytes(50 * 1024 * 1024), compresslevel=9)  # 50 MiB of zeros in ~50 KB
    serve = {"bomb": True}

    def video(fal: HostileFal) -> Response:
        if serve["bomb"]:
            return Response(bomb, media_type="video/mp4", headers={"content-encoding": "gzip"})
        return Response(fal.mp4, media_type="video/mp4")

    largest = [0]
    stop = threading.Event()

    def watch(folder: Path) -> None:  # the largest partial file seen on disk (a lower bound of what was written)
        while not stop.is_set():
            for part in folder.glob("videos/*.part"):
                with contextlib.suppress(OSError):
                    largest[0] = max(largest[0], part.stat().st_size)
            stop.wait(0.001)

    with HostileFal(video=video) as fal:
        watcher = threading.Thread(target=watch, args=(tmp_path / "z",), daemon=True)
        watcher.start()
        try:
            sweep = run_sweep(one_job(png_path), client=fal.client(), run_dir=tmp_path / "z", progress=False)
        finally:
            stop.set()
            watcher.join(5)
        (row,) = sweep.df.to_dict("records")
        promised = len(fal.mp4)
        assert row["status"] == "interrupted" and f"the {promised} bytes fal promised" in row["error"], row
        assert largest[0] <= promised + 64 * 1024, largest
        assert not list((sweep.run_dir / "videos").iterdir()), "the partial file is removed"
        assert fal.video_reads == 1, "a size past the promise is not fetched again"
        serve["bomb"] = False
        done = Sweep.resume(sweep.run_dir, client=fal.client(), progress=False)
        assert done.df["status"].tolist() == ["completed"] and fal.submits == 1
        assert Path(done.df["path"][0]).stat().st_size == promised


def test_a_gzip_encoded_video_of_the_promised_size_downloads(tmp_path):
    with HostileFal(video=lambda fal: Response(gzip.compress(fal.mp4), headers={"content-encoding": "gzip"})) as fal:

        async def go() -> Path:
            async with fal.client() as client:
                return await client.download(
                    fal.base_url + "/files/v.mp4", tmp_path / "v.mp4", expected_size=len(fal.mp4)
                )

        assert asyncio.run(go()).read_bytes() == fal.mp4


# --------------------------------------------------------------------------- the key echoed back


@pytest.mark.parametrize("given", ["FAL_KEY", "argument"])
def test_a_key_echoed_in_the_result_is_stored_nowhere(png_path, tmp_path, monkeypatch, given):
    key_id, secret = FAKE_KEY.split(":")

    def result(fal: HostileFal, n: int) -> Response:
        output = fal.output(file_name=f"{FAKE_KEY}.mp4")
        output["echo"] = {"key": FAKE_KEY, FAKE_KEY: [f"id={key_id}", f"secret={secret}"]}
        return JSONResponse(output)

    if given == "FAL_KEY":
        monkeypatch.setenv("FAL_KEY", FAKE_KEY)
    with HostileFal(result=result) as fal:
        client = fal.client(FAKE_KEY if given == "argument" else None)
        sweep = run_sweep(one_job(png_path), client=client, run_dir=tmp_path / "k", progress=False)
    assert sweep.df["status"].tolist() == ["completed"], sweep.df["error"].tolist()
    stored = [*sweep.run_dir.rglob("*"), *Path(os.environ["SEEDANCE_HOME"]).rglob("*")]
    files = [path for path in stored if path.is_file()]
    assert any(path.name == "journal.jsonl" for path in files) and any(path.suffix == ".sqlite" for path in files)
    hits = {
        str(path): needle
        for path in files
        for needle in (FAKE_KEY, key_id, secret)
        if needle.encode() in path.read_bytes()
    }
    assert not hits, hits
    result_event = next(e for e in Journal.read(sweep.run_dir / "journal.jsonl") if e["event"] == "result")
    assert result_event["output"]["video"]["file_name"] == "***.mp4"  # the rest of what fal said is kept


# --------------------------------------------------------------------------- the job deadline


def emulator_client(emu) -> AsyncClient:
    return AsyncClient(queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)


def wait_for_completed(emu, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while emu.stats()["completed"] < count:
        assert time.monotonic() < deadline, emu.stats()
        time.sleep(0.05)


def test_a_job_past_its_deadline_is_resumable_and_resume_downloads_it_without_a_second_submit(emu, png_path, tmp_path):
    # 3 s of IN_PROGRESS at the tests' speed: forever, for a deadline of half a second.
    emu.configure(fixed_generation_time=1500)
    client = emulator_client(emu)
    sweep = run_sweep(
        Grid(image=png_path, prompt="a slow one", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "slow",
        progress=False,
        job_timeout=0.5,
    )
    (row,) = sweep.df.to_dict("records")
    assert row["status"] == "interrupted" and row["error_type"] == "job_timeout", row
    assert "0.5 s" in row["error"] and "not cancelled" in row["error"] and "resume()" in row["error"]
    assert row["request_id"] and emu.stats()["submissions"] == 1 and emu.stats()["cancelled"] == 0
    submitted = [e for e in Journal.read(sweep.run_dir / "journal.jsonl") if e["event"] == "submitted"]
    assert [e["request_id"] for e in submitted] == [row["request_id"]], "journalled with its request id"
    wait_for_completed(emu, 1)  # the paid request finishes on fal meanwhile
    done = Sweep.resume(sweep.run_dir, client=client, progress=False)
    (row,) = done.df.to_dict("records")
    assert row["status"] == "completed" and Path(row["path"]).is_file() and row["width"] > 0
    assert emu.stats()["submissions"] == 1 and emu.stats()["cancelled"] == 0


def test_the_job_deadline_comes_from_the_environment_too(emu, png_path, tmp_path, monkeypatch):
    emu.configure(fixed_generation_time=1500)
    monkeypatch.setenv("SEEDANCE_JOB_TIMEOUT", "0.5")
    sweep = run_sweep(
        Grid(image=png_path, prompt="slow from the environment", resolution="480p", duration=4),
        client=emulator_client(emu),
        run_dir=tmp_path / "env",
        progress=False,
    )
    assert sweep.df["status"].tolist() == ["interrupted"] and "SEEDANCE_JOB_TIMEOUT" in sweep.df["error"][0]
    wait_for_completed(emu, 1)


@pytest.mark.parametrize("value", [0, -1, float("nan"), "600", True])
def test_a_bad_job_timeout_is_refused_before_anything_is_created(png_path, tmp_path, value):
    with pytest.raises(InputError, match="job_timeout") as caught:
        run_sweep(
            one_job(png_path),
            client=AsyncClient(queue_url="http://127.0.0.1:9/q"),
            run_dir=tmp_path / "b",
            job_timeout=value,
        )
    assert caught.value.fields == ("job_timeout",) and not (tmp_path / "b").exists()


def test_a_bad_job_timeout_in_the_environment_is_named(png_path, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDANCE_JOB_TIMEOUT", "soon")
    with pytest.raises(InputError, match="SEEDANCE_JOB_TIMEOUT"):
        run_sweep(one_job(png_path), client=AsyncClient(queue_url="http://127.0.0.1:9/q"), run_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


# --------------------------------------------------------------------------- a full disk under the journal


def test_a_full_disk_under_the_journal_returns_the_sweep_and_resume_pays_nothing_twice(emu, png_path, tmp_path, caplog):
    full = os.open("/dev/full", os.O_WRONLY)  # every write to it fails with ENOSPC, from the kernel
    filled: list[int] = []

    def fill_the_disk(sweep: Sweep, job) -> None:
        # The moment the first video is paid for, the journal's disk is full: its file descriptor now writes to
        # /dev/full (videos and the cache index still have room, as on a disk that just filled up).
        if not filled and job.status == "downloading":
            os.dup2(full, sweep._journal._fh.fileno())
            filled.append(job.job)

    grid = Grid(image=png_path, prompt=["a", "b", "c", "d"], resolution="480p", duration=4)
    run_dir = tmp_path / "full"
    try:
        with caplog.at_level("ERROR", logger="seedance_nb"):
            sweep = run_sweep(grid, client=emulator_client(emu), run_dir=run_dir, on_update=fill_the_disk)
    finally:
        os.close(full)
    assert filled and isinstance(sweep, Sweep) and sweep.write_error.errno == errno.ENOSPC
    statuses = sweep.df["status"].tolist()
    assert "interrupted" in statuses and set(statuses) <= {"completed", "interrupted", "planned", "unknown"}, statuses
    assert sweep.jobs[filled[0]].status == "interrupted" and sweep.jobs[filled[0]].error_type == "disk_full"
    assert "No space left on device" in caplog.text and str(run_dir) in caplog.text and "resume" in caplog.text
    stats = emu.stats()
    assert stats["cancelled"] == 0 and stats["submissions"] <= 4
    wait_for_completed(emu, stats["submissions"])
    done = Sweep.resume(run_dir, client=emulator_client(emu), progress=False)
    assert done.df["status"].tolist() == ["completed"] * 4, done.df["error"].tolist()
    assert emu.stats()["submissions"] == 4 and emu.stats()["cancelled"] == 0
