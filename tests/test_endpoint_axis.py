"""The endpoint as a grid axis (issue 26): one grid over Seedance's mini, fast and standard tiers, each job validated
against, priced by and sent to its own endpoint; an input one endpoint lacks left out for it with one note; the
estimate itemised per endpoint; draft, then promote the chosen takes to another tier. Against the emulator over
loopback, its billing per request and its request history per endpoint."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import httpx
import pytest

import seedance_nb as sd
from seedance_nb.errors import InputError
from seedance_nb.reporting import endpoint_table, report_html

MINI = "bytedance/seedance-2.0/mini/image-to-video"
FAST = "bytedance/seedance-2.0/fast/image-to-video"
STANDARD = "bytedance/seedance-2.0/image-to-video"
PRICES = {MINI: 0.007, FAST: 0.0112, STANDARD: 0.014}  # fal's USD per 1,000 tokens (mini provisional)


def history(emu, endpoint: str, since: float) -> list[dict]:
    """fal's request history for ``endpoint`` on the emulator since ``since`` (each request's id and input)."""
    start = datetime.fromtimestamp(since, tz=timezone.utc).isoformat()
    query = {"endpoint_id": endpoint, "start": start, "expand": "payloads", "limit": "100"}
    answer = httpx.get(f"{emu.api_url}/v1/models/requests/by-endpoint", params=query, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


# --------------------------------------------------------------------------- the estimate, by hand


def test_the_estimate_matches_each_endpoints_published_price_on_five_hand_computed_cases(png_path):
    # tokens = width x height x seconds x 24 / 1024; USD = tokens / 1000 x the endpoint's price.
    # 480p 16:9 is 864x496: 864 x 496 x 4 x 24 / 1024 = 40,176 tokens.
    #   1. mini     40,176 / 1000 x 0.007  = $0.281232
    #   2. fast     40,176 / 1000 x 0.0112 = $0.4499712
    #   3. standard 40,176 / 1000 x 0.014  = $0.562464
    # 720p 16:9 5 s is 1280 x 720 x 5 x 24 / 1024 = 108,000 tokens: 4. fast x 0.0112 = $1.2096
    # 1080p 16:9 5 s is 1920 x 1080 x 5 x 24 / 1024 = 243,000 tokens: 5. standard x 0.014 = $3.402
    three = sd.Grid(
        endpoint=[MINI, FAST, STANDARD], image=png_path, prompt="p", resolution="480p", duration=4, aspect_ratio="16:9"
    )
    est = three.estimate()
    by = {item.endpoint: item for item in est.by_endpoint}
    assert [item.endpoint for item in est.by_endpoint] == [MINI, FAST, STANDARD]
    assert by[MINI].usd == pytest.approx(0.281232)
    assert by[FAST].usd == pytest.approx(0.4499712)
    assert by[STANDARD].usd == pytest.approx(0.562464)
    assert est.usd == pytest.approx(0.281232 + 0.4499712 + 0.562464) and est.jobs == 3
    fast_720 = sd.Grid(endpoint=FAST, image=png_path, prompt="p", resolution="720p", duration=5, aspect_ratio="16:9")
    std_1080 = sd.Grid(
        endpoint=STANDARD, image=png_path, prompt="p", resolution="1080p", duration=5, aspect_ratio="16:9"
    )
    both = fast_720 + std_1080  # Grid.concat accepts grids for different endpoints
    assert both.endpoints == [FAST, STANDARD] and len(both) == 2
    assert [i.usd for i in both.estimate().by_endpoint] == [pytest.approx(1.2096), pytest.approx(3.402)]
    assert [j.est_cost_usd for j in both.jobs()] == [pytest.approx(1.2096), pytest.approx(3.402)]
    assert "seedance-2.0 mini 1 video $0.28" in str(est)
    table = est.table()
    assert list(table["model"]) == ["seedance-2.0 mini", "seedance-2.0 fast", "seedance-2.0 standard"]


def test_the_cache_key_includes_the_endpoint(png_path):
    grid = sd.Grid(endpoint=[MINI, FAST], image=png_path, prompt="p", seed=1)
    keys = [job.key for job in grid.jobs()]
    assert len(set(keys)) == 2
    assert [job.input.endpoint for job in grid.jobs()] == [MINI, FAST]


# --------------------------------------------------------------------------- validation per endpoint


def test_a_field_one_endpoint_lacks_is_left_out_for_it_with_one_note(png_path, caplog):
    with caplog.at_level(logging.INFO, logger="seedance_nb.grids"):
        grid = sd.Grid(endpoint=[MINI, FAST], image=png_path, prompt=["a", "b", "c"], bitrate_mode="high")
    notes = [r.getMessage() for r in caplog.records if r.name == "seedance_nb.grids"]
    assert len(notes) == 1 and grid.notes == notes  # one note for the three mini jobs, not one per job
    assert "'bitrate_mode'" in notes[0] and MINI in notes[0] and "3 jobs" in notes[0]
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # no pink box for a grid the user chose
    assert str(grid.estimate()).endswith(f"\nnote: {notes[0]}")  # said where the user looks
    payloads = {(i.endpoint, i.prompt): i.to_payload() for i in grid.inputs()}
    assert all("bitrate_mode" not in p for (e, _), p in payloads.items() if e == MINI)
    assert all(p["bitrate_mode"] == "high" for (e, _), p in payloads.items() if e == FAST)


def test_a_field_no_endpoint_lists_is_still_refused(png_path):
    with pytest.raises(InputError, match="did you mean 'resolution'") as info:
        sd.Grid(endpoint=[MINI, FAST], image=png_path, prompt="p", resolutoin="480p")
    assert info.value.problems[0].field == "resolutoin"


def test_an_input_invalid_for_one_endpoint_names_that_endpoint_and_the_field(png_path):
    with pytest.raises(InputError) as info:
        sd.Grid(endpoint=[FAST, STANDARD], image=png_path, prompt="p", resolution="1080p")
    problems = info.value.problems
    assert len(problems) == 1 and problems[0].field == "resolution"
    assert FAST in problems[0].message and "nothing was sent" in str(info.value)
    with pytest.raises(InputError) as info:
        sd.Grid(endpoint=[MINI, FAST], image=png_path, prompt="p", bitrate_mode="turbo")
    assert [p.field for p in info.value.problems] == ["bitrate_mode"] and FAST in str(info.value)


# --------------------------------------------------------------------------- a run over three endpoints


@pytest.fixture
def three_tier_sweep(png_path, client, tmp_path, emu):
    emu.configure(render="tiny")  # 64x36 files; billed at the sizes asked for (the fixture restores "full")
    since = time.time()
    grid = sd.Grid(
        endpoint=[MINI, FAST, STANDARD],
        image=png_path,
        prompt=["a", "b"],
        seed=7,
        resolution="480p",
        duration=4,
        aspect_ratio="16:9",
        generate_audio=False,
        bitrate_mode="high",
    )
    sweep = sd.run_sweep(grid, client=client, run_dir=tmp_path / "three", progress=False, metrics=False)
    return sweep, since


def test_a_three_endpoint_grid_runs_each_job_validated_and_billed_by_its_own_endpoint(three_tier_sweep, emu):
    """And the report's "By endpoint" section puts cost, time and ratings side by side."""
    sweep, since = three_tier_sweep
    df = sweep.df
    assert list(df["status"]) == ["completed"] * 6, df["error"].tolist()
    assert list(df["endpoint"]) == [MINI, MINI, FAST, FAST, STANDARD, STANDARD]
    assert list(df["model"]) == ["seedance-2.0 mini"] * 2 + ["seedance-2.0 fast"] * 2 + ["seedance-2.0 standard"] * 2
    units = 864 * 496 * 4 * 24 / 1024 / 1000  # 40.176 thousand tokens per video
    for _, row in df.iterrows():
        assert row["billed_units"] == pytest.approx(units)  # the emulator's x-fal-billable-units for that request
        assert row["cost_usd"] == pytest.approx(units * PRICES[row["endpoint"]])
        assert row["est_cost_usd"] == pytest.approx(units * PRICES[row["endpoint"]])
    assert emu.stats()["billed_usd"] == pytest.approx(2 * units * sum(PRICES.values()))
    assert emu.stats()["submissions"] == 6
    for endpoint in (MINI, FAST, STANDARD):
        items = history(emu, endpoint, since)
        mine = set(df.loc[df["endpoint"] == endpoint, "request_id"])
        assert {item["request_id"] for item in items} == mine  # each job went to its own endpoint's path
        sent = [item["json_input"] for item in items]
        # mini's schema lacks bitrate_mode: never sent there; the others send it
        assert all(("bitrate_mode" in s) == (endpoint != MINI) for s in sent)
    reloaded = sd.load_sweep(sweep.run_dir)  # the journal keeps each job's endpoint
    assert [j.input.endpoint for j in reloaded.jobs] == list(df["endpoint"])
    pivot = sd.gallery(sweep, rows="prompt", cols="model", return_html=True)  # the gallery pivots on the model
    assert '<span class="sd-k">model</span>' in pivot  # a column per model, in the grid's order
    heads = [pivot.index(label) for label in ("seedance-2.0 mini", "seedance-2.0 fast", "seedance-2.0 standard")]
    assert heads == sorted(heads) and pivot.count("<video") == 6
    _the_report_has_a_by_endpoint_section(sweep)
    # the catalog (every run under a sweeps root) shows each job's own endpoint, not the run's first
    from seedance_nb.catalogs import open_catalog

    catalog = open_catalog(root=sweep.run_dir.parent).frame()
    mine = catalog[catalog["run_dir"].astype(str).str.endswith("three")].sort_values("job")
    assert list(mine["endpoint"]) == list(df["endpoint"])


def _the_report_has_a_by_endpoint_section(sweep):
    for job in (0, 2, 4):
        sweep.rate(job, 2 + job // 2)  # mini 2, fast 3, standard 4 stars
    table = endpoint_table(sweep)
    assert list(table["model"]) == ["seedance-2.0 mini", "seedance-2.0 fast", "seedance-2.0 standard"]
    assert list(table["videos"]) == [2, 2, 2] and list(table["rating"]) == [2.0, 3.0, 4.0]
    units = 864 * 496 * 4 * 24 / 1024 / 1000
    assert list(table["cost_usd"]) == [pytest.approx(2 * units * PRICES[e]) for e in (MINI, FAST, STANDARD)]
    html = report_html(sweep)
    section = html[html.index('<section id="by-endpoint">') :]
    section = section[: section.index("</section>")]
    for endpoint in (MINI, FAST, STANDARD):
        assert f'data-endpoint="{endpoint}"' in section
    assert f"${2 * units * PRICES[STANDARD]:.4f}" in section
    single = report_html(sd.load_sweep(sweep.run_dir).df.iloc[:2])  # one endpoint: no section
    assert 'id="by-endpoint"' not in single


# --------------------------------------------------------------------------- draft, then promote


def test_promotion_reruns_exactly_the_chosen_takes_on_the_new_endpoint_and_again_from_the_cache(
    png_path, client, tmp_path, emu
):
    emu.configure(render="tiny")
    draft = sd.run_sweep(
        sd.Grid(
            endpoint=FAST,
            image=png_path,
            prompt=["a", "b", "c"],
            resolution="480p",
            duration=4,
            generate_audio=False,
            bitrate_mode="high",
        ),
        client=client,
        run_dir=tmp_path / "draft",
        progress=False,
        metrics=False,
    )
    assert list(draft.df["status"]) == ["completed"] * 3
    for job, stars in ((0, 2), (1, 5), (2, 4)):
        draft.rate(job, stars)
    plan = draft.plan_promotion(best=2, endpoint=MINI)  # the estimate first, nothing sent
    assert emu.stats()["submissions"] == 3
    assert plan.promoted_from == [1, 2] and plan.estimate.jobs == 2
    assert plan.estimate.usd == pytest.approx(2 * 864 * 496 * 4 * 24 / 1024 / 1000 * PRICES[MINI])
    assert "take(s) 1, 2 of draft" in str(plan) and plan.notes and "bitrate_mode" in plan.notes[0]
    since = time.time()
    promoted = draft.promote(best=2, endpoint=MINI, client=client, progress=False)
    df = promoted.df
    assert list(df["status"]) == ["completed"] * 2 and list(df["endpoint"]) == [MINI, MINI]
    assert list(df["promoted_from"]) == [1, 2]
    assert emu.stats()["submissions"] == 5  # exactly the two chosen takes, once each
    sent = history(emu, MINI, since)
    assert sorted(item["json_input"]["prompt"] for item in sent) == ["b", "c"]
    seeds = {row["prompt"]: row["output_seed"] for _, row in draft.df.iterrows()}
    assert all(item["json_input"]["seed"] == seeds[item["json_input"]["prompt"]] for item in sent)  # same seed
    assert all("bitrate_mode" not in item["json_input"] for item in sent)
    info = json.loads((promoted.run_dir / "round.json").read_text())
    assert info["promoted_from"] == [1, 2] and info["parent"] == str(draft.run_dir)
    html = report_html(promoted)
    assert 'id="promoted"' in html and 'data-draft="1"' in html and 'data-draft="2"' in html
    again = draft.promote(best=[1, 2], endpoint=MINI, client=client, progress=False)  # the same takes, explicitly
    assert list(again.df["status"]) == ["cached", "cached"] and emu.stats()["submissions"] == 5
    assert again.run_dir != promoted.run_dir and list(again.df["promoted_from"]) == [1, 2]


def test_promotion_refuses_what_the_new_endpoint_refuses_and_unknown_takes(png_path, client, tmp_path, emu):
    emu.configure(render="tiny")
    draft = sd.run_sweep(
        sd.Grid(endpoint=MINI, image=png_path, prompt=["a", "b"], resolution="480p", duration=4, generate_audio=False),
        client=client,
        run_dir=tmp_path / "d",
        progress=False,
        metrics=False,
    )
    with pytest.raises(InputError) as info:
        draft.plan_promotion(best=[0], endpoint=FAST, resolution="1080p")
    assert info.value.problems[0].field == "resolution" and FAST in str(info.value)
    plan = draft.plan_promotion(best=[0], endpoint=STANDARD, resolution="1080p")
    assert plan.grid.inputs()[0].resolution == "1080p" and plan.estimate.by_endpoint[0].endpoint == STANDARD
    with pytest.raises(InputError, match="job 9 has no video"):
        draft.plan_promotion(best=[9], endpoint=STANDARD)
    with pytest.raises(InputError, match="no votes or ratings"):
        draft.plan_promotion(best=1, endpoint=STANDARD)
    assert emu.stats()["submissions"] == 2


def test_a_grid_over_seedance_and_kling_prices_and_bills_each_by_its_own_rule(png_path, client, tmp_path, emu):
    kling = "fal-ai/kling-video/v2.1/standard/image-to-video"
    from seedance_nb.endpoints.registry import get

    emu.configure(render="tiny")
    grid = sd.Grid(endpoint=[MINI, kling], image=png_path, prompt="p", duration=5, generate_audio=False)
    assert grid.notes == [] or all(kling in n for n in grid.notes)  # generate_audio: Kling has no such field
    rule = get(kling).estimate({"duration": "5"})
    assert [i.usd for i in grid.estimate().by_endpoint][1] == pytest.approx(rule.usd)
    with pytest.raises(InputError, match="for fal-ai/kling-video") as info:
        sd.Grid(endpoint=[MINI, kling], image=png_path, prompt="p", duration=7)  # Kling: 5 or 10 s
    assert [p.field for p in info.value.problems] == ["duration"]
    with pytest.raises(InputError, match="for every endpoint of the grid .*did you mean 'resolution'"):
        sd.Grid(endpoint=[MINI, kling], image=png_path, prompt="p", resolutoin="480p")  # a typo: no one takes it
    seeded = sd.Grid(endpoint=[MINI, kling], image=png_path, prompt="p", duration=5, seed=3)
    assert len(seeded.notes) == 1 and "'seed'" in seeded.notes[0] and kling in seeded.notes[0]
    assert [i.seed for i in seeded.inputs()] == [3, None]  # Kling's schema has no seed: not sent there
    sweep = sd.run_sweep(grid, client=client, run_dir=tmp_path / "kling", progress=False, metrics=False)
    df = sweep.df
    assert list(df["status"]) == ["completed"] * 2, df["error"].tolist()
    assert list(df["model"]) == ["seedance-2.0 mini", "kling-2.1 std"]
    assert df["cost_usd"].iloc[1] == pytest.approx(rule.usd) and df["est_cost_usd"].iloc[1] == pytest.approx(rule.usd)


def test_on_fal_the_daily_schema_check_covers_every_endpoint_of_a_grid(tmp_path):
    """A grid over endpoints is checked for schema drift on each of its Seedance endpoints, not only the first."""
    from seedance_nb.sweep import DriftCheck, Sweep

    mini, fast = "bytedance/seedance-2.0/mini/image-to-video", "bytedance/seedance-2.0/fast/image-to-video"
    kling = "fal-ai/kling-video/v2.1/standard/image-to-video"
    (tmp_path / "sweep.json").write_text(json.dumps({"endpoints": [mini, kling, fast]}), encoding="utf-8")

    def checked(backend):
        chain = Sweep.make_hooks(tmp_path, False, backend=backend, metrics=False, endpoint=mini)
        return [h.endpoint for h in chain.hooks if isinstance(h, DriftCheck)]

    assert checked("fal") == [mini, fast]  # Kling has no shipped snapshot to drift from
    assert checked("emulator") == []
    (tmp_path / "sweep.json").write_text("{}", encoding="utf-8")  # one endpoint: the run's own
    assert checked("fal") == [mini]
