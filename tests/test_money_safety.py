"""Issue 13: never pay twice, never lose a paid result, never leak the key, in the paths users really take.

Two processes on one run folder, the cache across working folders, a full disk in one job, a submit whose
answer is lost (a real loopback proxy), a torn journal, hostile servers naming foreign hosts, fuzzed inputs.
Everything runs against the emulator (or small servers of our own) over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import threading
import time
import zlib
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import tiny_mp4
from seedance_testconf import make_png

from seedance_nb import errors
from seedance_nb.client import AsyncClient, Limits, _Logs
from seedance_nb.files import load_image
from seedance_nb.generation import generate
from seedance_nb.retry import RetryPolicy
from seedance_nb.runs import Journal, RunFolder
from seedance_nb.schema import VideoInput
from seedance_nb.sweep import Grid, Sweep, load_sweep, run_sweep

FAKE_KEY = "sk-FAKE-1234abcd:secret-5678efgh"
ROOT = Path(__file__).resolve().parent.parent


def _client(emu, **kwargs):
    return AsyncClient(
        queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url, **kwargs
    )


# --------------------------------------------------------------------------- one cache per user


def test_generate_then_a_sweep_of_the_same_input_from_another_folder_pays_once(emu, png_path, tmp_path, monkeypatch):
    client = _client(emu)
    monkeypatch.chdir(tmp_path)
    first = generate(png_path, "a slow push-in", client=client, duration=4, resolution="480p", seed=3)
    assert first.status == "completed"
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # another working folder, as a notebook in notebooks/ has
    sweep = run_sweep(
        Grid(image=png_path, prompt="a slow push-in", duration=4, resolution="480p", seed=3),
        client=client,
        progress=False,
    )
    row = sweep.df.iloc[0]
    assert row["status"] == "cached" and emu.stats()["submissions"] == 1
    # Self-contained: the video and poster are files of the new run folder, under this working folder.
    assert Path(row["path"]).is_relative_to(tmp_path / "notebooks" / "sweeps")
    assert Path(row["path"]).read_bytes() == first.path.read_bytes()
    assert Path(row["poster"]).is_relative_to(tmp_path / "notebooks" / "sweeps")


def test_the_cache_index_takes_concurrent_writers(tmp_path):
    from seedance_nb.runs import CacheIndex

    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)

    def writer(n: int) -> None:
        index = CacheIndex(tmp_path / "cache.sqlite")
        for i in range(50):
            index.add({"key": f"{n}-{i}", "path": str(video), "info": {"size_bytes": 10}})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    index = CacheIndex(tmp_path / "cache.sqlite")
    assert len(index) == 200 and index.lookup("3-49")["path"] == str(video)


def test_the_cache_index_keeps_its_connections_but_follows_a_cleared_cache_file(tmp_path):
    """One connection per thread is kept (opening one per call cost about 1 ms a job); a cache file removed
    meanwhile (the user cleared the cache) is created again, never written through a stale connection."""
    from seedance_nb.runs import CacheIndex

    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    path = tmp_path / "cache.sqlite"
    index = CacheIndex(path)
    index.add({"key": "a", "path": str(video), "info": {"size_bytes": 10}})
    index.add({"key": "b", "path": str(video), "info": {"size_bytes": 10}})
    assert len(index._opened) == 1  # noqa: SLF001 (one connection served every call on this thread)
    for stale in tmp_path.glob("cache.sqlite*"):
        stale.unlink()
    index.add({"key": "c", "path": str(video), "info": {"size_bytes": 10}})
    assert path.is_file() and len(index) == 1 and index.lookup("c")["path"] == str(video)
    assert index.lookup("a") is None
    other = CacheIndex(path)  # another process's view of the same file sees the new entry
    assert other.lookup("c") is not None
    index.close()
    other.close()
    assert len(CacheIndex(path)) == 1  # closed, then opened again on use


def test_a_cache_index_opened_while_another_process_writes_it_waits_instead_of_failing(tmp_path):
    """Kernels starting together each open the per-user index; while one holds a write lock on a new file, the
    other's switch to WAL got "database is locked" at once (SQLite does not wait on its busy handler for it),
    which ended a two-process sweep. Now the switch is retried for a bounded time."""
    import sqlite3

    from seedance_nb.runs import CacheIndex

    path = tmp_path / "cache.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE IF NOT EXISTS scratch (a)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        index = CacheIndex(path)
        assert time.monotonic() - started >= 0.4  # it waited for the writer, then opened
        index.add({"key": "k", "path": str(path), "info": {"size_bytes": 1}})
        assert len(index) == 1
    finally:
        release.join()
        other.close()


# --------------------------------------------------------------------------- one job's error ends that job only


def test_a_job_whose_video_cannot_be_written_ends_alone_and_resumes_without_paying(emu, png_path, tmp_path):
    sweep = Sweep.create(
        Grid(image=png_path, prompt=["a", "b", "c", "d"], resolution="480p", duration=4), tmp_path / "d"
    )
    victim = sweep.jobs[1]
    blocker = sweep.run_dir / "videos" / f"{victim.job:03d}-{victim.key[:8]}.mp4.part"
    blocker.mkdir(parents=True)  # the download's destination cannot be written (as with a full disk)

    async def go():
        async with _client(emu) as client:
            await sweep.run(client, progress=False)

    asyncio.run(go())
    statuses = sweep.df["status"].tolist()
    assert statuses == ["completed", "interrupted", "completed", "completed"], statuses
    assert "paid for" in sweep.df["error"][1]
    stats = emu.stats()
    assert stats["cancelled"] == 0 and stats["submissions"] == 4
    blocker.rmdir()
    done = Sweep.resume(sweep.run_dir, client=_client(emu), progress=False)
    assert done.df["status"].tolist() == ["completed"] * 4 and emu.stats()["submissions"] == 4


# --------------------------------------------------------------------------- ambiguous submits


class _DropAfterSubmit(BaseHTTPRequestHandler):
    """A loopback proxy to the emulator that forwards a submit and then drops the connection unanswered,
    as a gateway does when the answer is lost after fal queued the request. Streams are refused (404), so
    the client polls through the proxy."""

    upstream = ""
    dropped = 0

    def log_message(self, *args):  # quiet
        pass

    def _forward(self, method: str) -> httpx.Response:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        with httpx.Client(timeout=30) as http:
            return http.request(method, self.upstream + self.path, content=body, headers=headers)

    def do_POST(self):
        self._forward("POST")
        type(self).dropped += 1
        self.close_connection = True  # queued upstream; the answer never comes back

    def _relay(self, method: str):
        if self.path.split("?")[0].endswith("/stream"):
            self.send_error(404)
            return
        response = self._forward(method)
        self.send_response(response.status_code)
        self.send_header("content-type", response.headers.get("content-type", "application/json"))
        self.send_header("content-length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def do_GET(self):
        self._relay("GET")

    def do_PUT(self):
        self._relay("PUT")


def _serve(handler) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_a_submit_queued_then_cut_off_is_settled_and_downloaded_never_sent_twice(emu, png_path, tmp_path):
    handler = type("Proxy", (_DropAfterSubmit,), {"upstream": emu.base_url, "dropped": 0})
    server, base = _serve(handler)
    try:
        client = AsyncClient(queue_url=base + "/queue", rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url)
        sweep = run_sweep(
            Grid(image=png_path, prompt=["a", "b", "c"], resolution="480p", duration=4),
            client=client,
            run_dir=tmp_path / "p",
            progress=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    df = sweep.df
    assert handler.dropped == 3, "every submit's answer was lost"
    assert emu.stats()["submissions"] == 3, "0 second submissions"
    assert (df["status"] == "completed").all() and all(Path(p).is_file() for p in df["path"])
    events = [e for e in Journal.read(sweep.run_dir / "journal.jsonl") if e["event"] in ("unknown", "submitted")]
    assert [e["event"] for e in events].count("unknown") == 3
    assert all(e.get("settled") for e in events if e["event"] == "submitted")
    # retry_failed has nothing to pay for: nothing failed, nothing is unknown.
    sweep.retry_failed(client=_client(emu), progress=False)
    assert emu.stats()["submissions"] == 3


def test_a_5xx_answer_to_a_submit_is_ambiguous_and_settled_not_resent_blindly(emu, png_path, tmp_path):
    # The emulator's edge 5xx faults come before the queue, so fal's history proves them absent: each is
    # submitted again only after that proof, and each job is paid for exactly once.
    emu.configure(rate_ingress=0.3, fault_seed=7)
    client = _client(emu, retry=RetryPolicy(base_delay=0.01, max_delay=0.05))
    sweep = run_sweep(
        Grid(image=png_path, prompt=["5xx a", "5xx b", "5xx c", "5xx d"], resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "x",
        progress=False,
    )
    stats = emu.stats()
    assert (sweep.df["status"] == "completed").all()
    assert stats["completed"] == 4 and stats["submissions"] == 4, stats
    events = [e["event"] for e in Journal.read(sweep.run_dir / "journal.jsonl")]
    assert "unknown" in events and stats["requests"]["history"] >= events.count("unknown")


# --------------------------------------------------------------------------- the journal


def test_a_torn_tail_then_an_append_keeps_the_append(client, png_path, tmp_path):
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "t",
        progress=False,
    )
    journal = sweep.run_dir / "journal.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"event":"rated","job":0,"rati')  # a crash mid-line
    load_sweep(sweep.run_dir).rate(0, 4, "kept")
    reloaded = load_sweep(sweep.run_dir)
    assert reloaded.df["rating"].tolist() == [4] and reloaded.df["notes"].tolist() == ["kept"]


def test_a_crash_while_creating_a_run_folder_leaves_none(png_path, tmp_path, monkeypatch):
    def crash(self, into):
        (into / "journal.jsonl").write_text('{"event":"sweep"}\n')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Sweep, "_write_header", crash)
    with pytest.raises(OSError, match="No space"):
        Sweep.create(Grid(image=png_path, prompt="p"), tmp_path / "runs" / "c")
    assert not (tmp_path / "runs" / "c").exists() and not list((tmp_path / "runs").iterdir())
    monkeypatch.undo()
    assert Sweep.create(Grid(image=png_path, prompt="p"), tmp_path / "runs" / "c").jobs[0].status == "planned"


# --------------------------------------------------------------------------- the key


def test_a_host_a_server_names_never_receives_the_key(png_path, tmp_path, caplog):
    video = tiny_mp4()
    seen: list[dict] = []

    class Recorder(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append({"path": self.path, "headers": dict(self.headers)})
            self.send_response(200)
            self.send_header("content-type", "video/mp4")
            self.send_header("content-length", str(len(video)))
            self.end_headers()
            self.wfile.write(video)

        do_PUT = do_GET

    recorder, rec = _serve(Recorder)

    class Hostile(BaseHTTPRequestHandler):
        """A 'fal' that names the recorder for the request's URLs and the video."""

        auth: list[str] = []

        def log_message(self, *args):
            pass

        def _json(self, body, code=200):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            Hostile.auth.append(self.headers.get("authorization", ""))
            self._json({"request_id": "r1", "status_url": rec + "/s", "response_url": rec + "/r", "cancel_url": rec})

        def do_GET(self):
            Hostile.auth.append(self.headers.get("authorization", ""))
            if self.path.split("?")[0].endswith("/stream"):
                self._json({"detail": "no"}, 404)
            elif "/status" in self.path:
                self._json({"status": "COMPLETED", "request_id": "r1"})
            else:
                self._json({"video": {"url": rec + "/video.mp4", "content_type": "video/mp4"}, "seed": 1})

    hostile, base = _serve(Hostile)
    try:
        client = AsyncClient(FAKE_KEY, queue_url=base + "/queue", rest_url=base + "/rest", api_url=base + "/api")
        with caplog.at_level("WARNING", logger="seedance_nb"):
            sweep = run_sweep(
                Grid(image=png_path, prompt="p", resolution="480p", duration=4),
                client=client,
                run_dir=tmp_path / "h",
                progress=False,
            )
        assert sweep.df["status"].tolist() == ["completed"], sweep.df["error"].tolist()
        assert seen and [s["path"] for s in seen] == ["/video.mp4"], "only the video was fetched from the recorder"
        blob = json.dumps(seen)
        assert "authorization" not in blob.lower() and "1234abcd" not in blob and "5678efgh" not in blob
        assert Hostile.auth and all(a == f"Key {FAKE_KEY}" for a in Hostile.auth)  # fal's own host: yes
        assert "not one of fal's API hosts" in caplog.text and "1234abcd" not in caplog.text

        async def call_foreign():
            async with client:
                await client.handle("r1").status()  # built URL: fine
                await client.request("GET", rec + "/s")

        with pytest.raises(errors.ProtocolError, match="refusing to send the API key"):
            asyncio.run(call_foreign())
        assert [s["path"] for s in seen] == ["/video.mp4"]
    finally:
        for server in (recorder, hostile):
            server.shutdown()
            server.server_close()


def test_no_repr_or_vars_shows_the_key(emu):
    from seedance_nb.emulator import EmulatorConfig

    client = AsyncClient(FAKE_KEY)
    config = EmulatorConfig()
    config.update(api_key=FAKE_KEY)
    for text in (repr(client), repr(vars(client)), repr(config)):
        assert "1234abcd" not in text and "5678efgh" not in text, text


def test_a_result_failure_echoing_the_key_is_redacted_everywhere(tmp_path, png_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"request_id": "r1"})
        if request.url.path.endswith("/stream"):
            return httpx.Response(404, json={"detail": "no"})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED"})
        echo = f"bad key {FAKE_KEY}"
        return httpx.Response(500, json={"detail": echo, "error_type": f"oops {FAKE_KEY}"})

    client = AsyncClient(FAKE_KEY, transport=httpx.MockTransport(handler), queue_url="https://q.test")
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "r",
        progress=False,
    )
    texts = [sweep.df.to_csv(), (sweep.run_dir / "journal.jsonl").read_text()]
    assert sweep.df["status"].tolist() == ["failed"]
    for text in texts:
        assert "1234abcd" not in text and "5678efgh" not in text


# --------------------------------------------------------------------------- bounds


def test_a_trickling_download_is_a_stall_and_the_job_stays_resumable(emu, png_path, tmp_path):
    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-length", "100000")
            self.end_headers()
            for _ in range(40):  # a byte every 0.1 s: never enough, never silent
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

    server, base = _serve(Trickle)
    try:
        client = _client(emu, limits=Limits(stall_seconds=1.0, min_download_bytes=1000))

        async def go():
            async with client:
                started = time.monotonic()
                with pytest.raises(errors.DownloadError, match="stalled"):
                    await client.download(base + "/v.mp4", tmp_path / "v.mp4")
                return time.monotonic() - started

        assert asyncio.run(go()) < 3.5  # bounded by the stall window, not by the trickle
        assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "v.mp4.part").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_an_endless_status_line_is_refused_without_buffering_it():
    chunk = b"data: " + b"x" * (1 << 16)

    async def endless():
        for _ in range(200):  # 13 MB if it were all read
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):
            return httpx.Response(200, stream=_AsyncBytes(endless()))
        return httpx.Response(200, json={"status": "IN_PROGRESS"})

    client = AsyncClient(
        transport=httpx.MockTransport(handler), queue_url="https://q.test", limits=Limits(max_event_bytes=1 << 20)
    )

    async def go():
        async with client:
            handle = client.handle("r1")
            with pytest.raises(errors.ProtocolError, match="over the 1048576-byte limit"):
                async for _ in handle._stream(True, _Logs()):
                    pass

    asyncio.run(go())


class _AsyncBytes(httpx.AsyncByteStream):
    def __init__(self, gen):
        self.gen = gen

    async def __aiter__(self):
        async for chunk in self.gen:
            yield chunk


# --------------------------------------------------------------------------- bad input is refused locally


def _png_header_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose header claims another size (a decompression bomb without the memory)."""
    png = make_png(300, 300)
    ihdr = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return png[:16] + ihdr + crc + png[33:]


@pytest.mark.parametrize(
    ("image", "field", "words"),
    [
        (_png_header_claiming(20000, 20000), "image", "far too large"),
        (np.zeros((0, 0, 3), np.uint8), "image", "not an image"),
        ("x" * 5000, "image", "not a usable file path"),
        ("data:image/png;base64," + base64.b64encode(make_png(200, 200)).decode(), "image", "at least 300"),
        ("data:image/png;base64,@@@", "image", "not valid base64"),
        ("\ud800.png", "image", "not a file path"),
    ],
)
def test_bad_images_are_refused_naming_the_field_the_user_wrote(emu, image, field, words):
    with pytest.raises(errors.InputError) as info:
        Grid(image=image, prompt="p")
    assert info.value.fields == (field,) and words in str(info.value)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "\ud800"}, "prompt"),
        ({"prompt": "word " * 1001}, "prompt"),
        ({"bitrate_mode": {1, 2}}, "bitrate_mode"),
        ({"bitrate_mode": float("nan")}, "bitrate_mode"),
        ({"duration": Decimal("sNaN")}, "duration"),
        ({"duration": float("inf")}, "duration"),
        ({"end_user_id": "a\ud800"}, "end_user_id"),
    ],
)
def test_bad_fields_are_refused_before_anything_is_sent(fields, field):
    known = {k: v for k, v in fields.items() if k != "bitrate_mode"}
    extra = {k: v for k, v in fields.items() if k == "bitrate_mode"}
    with pytest.raises(errors.InputError) as info:
        VideoInput(**{"prompt": "p", "image_url": "https://x.test/a.png", **known}, extra=extra)
    assert field in info.value.fields and str(info.value).endswith(".")


def test_generate_refuses_several_values_and_points_to_run_sweep(png_path):
    with pytest.raises(errors.InputError, match="run_sweep") as info:
        generate(png_path, ["a", "b"], duration=[4, 8])
    assert set(info.value.fields) == {"prompt", "duration"}


def test_takes_of_a_fixed_seed_are_refused_unless_asked_for(png_path):
    with pytest.raises(errors.InputError, match="same_seed_ok") as info:
        Grid(image=png_path, prompt="p", seed=5, takes=2)
    assert info.value.fields == ("takes",)
    assert len(Grid(image=png_path, prompt="p", seed=5, takes=2, same_seed_ok=True)) == 2
    assert len(Grid(image=png_path, prompt="p", takes=2)) == 2  # random seed per take


def test_more_takes_of_a_fixed_seed_are_refused_unless_asked_for(client, png_path, tmp_path):
    sweep = run_sweep(
        Grid(image=png_path, prompt="p", seed=5, resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "t",
        progress=False,
    )
    with pytest.raises(errors.InputError, match="same_seed_ok"):
        sweep.add_takes(0)
    assert [j.take for j in sweep.add_takes(0, same_seed_ok=True)] == [2]


def test_rejected_input_reads_as_a_sentence():
    problems = [errors.Problem("image_url", "image too small", None, None, "image_too_small")]
    exc = errors.RejectedInput("request r1: fal rejected the input: image_url: image too small", problems=problems)
    assert str(exc) == "request r1: fal rejected the input: image_url: image too small"
    assert exc.fields == ("image_url",)


def test_include_cancelled_runs_every_cancelled_job_again(emu, png_path, tmp_path):
    emu.configure(speed=0.05)
    sweep = Sweep.create(Grid(image=png_path, prompt=["a", "b", "c"], resolution="480p", duration=4), tmp_path / "c")

    async def cancel_midway():
        async with _client(emu) as client:
            task = asyncio.ensure_future(sweep.run(client, progress=False, concurrency=1))
            while sweep.jobs[0].request_id is None:  # submitted, its id journalled
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(cancel_midway())
    assert set(sweep.df["status"]) == {"cancelled"}
    sent_before = emu.stats()["submissions"]
    emu.configure(speed=0.002)
    assert Sweep.resume(sweep.run_dir, client=_client(emu), progress=False).df["status"].tolist() == ["cancelled"] * 3
    done = Sweep.resume(sweep.run_dir, client=_client(emu), progress=False, include_cancelled=True)
    assert done.df["status"].tolist() == ["completed"] * 3
    assert emu.stats()["submissions"] == sent_before + 3


# --------------------------------------------------------------------------- fuzzing

_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sets(st.integers(), max_size=3),
    st.binary(max_size=20),
    st.sampled_from(["480p", "720p", "4", "auto", "16:9", "9:16"]),
)
_FIELDS = ["prompt", "resolution", "duration", "aspect_ratio", "generate_audio", "seed", "end_user_id", "bitrate_mode"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(_FIELDS), _ODD, max_size=6))
def test_fuzzed_video_inputs_are_valid_json_or_an_input_error(values):
    extra = {"bitrate_mode": values.pop("bitrate_mode")} if "bitrate_mode" in values else {}
    try:
        inp = VideoInput(**{"prompt": "p", "image_url": "https://x.test/a.png", **values}, extra=extra)
    except errors.InputError as exc:
        assert exc.problems and str(exc)
        return
    json.dumps(inp.to_payload(), allow_nan=False).encode("utf-8")


_IMAGES = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    st.builds(lambda h, w: np.zeros((h, w, 3), np.uint8), st.integers(0, 320), st.integers(0, 320)),
    st.builds(lambda b: "data:image/png;base64," + base64.b64encode(b).decode(), st.binary(max_size=64)),
    st.just(make_png(320, 320)),
    st.integers(),
    st.floats(allow_nan=True),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    image=_IMAGES,
    values=st.dictionaries(st.sampled_from(_FIELDS), st.one_of(_ODD, st.lists(_ODD, max_size=3)), max_size=4),
)
def test_fuzzed_grids_and_images_only_ever_raise_input_errors(image, values):
    try:
        grid = Grid(image=image, **{"prompt": "p", **values})
    except errors.InputError as exc:
        assert exc.problems and str(exc)
        return
    for inp in grid.inputs():
        json.dumps(inp.to_payload(), allow_nan=False).encode("utf-8")
    try:
        load_image(image)
    except errors.InputError:
        pass


def test_run_folder_default_is_under_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEEDANCE_RUNS", raising=False)
    assert RunFolder.new("x").path == Path("sweeps") / "x"
    assert RunFolder.new(kind="generation").path.parent == Path("sweeps") / "generations"
    monkeypatch.setenv("SEEDANCE_RUNS", str(tmp_path / "elsewhere"))
    assert RunFolder.new("x").path == tmp_path / "elsewhere" / "x"
