"""Issue 15, the client's side: what fal really does (REAL_FAL.md), against the emulator or, where only fal's
own hosts can show it (backup hosts), a transport standing in for them."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest

from seedance_nb import errors
from seedance_nb.client import AsyncClient
from seedance_nb.retry import RetryPolicy
from seedance_nb.runs import Journal
from seedance_nb.schema import PRICE_PER_1K_TOKENS, VideoInput
from seedance_nb.sweep import Grid, Sweep, load_sweep, run_sweep

INPUT = VideoInput(prompt="p", image_url="https://x.test/a.png", duration=4, resolution="480p")


def _client(emu, **kwargs):
    return AsyncClient(
        queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url, **kwargs
    )


def test_an_upload_after_the_cdn_token_expired_fetches_a_new_one(emu, png_bytes):
    emu.configure(cdn_token_ttl=61.5)  # the client refreshes a token within a minute of its expiry
    client = _client(emu)

    async def go():
        async with client:
            first = await client.upload(png_bytes, "image/png", "a.png")
            time.sleep(1.6)  # the token now has less than a minute left: it is refreshed before use
            second = await client.upload(png_bytes, "image/png", "b.png")
            return first, second

    first, second = asyncio.run(go())
    assert first != second and emu.stats()["requests"]["storage_token"] == 2


def test_a_refused_token_is_fetched_again_once_and_then_named(png_bytes):
    tokens = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/storage/auth/token"):
            tokens.append(1)
            return httpx.Response(200, json={"token": f"t{len(tokens)}", "token_type": "Bearer"})
        return httpx.Response(401, json={"detail": "token expired"})

    client = AsyncClient(
        "k:s", transport=httpx.MockTransport(handler), queue_url="https://q.test", rest_url="https://r.test"
    )

    async def go():
        async with client:
            await client.upload(png_bytes, "image/png")

    with pytest.raises(errors.AuthenticationError, match="upload token") as info:
        asyncio.run(go())
    assert len(tokens) == 2 and "FAL_KEY" not in str(info.value)


def test_the_actual_cost_is_journalled_and_shown_beside_the_estimate(client, emu, png_path, tmp_path):
    sweep = run_sweep(
        Grid(image=png_path, prompt="cost", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "c",
        progress=False,
    )
    row = sweep.df.iloc[0]
    assert row["billed_units"] > 0 and row["inference_seconds"] > 0
    assert row["cost_usd"] == pytest.approx(row["billed_units"] * PRICE_PER_1K_TOKENS)
    assert row["cost_usd"] == pytest.approx(row["est_cost_usd"], rel=0.01)  # the emulator bills the formula
    assert load_sweep(sweep.run_dir).df.iloc[0]["cost_usd"] == row["cost_usd"]


def _recording(routes):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        for match, respond in routes:
            if match(request):
                return respond(request)
        return httpx.Response(404, json={"detail": "no route"})

    return seen, handler


def test_sweeps_ask_fal_not_to_reroute_and_submit_takes_data_controls(emu, png_path, tmp_path):
    seen = []

    class Spy(httpx.AsyncBaseTransport):
        """Records every request and sends it on (one real transport per client and loop)."""

        def __init__(self):
            self.real = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request):
            seen.append(request)
            return await self.real.handle_async_request(request)

        async def aclose(self):
            await self.real.aclose()

    client = _client(emu, transport=Spy())
    grid = Grid(image=png_path, prompt="reroute", resolution="480p", duration=4)
    run_sweep(grid, client=client, run_dir=tmp_path / "r", progress=False)
    submit = next(r for r in seen if r.method == "POST" and "/queue/" in str(r.url))
    assert submit.headers["x-fal-disable-fallbacks"] == "true"

    async def go():
        async with _client(emu, transport=Spy()) as c:
            handle = await c.submit(
                INPUT,
                lifecycle={"expiration_duration_seconds": 3600},
                store_io=False,
                no_retry=True,
            )
            await handle.cancel()

    seen.clear()
    asyncio.run(go())
    post = next(r for r in seen if r.method == "POST")
    assert json.loads(post.headers["x-fal-object-lifecycle-preference"]) == {"expiration_duration_seconds": 3600}
    assert post.headers["x-fal-store-io"] == "0" and post.headers["x-fal-no-retry"] == "1"
    assert "x-fal-disable-fallbacks" not in post.headers  # a single submit leaves fal's default alone


def test_a_connect_error_to_fal_tries_its_backup_host():
    hosts = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "queue.fal.run":
            raise httpx.ConnectError("unreachable", request=request)
        assert request.headers["authorization"] == "Key k:s"  # a fal host: the key goes with it
        return httpx.Response(200, json={"request_id": "r1"})

    client = AsyncClient("k:s", transport=httpx.MockTransport(handler))

    async def go():
        async with client:
            return await client.submit(INPUT)

    handle = asyncio.run(go())
    assert hosts == ["queue.fal.run", "queue.falrun.com"] and handle.request_id == "r1"


def test_status_5xx_are_retried_a_bounded_number_of_times():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(500, json={"detail": "hiccup"})
        return httpx.Response(200, json={"status": "IN_PROGRESS"})

    client = AsyncClient(transport=httpx.MockTransport(handler), retry=RetryPolicy(base_delay=0.01))

    async def go():
        async with client:
            return await client.handle("r1").status()

    assert type(asyncio.run(go())).__name__ == "InProgress" and len(calls) == 3

    calls.clear()
    always = AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"detail": "down"})),
        retry=RetryPolicy(max_attempts=4, base_delay=0.01),
    )

    async def down():
        async with always:
            await always.handle("r1").status()

    with pytest.raises(errors.ServerError):
        asyncio.run(down())


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        (200, {"status": "OK"}, True),
        (202, {"status": "CANCELLATION_REQUESTED"}, True),
        (400, {"status": "ALREADY_COMPLETED"}, False),
        (404, {"status": "NOT_FOUND"}, False),
        (200, {"status": "ALREADY_COMPLETED"}, False),  # the body decides, not the code
        (202, None, True),  # legacy: the code alone
        (400, None, False),
    ],
)
def test_cancel_is_decided_by_the_body_status(code, body, expected):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json=body) if body is not None else httpx.Response(code, text="")

    client = AsyncClient(transport=httpx.MockTransport(handler))

    async def go():
        async with client:
            return await client.handle("r1").cancel()

    assert asyncio.run(go()) is expected


def test_resume_uses_the_urls_submit_returned_not_rebuilt_ones(png_path, tmp_path):
    elsewhere = "https://queue.fal.run/elsewhere/r1"

    def first(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            urls = {"status_url": elsewhere + "/status", "response_url": elsewhere, "cancel_url": elsewhere + "/cancel"}
            return httpx.Response(200, json={"request_id": "r1", **urls})
        return httpx.Response(500, json={"detail": "the status host is down"})

    client = AsyncClient(transport=httpx.MockTransport(first), retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    sweep = run_sweep(
        Grid(image=png_path, prompt="urls", resolution="480p", duration=4),
        client=client,
        run_dir=tmp_path / "u",
        progress=False,
        download=False,
    )
    assert sweep.df["status"].tolist() == ["interrupted"]
    submitted = next(e for e in Journal.read(sweep.run_dir / "journal.jsonl") if e["event"] == "submitted")
    assert submitted["urls"]["status_url"] == elsewhere + "/status"

    paths: list[str] = []

    def second(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path.endswith("/stream"):
            return httpx.Response(404, json={"detail": "no stream"})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED"})
        return httpx.Response(200, json={"video": {"url": "https://v3.fal.media/x.mp4"}, "seed": 1})

    resumed = Sweep.resume(sweep.run_dir, client=AsyncClient(transport=httpx.MockTransport(second)), download=False)
    assert resumed.df["status"].tolist() == ["completed"]
    assert paths and all(p.startswith("/elsewhere/r1") for p in paths), paths


def test_a_seed_fal_may_not_honour_is_a_quiet_note_once_per_session_and_checked_after(
    client, emu, png_path, tmp_path, caplog, capsys, monkeypatch
):
    """A seed the user chose is no warning (no stderr box in a notebook): on fal, one note on stdout per session,
    teaching takes=; on the emulator (which honours seeds) only the log's INFO line. seed_honoured stays."""
    from seedance_nb import openapi_schema

    monkeypatch.setattr(openapi_schema, "_seed_noted", set())
    grid = Grid(image=png_path, prompt="seeded", seed=[7, 8], resolution="480p", duration=4)
    with caplog.at_level("INFO", logger="seedance_nb"):
        sweep = run_sweep(grid, client=client, run_dir=tmp_path / "s", progress=False)
    assert [r.levelname for r in caplog.records if "'seed'" in r.getMessage()] == ["INFO"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert capsys.readouterr().out == ""  # the emulator honours seeds: nothing to say
    # The emulator honours seeds: the DataFrame says so, job by job.
    assert sweep.df["seed_honoured"].tolist() == [True, True]

    fal = AsyncClient(
        queue_url=emu.queue_url, rest_url=emu.rest_url, cdn_url=emu.cdn_url, api_url=emu.api_url, backend="fal"
    )
    for n in (1, 2):
        on_fal = Grid(image=png_path, prompt=f"seeded on fal {n}", seed=7, resolution="480p", duration=4)
        run_sweep(on_fal, client=fal, run_dir=tmp_path / f"f{n}", progress=False)
    out = capsys.readouterr()
    assert out.out.count("note: fal's published input schema") == 1, out.out  # once per session
    assert "takes=3" in out.out and "seed_honoured" in out.out and out.err.count("seed") == 0


def test_the_cli_summary_and_the_report_say_what_fal_billed(tmp_path):
    import pandas as pd

    from seedance_nb.markup import cost_text, totals

    df = pd.DataFrame(
        {
            "status": ["completed", "completed", "cached"],
            "est_cost_usd": [0.45, 0.45, 0.45],
            "cost_usd": [0.44, None, None],
            "generation_seconds": [1.0, 1.0, 1.0],
        }
    )
    text = cost_text(totals(df, "fal"))
    assert "$0.44 billed by fal for 1 job + $0.45 estimated for 1 more" in text and "1 cached" in text
    assert cost_text(totals(df, "emulator")).startswith("emulated, nothing billed")
