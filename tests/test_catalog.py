"""The catalog across run folders, on SQLite and on a real PostgreSQL (the same tests, parametrized):
search by prompt words, rebuild from the journals, spend, caps across processes, the team cache
(one submission per request across processes and catalogs), and recovery from fal's request history."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import seedance_nb as sd
from seedance_nb.catalogs import COLUMNS, Catalog, parse_budget_env
from seedance_nb.errors import BudgetExceeded, ConfigurationError, InputError

PROMPTS = ["a slow orbit around the lighthouse", "a whip pan across the orbiting planets", "the camera pushes in"]


def _run(root: Path, name: str, png_path: Path, client, prompts=PROMPTS, seeds=(1,), **kw):
    grid = sd.Grid(image=png_path, prompt=list(prompts), seed=list(seeds), resolution="480p", duration=4, **kw)
    return sd.run_sweep(grid, client=client, run_dir=root / name, progress=False)


@pytest.fixture
def tiny(emu):
    emu.configure(render="tiny")
    return emu


def _as_fal(run_dir: Path) -> None:
    """Make a run's journal say what a run on fal writes (``backend: fal``): the emulator plays fal here,
    and emulated jobs are never counted as money."""
    journal = run_dir / "journal.jsonl"
    lines = journal.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["event"] == "sweep" and header["backend"] == "emulator"
    journal.write_text("\n".join([json.dumps({**header, "backend": "fal"}), *lines[1:]]) + "\n", encoding="utf-8")


@pytest.fixture
def two_runs(tmp_path, png_path, tiny, client):
    """Two runs whose journals say fal (they are money)."""
    root = tmp_path / "sweeps"
    a = _run(root, "alpha", png_path, client)
    b = _run(root, "beta", png_path, client, prompts=["a drone orbit over the harbour"], seeds=(7, 8))
    _as_fal(root / "alpha")
    _as_fal(root / "beta")
    a.rate(0, 5, note="keeper")
    a.rate(1, "down")
    b.rate(1, 4)
    return root, a, b


def test_catalog_holds_every_job_of_every_run(catalog_url, two_runs):
    root, a, b = two_runs
    with Catalog(catalog_url, root=root) as cat:
        df = cat.frame()
    assert list(df.columns) == COLUMNS
    assert len(df) == len(a.jobs) + len(b.jobs) == 5
    assert set(df["run_name"]) == {"alpha", "beta"}
    assert (df["status"] == "completed").all()
    row = df[(df.run_name == "alpha") & (df.job == 0)].iloc[0]
    assert row.prompt == PROMPTS[0] and row.rating == 5 and row.notes == "keeper"
    assert row.request_id == a.jobs[0].request_id
    assert row.path == str((root / "alpha" / a.jobs[0].path).resolve()) and Path(row.path).is_file()
    assert row.resolution == "480p" and row.duration == "4"
    assert row.est_cost_usd == pytest.approx(a.jobs[0].est_cost_usd) and row.billed
    assert row.completed_at.tzinfo is not None and row.queue_seconds >= 0
    # The same timings and outcome as the sweep's own DataFrame.
    sweep_row = a.df.iloc[0]
    assert abs(row.completed_at - sweep_row.completed_at) < pd.Timedelta(microseconds=2)
    for name in ("video_url", "width", "height", "file_size", "video_seconds", "cache_key"):
        assert row[name] == sweep_row[name], name
    # A catalog row opens its video.
    html = sd.show(row, return_html=True)
    assert "<video" in html and (row.video_url in html or Path(row.path).name in html)
    # Captioned like the sweep's own row: the request's settings, not the catalog's record columns.
    for record_column in ("run_dir", "host", "planned_at", "run_name"):
        assert f'sd-k">{record_column}<' not in html, record_column
    assert json.loads(row.metrics)  # the per-take metrics journalled with the download


def test_search_finds_generations_by_prompt_words(catalog_url, two_runs):
    root, a, b = two_runs
    with Catalog(catalog_url, root=root) as cat:
        hits = cat.search("orbit")
        # whole words and word prefixes ("orbit" finds "orbiting"), any case, every word must match
        assert sorted(hits.prompt) == sorted(
            [PROMPTS[0], PROMPTS[1], "a drone orbit over the harbour", "a drone orbit over the harbour"]
        )
        assert list(cat.search("ORBIT lighthouse").prompt) == [PROMPTS[0]]
        assert cat.search("lighthouse whip").empty
        assert list(cat.search("orbit", rating_min=4).rating) == [4, 5] or sorted(
            cat.search("orbit", rating_min=4).rating
        ) == [4, 5]
        assert sorted(cat.search("orbit", rating_min=4, run_name="alpha").job) == [0]
        assert len(cat.search("orbit", since="2020-01-01")) == 4
        assert cat.search("orbit", since=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).empty
        assert len(cat.search(seed=[7, 8])) == 2
        assert len(cat.search("push", status="completed")) == 1
        assert cat.search("zeppelin").empty


def test_catalog_is_kept_current_as_journals_are_written(catalog_url, two_runs, png_path, client):
    root, a, b = two_runs
    with Catalog(catalog_url, root=root) as cat:
        assert cat.search("pushes", rating_min=3).empty
        a.rate(2, 3)  # a journal line: the next query sees it
        assert list(cat.search("pushes", rating_min=3).job) == [2]
        _run(root, "gamma", png_path, client, prompts=["a zeppelin drifts"])
        assert list(cat.search("zeppelin").run_name) == ["gamma"]
        import shutil

        shutil.rmtree(root / "gamma")  # a run folder deleted: its jobs leave the catalog
        assert cat.search("zeppelin").empty


def test_a_deleted_catalog_is_rebuilt_from_the_journals_identically(catalog_url, two_runs, tmp_path):
    root, a, b = two_runs
    with Catalog(catalog_url, root=root) as cat:
        before = cat.frame()
        cat.set_budget(50)  # not from the journals: a setting kept in the catalog
    if catalog_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(catalog_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        fresh_url = catalog_url
    else:
        import psycopg

        with psycopg.connect(catalog_url, autocommit=True) as conn:
            for table in ("jobs", "runs", "claims", "budgets", "reservations", "locks", "meta"):
                conn.execute(f"DROP TABLE catalog_{table} CASCADE")
        fresh_url = catalog_url
    with Catalog(fresh_url, root=root) as cat:
        assert cat.frame(refresh=False).empty
        after = cat.frame()
        pd.testing.assert_frame_equal(before, after)
        cat.rebuild()
        pd.testing.assert_frame_equal(before, cat.frame())


def _append(run_dir: Path, *events: dict) -> None:
    with (run_dir / "journal.jsonl").open("a", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event) + "\n")


def test_spend_uses_fals_cost_where_known_else_estimates_and_counts_a_request_once(catalog_url, two_runs):
    root, a, b = two_runs
    # fal said what job 0 of alpha cost; a copy of beta's job 0 (same request id) sits in another run.
    _append(root / "alpha", {"event": "cost", "at": time.time(), "job": 0, "cost_usd": 0.25})
    with Catalog(catalog_url, root=root) as cat:
        est = {(r.run_name, r.job): r.est_cost_usd for r in cat.frame().itertuples()}
        by_sweep = cat.spend("sweep").set_index("sweep")
        assert by_sweep.loc["alpha", "actual_usd"] == pytest.approx(0.25)
        assert by_sweep.loc["alpha", "estimated_usd"] == round(est["alpha", 1] + est["alpha", 2], 2)  # cents
        assert by_sweep.loc["alpha", "basis"] == "mixed: 1 actual, 2 estimated"
        assert by_sweep.loc["beta", "basis"] == "estimate" and by_sweep.loc["beta", "videos"] == 2
        day = cat.spend("day")
        assert len(day) == 1 and day.total_usd.iloc[0] == pytest.approx(by_sweep.total_usd.sum())
        assert list(cat.spend("month").month) == [pd.Timestamp.now(tz="UTC").strftime("%Y-%m")]
        assert cat.spend("user").videos.sum() == 5
        with pytest.raises(InputError) as err:
            cat.spend("week")
        assert err.value.fields == ("by",)


def test_cached_jobs_cost_nothing_and_cache_hits_are_found_by_key(catalog_url, two_runs, png_path, client, tmp_path):
    root, a, b = two_runs
    again = _run(root, "alpha-again", png_path, client)
    assert {j.status for j in again.jobs} == {"cached"}
    with Catalog(catalog_url, root=root) as cat:
        assert cat.spend("sweep").set_index("sweep").index.tolist() == ["alpha", "beta"]
        hit = cat.lookup(a.jobs[1].key)
        assert hit["local"] and Path(hit["path"]).is_file() and hit["request_id"] == a.jobs[1].request_id
        assert cat.lookup("0" * 64) is None
    # A colleague's catalog (another sweeps root, same database) is served the same video.
    with Catalog(catalog_url, root=tmp_path / "colleague") as other:
        assert other.lookup(a.jobs[1].key)["video_url"] == a.jobs[1].video_url


def test_the_cap_refuses_with_the_numbers(catalog_url, two_runs, monkeypatch):
    root, a, b = two_runs
    with Catalog(catalog_url, root=root) as cat:
        spent = cat.spend("day").total_usd.sum()
        cat.set_budget(spent + 1.0, per="day")
        first = cat.check_cap(0.6, label="one")
        with pytest.raises(BudgetExceeded) as err:
            cat.check_cap(0.6, label="two")
        message = str(err.value)
        assert "$0.60" in message and f"${spent + 1.0:.2f}" in message and "reserved" in message
        assert err.value.budget_usd == pytest.approx(spent + 1.0)
        cat.release_reservation(first)
        assert cat.check_cap(0.6) is not None
        monkeypatch.setenv("SEEDANCE_BUDGET_USD", "0.5/month")
        with pytest.raises(BudgetExceeded, match="month budget of \\$0.50"):
            cat.check_cap(0.01)
        monkeypatch.delenv("SEEDANCE_BUDGET_USD")
        cat.set_budget(None, per="day")
        assert cat.check_cap(1000.0) is None  # no cap, nothing to reserve
        with pytest.raises(InputError) as bad:
            cat.set_budget(-3)
        assert bad.value.fields == ("usd",)


def test_budget_environment_variable_is_parsed_or_refused_clearly():
    assert parse_budget_env("20") == {"day": 20.0}
    assert parse_budget_env("20/day, 300/month") == {"day": 20.0, "month": 300.0}
    with pytest.raises(ConfigurationError, match="SEEDANCE_BUDGET_USD"):
        parse_budget_env("twenty")
    with pytest.raises(ConfigurationError, match="SEEDANCE_BUDGET_USD"):
        parse_budget_env("20/week")


def _python(script: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def _outputs(procs: list[subprocess.Popen], timeout: float = 120) -> list[str]:
    outs, deadline = [], time.monotonic() + timeout
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert proc.returncode == 0, err[-3000:]
            outs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return outs


def test_the_cap_holds_across_processes(catalog_url, tmp_path):
    root = tmp_path / "sweeps"
    with Catalog(catalog_url, root=root) as cat:
        cat.set_budget(1.0, per="day")
    start = time.time() + 1.5
    script = f"""
        import time
        from seedance_nb.catalogs import Catalog
        from seedance_nb.errors import BudgetExceeded
        with Catalog({catalog_url!r}, root={str(root)!r}) as cat:
            time.sleep(max(0.0, {start!r} - time.time()))
            try:
                cat.check_cap(0.6, label="sweep")
                print("started")
            except BudgetExceeded as exc:
                print("refused", exc)
    """
    outs = _outputs([_python(script) for _ in range(3)])
    assert sorted(o.split()[0] for o in outs) == ["refused", "refused", "started"], outs


def test_two_processes_running_the_same_requests_submit_each_once(catalog_url, tmp_path, png_path, tiny):
    """Two processes (each with its own Catalog object on one database, as two machines would) run the
    same four requests at the same moment: the emulator sees four submissions, and both get every video."""
    tiny.configure(queue_latency=0.3)
    start = time.time() + 2.0
    script = f"""
        import asyncio, json, sys, time
        import seedance_nb as sd
        from seedance_nb.catalogs import Catalog
        from seedance_nb.client import AsyncClient

        async def main(root):
            grid = sd.Grid(image={str(png_path)!r}, prompt=["orbit", "pan"], seed=[1, 2], resolution="480p", duration=4)
            client = AsyncClient(queue_url={tiny.queue_url!r}, rest_url={tiny.rest_url!r}, cdn_url={tiny.cdn_url!r})
            with Catalog({catalog_url!r}, root=root) as cat:
                await asyncio.sleep(max(0.0, {start!r} - time.time()))
                async def one(job):
                    hit = await asyncio.to_thread(cat.lookup, job.key)  # done already: served, as the runner does
                    if hit is not None:
                        return hit["request_id"], False, hit["video_url"]
                    handle, mine = await cat.submit_once(client, job.key, job.input, endpoint=grid.endpoint)
                    output = await handle.wait(timeout=60)
                    if mine:
                        await asyncio.to_thread(cat.claim_completed, job.key, output.to_json())
                    return handle.request_id, mine, output.video.url
                results = await asyncio.gather(*(one(job) for job in grid.jobs()))
            await client.aclose()
            print(json.dumps(results))

        asyncio.run(main(sys.argv[1]))
    """
    procs = [_python(script.replace("sys.argv[1]", repr(str(tmp_path / f"machine{i}")))) for i in range(2)]
    first, second = (json.loads(o) for o in _outputs(procs))
    assert tiny.stats()["submissions"] == 4
    assert [r[0] for r in first] == [r[0] for r in second]  # the same request ids
    assert [r[2] for r in first] == [r[2] for r in second]  # the same videos
    assert sum(r[1] for r in first + second) == 4  # each request submitted by exactly one of them


def test_claims_are_insert_once_and_released_claims_can_be_taken(catalog_url, tmp_path):
    with Catalog(catalog_url, root=tmp_path) as one, Catalog(catalog_url, root=tmp_path / "b") as two:
        one.owner, two.owner = "one", "two"
        assert one.claim("k" * 64) is True
        assert two.claim("k" * 64) is False
        one.release("k" * 64)
        assert two.claim("k" * 64) is True
        two.claim_submitted("k" * 64, "req-1")
        assert one.claim("k" * 64) is False and one.claim_state("k" * 64)["request_id"] == "req-1"
        assert "req-1" in one.known_request_ids()
        one.release("k" * 64, force=True)  # the request failed: anyone may submit it again
        assert one.claim("k" * 64) is True
        one._update_claim("k" * 64, state="unknown")  # a submit that may have reached fal
        two.release("k" * 64, force=True)
        assert two.claim("k" * 64) is False and two.claim_state("k" * 64)["state"] == "unknown"
        # A claim never followed by a request id (its process died mid-submit) is taken over once stale.
        assert one.claim("s" * 64) is True and two.claim("s" * 64) is False
        import sqlalchemy as sa

        from seedance_nb.catalogs import _store

        with one.engine.begin() as conn:
            conn.execute(
                sa.update(_store.claims).values(updated_at=time.time() - 3600).where(_store.claims.c.key == "s" * 64)
            )
        assert two.claim("s" * 64) is True and two.claim_state("s" * 64)["owner"] == "two"


def test_bad_search_input_names_the_field(catalog_url, tmp_path):
    with Catalog(catalog_url, root=tmp_path) as cat:
        for call, field in [
            (lambda: cat.search(rating_min="four"), "rating_min"),
            (lambda: cat.search(since="last tuesday"), "since"),
            (lambda: cat.search(colour="red"), "colour"),
            (lambda: cat.search(42), "text"),
        ]:
            with pytest.raises(InputError) as err:
                call()
            assert err.value.fields == (field,)


def test_a_newer_schema_is_refused_and_reopening_is_idempotent(catalog_url, tmp_path):
    import sqlalchemy as sa

    from seedance_nb.catalogs import _store

    Catalog(catalog_url, root=tmp_path).close()
    with Catalog(catalog_url, root=tmp_path) as cat:  # a second open migrates nothing
        with cat.engine.begin() as conn:
            assert _store.schema_version(conn) == _store.SCHEMA_VERSION
            conn.execute(sa.update(_store.meta).values(value=str(_store.SCHEMA_VERSION + 1)))
    with pytest.raises(ConfigurationError, match="newer"):
        Catalog(catalog_url, root=tmp_path)


def test_a_new_catalog_column_comes_with_a_schema_version():
    """The catalog takes its columns from runs.COLUMNS: a column added there adds one to catalog_jobs, which a
    catalog made earlier only gets by a migration step (else its reads fail), unless it is sweep-only."""
    from seedance_nb.catalogs import _store

    table = {
        1: """aspect_ratio at backend billed cache_key completed_at cost_usd duration end_image end_user_id endpoint
        error error_type est_cost_usd extra file_size fps generate_audio generation_seconds has_audio height host id
        image job metrics notes output_seed path planned_at poster prompt queue_seconds rating request_id resolution
        run_dir run_id run_name seed started_at status submitted_at take user video_seconds video_url votes width""",
    }
    assert sorted(_store.jobs.c.keys()) == sorted(table[_store.SCHEMA_VERSION].split())
    assert set(COLUMNS) == set(_store.jobs.c.keys()) - {"id"}


def test_recover_downloads_paid_requests_that_no_journal_holds(tmp_path, png_path, tiny):
    """A script submits requests and dies without a journal; recover() finds them in fal's request
    history and downloads them into a `recovered` run folder that load_sweep opens like any sweep."""
    import asyncio

    from seedance_nb.catalogs._recover import recover
    from seedance_nb.client import AsyncClient
    from seedance_nb.media import probe

    urls = {"queue_url": tiny.queue_url, "rest_url": tiny.rest_url, "cdn_url": tiny.cdn_url, "api_url": tiny.api_url}
    root = tmp_path / "sweeps"
    since = time.time() - 0.01  # the session emulator's history also holds earlier tests' requests
    journalled = _run(root, "kept", png_path, AsyncClient(**urls), prompts=["a journalled crane shot"])
    script = f"""
        import asyncio
        from seedance_nb.client import AsyncClient
        from seedance_nb.files import load_image
        from seedance_nb.schema import VideoInput

        async def main():
            client = AsyncClient(**{urls!r})
            image = load_image({str(png_path)!r}).data_uri()
            ok = [await client.submit(VideoInput(prompt=p, image_url=image, resolution="480p", duration=4))
                  for p in ("a lost dolly zoom at dusk", "a lost orbit of the statue")]
            bad = await client.submit(VideoInput(prompt="forbidden", image_url=image, resolution="480p", duration=4))
            for handle in ok:
                await handle.wait(timeout=60)
            print(" ".join(h.request_id for h in ok))
            await client.aclose()

        asyncio.run(main())
    """
    (out,) = _outputs([_python(script)])
    lost = out.split()
    with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}", root=root) as cat:
        found = recover(since=since, client=AsyncClient(**urls), catalog=cat)
        assert sorted(found.recovered) == sorted(lost) and not found.failed
        listed = found.requests.set_index("request_id")
        assert listed.loc[journalled.jobs[0].request_id, "in_journal"]
        assert len(listed) == 4 and listed.recovered.sum() == 2  # the refused one is listed, not recovered
        sweep = sd.load_sweep(found.run_dir)
        assert found.run_dir.name == "recovered"
        assert sorted(j.request_id for j in sweep.jobs) == sorted(lost)
        assert {j.status for j in sweep.jobs} == {"completed"}
        for job in sweep.jobs:
            assert probe(found.run_dir / job.path).frames > 0
            assert job.input.resolution == "480p" and job.input.prompt.startswith("a lost")
        assert list(cat.search("statue").request_id) == [lost[1]]
        # Nothing is recovered twice; a second run only lists.
        again = recover(since=since, client=AsyncClient(**urls), catalog=cat)
        assert again.recovered == [] and again.requests.in_journal.sum() == 3
    assert asyncio  # imported for the script's sake only


def test_cli_searches_reports_spend_sets_budgets_and_rebuilds(two_runs, tmp_path, capsys):
    from seedance_nb.cli import main

    root, a, b = two_runs
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    base = ["catalog", "--root", str(root), "--url", url]
    assert main([*base, "search", "lighthouse", "--rating-min", "4"]) == 0
    out = capsys.readouterr().out
    assert PROMPTS[0] in out and PROMPTS[1] not in out
    assert main([*base, "spend", "--by", "sweep"]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "estimate" in out
    assert re.search(r"\$\d+\.\d\d\s", out) and not re.search(r"\d\.\d{3}", out), out  # dollars and cents
    assert main([*base, "budget", "12.5", "--per", "month"]) == 0
    assert "month cap    $12.50" in capsys.readouterr().out
    assert main([*base, "rebuild"]) == 0
    assert "re-indexed 5 jobs" in capsys.readouterr().out


def test_two_processes_running_the_same_sweep_submit_each_request_once(catalog_url, tmp_path, png_path, tiny):
    """run_sweep in two processes (each its own sweeps root, one catalog database: two machines of a team)
    at the same moment: the emulator sees each request submitted once, and both run folders get every video."""
    tiny.configure(queue_latency=0.3)
    start = time.time() + 2.5
    script = f"""
        import json, sys, time
        import seedance_nb as sd
        from seedance_nb.catalogs import Catalog
        from seedance_nb.client import AsyncClient

        root = sys.argv[1]
        grid = sd.Grid(image={str(png_path)!r}, prompt=["orbit", "pan"], seed=[1, 2], resolution="480p", duration=4)
        client = AsyncClient(queue_url={tiny.queue_url!r}, rest_url={tiny.rest_url!r}, cdn_url={tiny.cdn_url!r})
        with Catalog({catalog_url!r}, root=root) as cat:
            time.sleep(max(0.0, {start!r} - time.time()))
            sweep = sd.run_sweep(grid, client=client, run_dir=root + "/same", catalog=cat, progress=False)
        print(json.dumps([[j.status, j.request_id, j.path] for j in sweep.jobs]))
    """
    procs = [_python(script.replace("sys.argv[1]", repr(str(tmp_path / f"machine{i}")))) for i in range(2)]
    first, second = (json.loads(o) for o in _outputs(procs))
    assert tiny.stats()["submissions"] == 4
    for jobs, machine in ((first, "machine0"), (second, "machine1")):
        assert {status for status, _, _ in jobs} <= {"completed", "cached"}, jobs
        for _, _, path in jobs:
            assert (tmp_path / machine / "same" / path).is_file()
    for mine, theirs in zip(first, second, strict=True):
        if mine[0] == theirs[0] == "completed":  # one submitted it, the other followed the same request
            assert mine[1] == theirs[1]
    assert len({rid for status, rid, _ in first + second if status == "completed"}) == 4


def test_a_team_member_is_served_from_the_catalog_without_paying_again(catalog_url, tmp_path, png_path, tiny, client):
    grid = dict(image=png_path, prompt=["a crane shot"], seed=[1, 2], resolution="480p", duration=4)
    with Catalog(catalog_url, root=tmp_path / "alice") as alice:
        first = sd.run_sweep(sd.Grid(**grid), client=client, run_dir=tmp_path / "alice" / "s", catalog=alice)
        _as_fal(tmp_path / "alice" / "s")  # alice's run is money
        alice.index_run(tmp_path / "alice" / "s")
    assert tiny.stats()["submissions"] == 2
    for video in (tmp_path / "alice" / "s" / "videos").iterdir():
        video.unlink()  # only fal's URL is left: bob's runner downloads from it
    with Catalog(catalog_url, root=tmp_path / "bob") as bob:
        second = sd.run_sweep(sd.Grid(**grid), client=client, run_dir=tmp_path / "bob" / "s", catalog=bob)
        assert bob.spend("sweep").videos.sum() == 2  # paid once, cached copies cost nothing
    assert tiny.stats()["submissions"] == 2
    assert [j.status for j in second.jobs] == ["cached", "cached"]
    for job, original in zip(second.jobs, first.jobs, strict=True):
        assert (second.run_dir / job.path).is_file() and second.run_dir.is_relative_to(tmp_path / "bob")
        assert job.video_url == original.video_url


def test_run_sweep_is_refused_by_the_catalogs_cap_before_anything_exists(catalog_url, tmp_path, png_path, tiny, client):
    with Catalog(catalog_url, root=tmp_path) as cat:
        cat.set_budget(0.10, per="month")
        grid = sd.Grid(image=png_path, prompt=["a crane shot"], resolution="480p", duration=4)
        with pytest.raises(BudgetExceeded, match=r"month budget of \$0.10") as err:
            sd.run_sweep(grid, client=client, run_dir=tmp_path / "refused", catalog=cat)
        assert "Nothing was sent" in str(err.value)
        assert not (tmp_path / "refused").exists() and tiny.stats()["submissions"] == 0
        cat.set_budget(1.0, per="month")
        done = sd.run_sweep(grid, client=client, run_dir=tmp_path / "allowed", catalog=cat, progress=False)
        assert done.jobs[0].status == "completed"
        assert cat.spent("month")["reserved_usd"] == 0  # an emulated sweep reserves nothing
        assert cat.spent("month")["estimated_usd"] == 0  # and its jobs are not money


def test_recover_warns_about_fal_urls_about_to_expire_without_a_local_copy(tmp_path, tiny):
    from seedance_nb.catalogs._recover import ExpiringMediaWarning, recover
    from seedance_nb.client import AsyncClient

    root = tmp_path / "sweeps"
    old = time.time() - 6.5 * 86400  # fal keeps media about 7 days
    run = root / "last-week"
    run.mkdir(parents=True)
    _append(
        run,
        {"event": "sweep", "at": old, "name": "last-week", "endpoint": sd.DEFAULT_ENDPOINT},
        {"event": "planned", "at": old, "job": 0, "take": 1, "key": "a" * 64,
         "payload": {"prompt": "an old orbit", "image_url": "https://example.invalid/x.png"}, "est_cost_usd": 0.5},
        {"event": "submitted", "at": old, "job": 0, "request_id": "old-1"},
        {"event": "result", "at": old + 60, "job": 0, "completed_at": old + 60,
         "output": {"video": {"url": "https://v3.fal.media/files/old-1.mp4"}, "seed": 1}},
    )  # fmt: skip
    urls = {"queue_url": tiny.queue_url, "rest_url": tiny.rest_url, "cdn_url": tiny.cdn_url, "api_url": tiny.api_url}
    with Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}", root=root) as cat:
        with pytest.warns(ExpiringMediaWarning, match="1 catalogued video"):
            found = recover(since=time.time(), client=AsyncClient(**urls), catalog=cat)
        assert list(found.expiring.request_id) == ["old-1"]
        assert found.expiring.billed.tolist() == [True]  # paid, never downloaded: at risk
