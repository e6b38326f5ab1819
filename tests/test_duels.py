"""Duels: votes in the journal, the Bradley–Terry fit and its intervals, pair selection, the duel widget
(clicks and keys, headless), promotion to a next round and adaptive runs against the emulator."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from seedance_testconf import make_png

import seedance_nb as sd
from seedance_nb.client import AsyncClient
from seedance_nb.duel_widget import Duel
from seedance_nb.duels import (
    bradley_terry,
    comparable_pairs,
    leaderboard_frame,
    leaderboard_html,
    next_pair,
    round_cost,
    win_matrix,
)
from seedance_nb.errors import BudgetExceeded, InputError

HOSTILE = '<script>alert("x")</script> & a "quoted" pan'
PROMPTS = ["a slow push-in on the lake", "a whip pan to the left", HOSTILE]

# --------------------------------------------------------------------------- the fit, pure


def simulate(truth: np.ndarray, votes: int, rng: np.random.Generator, tie_rate: float = 0.0) -> list:
    n, out = len(truth), []
    for _ in range(votes):
        i, j = rng.choice(n, 2, replace=False)
        p = 1.0 / (1.0 + math.exp(truth[j] - truth[i]))
        out.append((i, j, "tie" if rng.random() < tie_rate else ("a" if rng.random() < p else "b")))
    return out


def frames(pairs: list, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sweep-like DataFrame (one video per value) and votes between those videos."""
    df = pd.DataFrame({"job": range(n), "prompt": [f"p{i}" for i in range(n)], "status": "completed"})
    votes = pd.DataFrame({"a": [int(i) for i, _j, _w in pairs], "b": [int(j) for _i, j, _w in pairs]})
    votes["winner"] = [w for _i, _j, w in pairs]
    return df, votes


def test_known_strengths_are_recovered_in_order():
    truth = np.array([1.5, 0.8, 0.0, -0.7, -1.6])
    pairs = simulate(truth, 600, np.random.default_rng(7))
    strength, cov = bradley_terry(win_matrix(pairs, 5))
    assert list(np.argsort(-strength)) == [0, 1, 2, 3, 4]
    assert abs(strength.sum()) < 1e-9  # centred
    assert np.allclose(strength, truth - truth.mean(), atol=0.35)
    board = leaderboard_frame(*frames(pairs, 5), "prompt")
    assert board["prompt"].tolist() == ["p0", "p1", "p2", "p3", "p4"]
    assert (board["ci_low"] < board["strength"]).all() and (board["strength"] < board["ci_high"]).all()


def test_the_estimate_solves_the_likelihood_equations_with_the_prior():
    """Independent of choix: at the maximum, each item's wins equal its expected wins (prior games included)."""
    pairs = simulate(np.array([1.0, 0.2, -0.4, -0.8]), 80, np.random.default_rng(3), tie_rate=0.2)
    wins = win_matrix(pairs, 4)
    prior = 1.0
    strength, _cov = bradley_terry(wins, prior=prior)
    aug = np.zeros((5, 5))
    aug[:4, :4] = wins
    aug[:4, 4] = aug[4, :4] = prior / 2
    theta = np.append(strength, 0.0)
    # The anchor's own strength is whatever solves its equation: find it by bisection on its score.
    games = aug + aug.T

    def expected(t4: float) -> np.ndarray:
        t = theta.copy()
        t[4] = t4
        p = 1 / (1 + np.exp(t[None, :] - t[:, None]))
        return (games * p).sum(axis=1)

    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected(mid)[4] < aug[4].sum() else (lo, mid)
    assert np.allclose(expected(lo)[:4], aug[:4].sum(axis=1), atol=1e-4)


@pytest.mark.parametrize("ci, sims, low, high", [("wald", 160, 0.92, 0.98), ("bootstrap", 30, 0.88, 0.995)])
def test_intervals_cover_the_truth_at_about_the_stated_rate(ci, sims, low, high):
    truth = np.array([0.9, 0.4, 0.0, -0.5, -0.8])
    centred = truth - truth.mean()
    rng = np.random.default_rng(2024)
    covered = total = 0
    for sim in range(sims):
        pairs = simulate(truth, 150, rng, tie_rate=0.1)
        board = leaderboard_frame(*frames(pairs, 5), "prompt", ci=ci, n_boot=120, seed=sim)
        board = board.set_index("prompt").loc[[f"p{i}" for i in range(5)]]
        covered += int(((board["ci_low"] <= centred) & (centred <= board["ci_high"])).sum())
        total += 5
    assert low <= covered / total <= high, covered / total


def test_bootstrap_intervals_are_seeded():
    pairs = simulate(np.array([0.5, 0.0, -0.5]), 40, np.random.default_rng(1))
    one = leaderboard_frame(*frames(pairs, 3), "prompt", ci="bootstrap", seed=5)
    two = leaderboard_frame(*frames(pairs, 3), "prompt", ci="bootstrap", seed=5)
    other = leaderboard_frame(*frames(pairs, 3), "prompt", ci="bootstrap", seed=6)
    pd.testing.assert_frame_equal(one, two)
    assert not np.allclose(one["ci_low"], other["ci_low"])


def test_degenerate_one_value():
    df, votes = frames([], 1)
    board = leaderboard_frame(df, votes, "prompt")
    assert board["strength"].tolist() == [0.0]
    assert math.isnan(board["ci_low"].iloc[0]) and math.isnan(board["ci_high"].iloc[0])
    assert "p0" in leaderboard_html(board)


def test_degenerate_no_votes_and_all_ties():
    df, votes = frames([], 3)
    board = leaderboard_frame(df, votes, "prompt")
    assert np.allclose(board["strength"], 0) and board["votes"].sum() == 0
    assert np.allclose(board["ci_high"] - board["ci_low"], board["ci_high"].iloc[0] - board["ci_low"].iloc[0])
    ties = leaderboard_frame(*frames([(0, 1, "tie"), (1, 2, "tie"), (0, 2, "tie")] * 4, 3), "prompt")
    assert np.allclose(ties["strength"], 0, atol=1e-9) and (ties["ties"] == 8).all()
    assert (ties["ci_high"] - ties["ci_low"] < board["ci_high"] - board["ci_low"]).all()  # votes narrow it


def test_degenerate_a_value_that_never_lost():
    board = leaderboard_frame(*frames([(0, 1, "a"), (0, 2, "a"), (1, 2, "a")] * 3, 3), "prompt")
    top = board.iloc[0]
    assert top["prompt"] == "p0" and top["losses"] == 0 and top["wins"] == 6
    assert np.isfinite(board[["strength", "ci_low", "ci_high"]].to_numpy()).all()
    assert top["ci_low"] < top["strength"] < top["ci_high"] < 6
    with pytest.raises(ValueError, match="prior"):
        bradley_terry(np.zeros((2, 2)), prior=0)


def test_a_tie_is_half_a_win_each_and_both_bad_is_counted_not_fitted():
    board = leaderboard_frame(*frames([(0, 1, "a"), (0, 1, "tie")], 2), "prompt")
    direct, _ = bradley_terry(np.array([[0.0, 1.5], [0.5, 0.0]]))
    assert np.allclose(board.set_index("prompt").loc[["p0", "p1"], "strength"], direct)
    with_bad = leaderboard_frame(*frames([(0, 1, "a"), (0, 1, "tie"), (0, 1, "both_bad")], 2), "prompt")
    assert np.allclose(with_bad["strength"], board["strength"])
    assert with_bad["both_bad"].tolist() == [1, 1] and with_bad["votes"].tolist() == [3, 3]
    assert with_bad.attrs["votes"] == 3


# --------------------------------------------------------------------------- a real sweep on the emulator


@pytest.fixture(scope="module")
def base_run(emulator, tmp_path_factory):
    """3 prompts x 2 seeds, one take each, 480p 1:1 4 s from a small image, run once on the emulator."""
    client = AsyncClient(queue_url=emulator.queue_url, rest_url=emulator.rest_url, cdn_url=emulator.cdn_url)
    root = tmp_path_factory.mktemp("duels") / "sweeps"
    grid = sd.Grid(
        image=make_png(400, 300),
        prompt=PROMPTS,
        seed=[1, 2],
        resolution="480p",
        duration=4,
        aspect_ratio="1:1",
    )
    sweep = sd.run_sweep(grid, client=client, run_dir=root / "base", progress=False)
    assert sweep.counts() == {"completed": 6}
    return root / "base"


@pytest.fixture
def sweep(base_run, tmp_path):
    """A private copy of the base run (votes write to its journal)."""
    target = tmp_path / "sweeps" / "base"
    shutil.copytree(base_run, target)
    return sd.load_sweep(target)


def job_of(sweep, prompt, seed):
    df = sweep.df
    return int(df[(df["prompt"] == prompt) & (df["seed"] == seed)]["job"].iloc[0])


def test_votes_are_journalled_and_survive_a_reload(sweep):
    a, b, c = (job_of(sweep, p, 1) for p in PROMPTS)
    sweep.vote(a, b, "a")
    sweep.vote(b, c, "tie", voter="ana")
    sweep.vote(a, c, "both_bad")
    lines = [json.loads(line) for line in (sweep.run_dir / "journal.jsonl").read_text().splitlines()]
    votes = [line for line in lines if line["event"] == "vote"]
    assert [(v["a"], v["b"], v["winner"]) for v in votes] == [(a, b, "a"), (b, c, "tie"), (a, c, "both_bad")]
    assert votes[1]["voter"] == "ana" and "voter" not in votes[0]
    again = sd.load_sweep(sweep.run_dir)
    assert again.votes[["a", "b", "winner"]].values.tolist() == [[a, b, "a"], [b, c, "tie"], [a, c, "both_bad"]]
    assert str(again.votes["at"].dtype).startswith("datetime64") and again.votes["vote"].tolist() == [1, 2, 3]
    assert again.counts() == {"completed": 6}  # votes are not job events
    # A crash mid-write leaves a torn last line: the complete votes are still read.
    with (sweep.run_dir / "journal.jsonl").open("a") as fh:
        fh.write('{"event":"vote","a":0,"b"')
    assert len(sd.load_sweep(sweep.run_dir).votes) == 3
    # Hand-edited lines that are not votes one can count are skipped, not miscounted.
    with (sweep.run_dir / "journal.jsonl").open("a") as fh:
        fh.write('\n{"event":"vote","a":0,"b":1,"winner":"left"}\n{"event":"vote","a":"x","b":1,"winner":"a"}\n')
    assert len(sd.load_sweep(sweep.run_dir).votes) == 3


@pytest.mark.parametrize(
    "a, b, winner, field",
    [(0, 1, "left", "winner"), (0, 99, "a", "b"), ("0", 1, "a", "a"), (True, 1, "a", "a"), (2, 2, "a", "b")],
)
def test_bad_votes_name_the_argument(sweep, a, b, winner, field):
    with pytest.raises(InputError) as info:
        sweep.vote(a, b, winner)
    assert [p.field for p in info.value.problems] == [field]
    assert sweep.votes.empty


def test_a_job_without_a_video_cannot_be_voted_on(sweep):
    sweep.jobs[1].status = "failed"
    with pytest.raises(InputError, match="no video"):
        sweep.vote(0, 1, "a")


def test_leaderboard_counts_and_order(sweep):
    push, whip, bad = (PROMPTS[0], PROMPTS[1], PROMPTS[2])
    for seed in (1, 2):
        sweep.vote(job_of(sweep, push, seed), job_of(sweep, whip, seed), "a")
        sweep.vote(job_of(sweep, bad, seed), job_of(sweep, push, seed), "b")
    sweep.vote(job_of(sweep, whip, 1), job_of(sweep, bad, 1), "tie")
    sweep.vote(job_of(sweep, whip, 2), job_of(sweep, bad, 2), "both_bad")
    sweep.vote(job_of(sweep, push, 1), job_of(sweep, push, 2), "a")  # same value: ignored
    board = sweep.leaderboard(by="prompt")
    assert list(board.columns) == ["prompt", *sd.duels.BOARD_STATS]
    assert board.index.tolist() == [1, 2, 3] and board.index.name == "rank"
    top = board.iloc[0]
    assert top["prompt"] == push and (top["wins"], top["losses"], top["votes"], top["videos"]) == (4, 0, 4, 2)
    rows = board.set_index("prompt")
    assert (rows.loc[whip, "ties"], rows.loc[whip, "both_bad"], rows.loc[whip, "votes"]) == (1, 1, 4)
    assert board.attrs["votes"] == 6
    several = sweep.leaderboard(by=["prompt", "seed"])
    assert len(several) == 6 and {"prompt", "seed"} <= set(several.columns)
    with pytest.raises(InputError) as info:
        sweep.leaderboard(by="promt")
    assert info.value.problems[0].field == "by"


def test_pairs_share_the_image_and_the_other_inputs(sweep):
    pairs = comparable_pairs(sweep.df, "prompt")
    seeds = dict(zip(sweep.df["job"], sweep.df["seed"], strict=True))
    assert len(pairs) == 3 and all(len(v) == 2 for v in pairs.values())
    assert all(seeds[a] == seeds[b] for videos in pairs.values() for a, b in videos)
    loose = comparable_pairs(sweep.df, "prompt", same=[])
    assert all(len(v) == 4 for v in loose.values())


def test_next_pair_is_where_the_ranking_is_least_sure_and_is_seeded(sweep):
    push, whip, bad = PROMPTS
    for _ in range(6):
        sweep.vote(job_of(sweep, push, 1), job_of(sweep, whip, 1), "a")
        sweep.vote(job_of(sweep, whip, 2), job_of(sweep, push, 2), "tie")
    df, votes = sweep.df, sweep.votes
    pair = next_pair(df, votes, "prompt", rng=3)
    assert bad in pair.values  # never compared: only the prior knows anything about it
    assert pair == next_pair(df, votes, "prompt", rng=3)
    sides = {next_pair(df, votes, "prompt", rng=s).values.index(bad) for s in range(12)}
    assert sides == {0, 1}  # sides are a coin flip
    everything = [tuple(p) for videos in comparable_pairs(df, "prompt").values() for p in videos]
    assert next_pair(df, votes, "prompt", exclude=everything) is None


def test_leaderboard_html_escapes_and_draws_intervals(sweep):
    sweep.vote(job_of(sweep, HOSTILE, 1), job_of(sweep, PROMPTS[0], 1), "a")
    markup = leaderboard_html(sweep)
    assert "<script>alert" not in markup and "&lt;script&gt;alert(&quot;x&quot;)" in markup
    assert markup.count('class="sd-ci"') == 3 and markup.count("<svg") == 3
    assert 'data-votes="1"' in markup


def test_report_has_a_leaderboard_only_with_votes(sweep, tmp_path):
    from seedance_nb.reporting import report_html

    assert 'id="leaderboard"' not in report_html(sweep)
    sweep.vote(job_of(sweep, PROMPTS[0], 1), job_of(sweep, PROMPTS[1], 1), "a")
    page = report_html(sweep)
    assert 'id="leaderboard"' in page and 'data-votes="1"' in page and "1 vote · " in page
    assert "<script>alert" not in page


# --------------------------------------------------------------------------- the widget, headless


def test_duel_clicks_vote_blind_and_update_the_board(sweep):
    duel = Duel(sweep, by="prompt", seed=11, voter="tester")
    stage = duel.stage.outputs[0]["data"]["text/html"]
    assert "<video" in stage and "Left" in stage and "Right" in stage
    assert not any(p in stage for p in ("push-in", "whip pan", "quoted"))  # labels hidden
    assert all(html_escaped not in stage for html_escaped in ("&lt;script&gt;",))
    left, right = duel.pair.left, duel.pair.right
    seeds = dict(zip(sweep.df["job"], sweep.df["seed"], strict=True))
    assert seeds[left] == seeds[right]
    duel.buttons["left"].click()
    votes = sweep.votes
    assert votes[["a", "b", "winner", "voter"]].values.tolist() == [[left, right, "a", "tester"]]
    assert 'data-votes="1"' in duel.board.value and "1 vote<" in duel.title.value
    assert duel.progress.value == 1 and duel.progress.max == 3
    seen_sides = set()
    for _ in range(8):
        seen_sides.add(duel.pair.values[0])
        duel.buttons["right"].click()
    assert len(sweep.votes) == 9 and len(seen_sides) > 1
    assert duel.progress.value == 3 and duel.progress.bar_style == "success"
    assert 'data-votes="9"' in duel.board.value


def test_duel_keys_tie_both_bad_skip(sweep):
    duel = Duel(sweep, seed=2)
    first = (duel.pair.left, duel.pair.right)
    duel.press("s")  # skip: nothing recorded, another pair
    assert sweep.votes.empty and (duel.pair.left, duel.pair.right) != first
    pair = (duel.pair.left, duel.pair.right)
    duel.press("ArrowRight")
    duel.press("t")
    duel.press("B")
    duel.press("x")  # not a shortcut
    votes = sweep.votes
    assert votes["winner"].tolist() == ["b", "tie", "both_bad"]
    assert (votes["a"].iloc[0], votes["b"].iloc[0]) == pair
    assert sd.load_sweep(sweep.run_dir).votes["winner"].tolist() == ["b", "tie", "both_bad"]


def test_duel_static_html_and_nothing_to_compare(sweep, tmp_path):
    duel = Duel(sweep, seed=1)
    duel.buttons["left"].click()
    bundle = duel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert 'class="seedance-duel-static"' in bundle["text/html"] and 'data-votes="1"' in bundle["text/html"]
    lonely = Duel(sweep, by="seed", same=["prompt", "image", "resolution"], seed=1)
    assert lonely.pair is not None  # seeds of the same prompt can duel
    one_value = Duel(sweep, by="resolution", seed=1)
    assert one_value.pair is None and all(b.disabled for b in one_value.buttons.values())
    assert "Nothing to compare" in one_value.stage.outputs[0]["data"]["text/html"]


# --------------------------------------------------------------------------- rounds on the emulator


def prompt_length(df: pd.DataFrame) -> pd.Series:
    """A score that needs no human: longer prompts score higher."""
    return df["prompt"].str.len().astype(float)


def test_promote_runs_the_top_values_in_a_linked_folder(sweep, client, emu):
    nxt = sweep.promote("prompt", top=1, takes=1, score=prompt_length, client=client, resolution="720p", progress=False)
    assert set(nxt.df["prompt"]) == {HOSTILE}  # the longest prompt
    assert set(nxt.df["seed"]) == {1, 2} and set(nxt.df["resolution"]) == {"720p"}
    assert set(nxt.df["width"]) == {960} and nxt.counts() == {"completed": 2}
    info = nxt.round_info
    assert info["round"] == 2 and info["parent"] == str(sweep.run_dir) and info["values"] == [HOSTILE]
    assert nxt.run_dir.parent == sweep.run_dir.parent and nxt.run_dir.name == "base-round2"
    lines = [json.loads(line) for line in (nxt.run_dir / "journal.jsonl").read_text().splitlines()]
    first_send = min(line["at"] for line in lines if line["event"] == "submitting")
    linked = datetime.fromisoformat(info["created_at"]).timestamp()
    assert linked <= first_send  # the link is on disk before any money is spent
    assert emu.stats()["submissions"] == 2
    with pytest.raises(InputError) as info:
        sweep.promote("prompt", top=1, score="no_such_metric", client=client)
    assert info.value.problems[0].field == "score"
    with pytest.raises(InputError) as info:
        sweep.promote("prompt", top=1, client=client)  # no votes, no ratings
    assert info.value.problems[0].field == "score"


def small_grid(prompts, colour):
    """A grid from a small image of its own colour, so no other test's videos are cache hits for it."""
    image = make_png(400, 300, colour)
    return sd.Grid(image=image, prompt=prompts, resolution="480p", duration=4, aspect_ratio="1:1")


FOUR = ["drift", "slow push-in", "orbit to the left", "a crane shot rising over the water"]


def test_two_round_adaptive_sweep_within_the_budget(client, emu, tmp_path, caplog):
    caplog.set_level("INFO", logger="seedance_nb.duels")
    grid = small_grid(FOUR, (200, 60, 60))
    per_video = grid.estimate().usd / 4
    budget = 9 * per_video  # round 1: 4 videos; round 2: 2 values x 2 takes (take 1 cached, free)
    run = sd.run_adaptive(
        grid, budget_usd=budget, rounds=2, keep=0.5, score=prompt_length, takes=2, client=client,
        run_root=tmp_path / "sweeps", name="halving", progress=False,
    )  # fmt: skip
    assert run.status == "done" and len(run.sweeps) == 2
    first, second = run.sweeps
    assert set(second.df["prompt"]) == set(FOUR[2:])  # only the two best by the score
    assert second.round_info["parent"] == str(first.run_dir)
    assert sorted(second.df["status"]) == ["cached", "cached", "completed", "completed"]
    costs = run.rounds_df["cost_usd"].tolist()
    assert costs == pytest.approx([4 * per_video, 2 * per_video]) and sum(costs) <= budget
    assert run.spent_usd == pytest.approx(round_cost(first) + round_cost(second))
    assert emu.stats()["submissions"] == 6  # the repeated takes came from the cache
    said = [r.getMessage() for r in caplog.records if r.name == "seedance_nb.duels"]
    assert said[0].startswith("Round 1 of 2: 4 videos") and f"budget ${budget:.2f}" in said[0]
    assert said[1].startswith("Round 2: the top 2 of 4 by prompt_length") and "left" in said[1]


def test_the_budget_is_a_hard_stop_across_rounds(client, emu, tmp_path):
    grid = small_grid(FOUR, (60, 200, 60))
    per_video = grid.estimate().usd / 4
    run = sd.run_adaptive(
        grid, budget_usd=5 * per_video, rounds=3, score=prompt_length, takes=2, client=client,
        run_root=tmp_path / "sweeps", name="tight", progress=False,
    )  # fmt: skip
    assert run.status == "budget" and len(run.sweeps) == 1 and "nothing was sent" in run.message
    assert emu.stats()["submissions"] == 4 and run.spent_usd <= 5 * per_video
    assert not list((tmp_path / "sweeps").glob("tight-round2*/journal.jsonl"))
    with pytest.raises(BudgetExceeded):
        sd.run_adaptive(grid, budget_usd=2 * per_video, client=client, run_root=tmp_path / "s2", score=prompt_length)
    assert emu.stats()["submissions"] == 4 and not (tmp_path / "s2").exists()


def test_adaptive_with_votes_stops_for_people_and_resumes(client, emu, tmp_path):
    grid = small_grid(FOUR[:2], (60, 60, 200))
    run = sd.run_adaptive(
        grid, budget_usd=5, rounds=2, score="votes", client=client, run_root=tmp_path / "sweeps", progress=False
    )
    assert run.status == "waiting" and len(run.sweeps) == 1 and ".resume()" in run.message
    with pytest.raises(InputError) as info:
        run.resume(client)
    assert info.value.problems[0].field == "score"
    duel = run.duel(seed=0)
    assert duel.next_round.layout.display != "none"
    for _ in range(3):
        duel.press("ArrowLeft" if duel.pair.values[0] == FOUR[1] else "ArrowRight")
    assert run.current.leaderboard().iloc[0]["prompt"] == FOUR[1]
    run.resume(client)
    assert run.status == "done" and set(run.sweeps[1].df["prompt"]) == {FOUR[1]}


def test_the_widget_runs_the_next_round(client, emu, tmp_path):
    from seedance_nb._sync import run_fresh

    run = sd.run_adaptive(
        small_grid(FOUR[:2], (200, 200, 60)), budget_usd=5, rounds=2, score="votes", takes=1, client=client,
        run_root=tmp_path / "sweeps", progress=False,
    )  # fmt: skip
    duel = run.duel(seed=4, client=client)
    duel.press("ArrowLeft")
    winner = run.current.leaderboard().iloc[0]["prompt"]

    async def click() -> None:
        duel.next_round.click()
        await duel.task

    run_fresh(click())
    assert run.status == "done" and duel.sweep is run.sweeps[1] and duel.next_round.disabled
    assert set(run.sweeps[1].df["prompt"]) == {winner}
    assert "Done: 2 round(s)" in duel.error.value and duel.pair is None  # one prompt left: nothing to duel


def test_promote_by_ratings_and_refuses_unknown_changes(sweep):
    sweep.rate(job_of(sweep, PROMPTS[1], 1), 5)
    sweep.rate(job_of(sweep, PROMPTS[0], 2), 2)
    plan = sweep.plan_promotion("prompt", top=1, takes=3, duration=8, seed=None)
    assert plan.values == [PROMPTS[1]] and plan.score == "rating"
    # Both seeds' inputs become one once the seed is unset: 3 takes of it, each with its own random seed.
    assert len(plan.grid) == 3 and {i.duration for i in plan.grid.inputs()} == {"8"}
    assert {i.seed for i in plan.grid.inputs()} == {None}
    assert {i.prompt for i in plan.grid.inputs()} == {PROMPTS[1]}
    with pytest.raises(InputError) as info:
        sweep.plan_promotion("prompt", top=1, takes=2)  # the parent's seeds are fixed
    assert info.value.problems[0].field == "takes" and "seed=None" in str(info.value)
    assert len(sweep.plan_promotion("prompt", top=1, takes=2, same_seed_ok=True).grid) == 4
    for bad, field in ((dict(resolutoin="720p"), "resolutoin"), (dict(prompt="x"), "prompt")):
        with pytest.raises(InputError) as info:
            sweep.plan_promotion("prompt", top=1, **bad)
        assert info.value.problems[0].field == field
    with pytest.raises(InputError) as info:
        sweep.plan_promotion("prompt", top=1, resolution="1080p")
    assert info.value.problems[0].field == "resolution"


def test_run_adaptive_async_takes_the_same_arguments(client, emu, tmp_path):
    grid = small_grid(FOUR[:2], (60, 200, 200))

    async def cell(**options):
        async with client:  # a cell's loop outlives the call; this one closes with the test
            return await sd.run_adaptive_async(grid, client=client, progress=False, **options)

    with pytest.raises(TypeError, match="unexpected keyword argument 'keep_'"):  # refused before anything is sent
        asyncio.run(cell(budget_usd=5, keep_=0.5, run_root=tmp_path / "typo"))
    with pytest.raises(InputError) as info:
        asyncio.run(cell(budget_usd=5, rounds=0, run_root=tmp_path / "bad"))
    assert info.value.problems[0].field == "rounds"
    assert emu.stats()["submissions"] == 0 and not (tmp_path / "typo").exists() and not (tmp_path / "bad").exists()
    run = asyncio.run(cell(budget_usd=5, rounds=1, score=prompt_length, run_root=tmp_path / "sweeps"))
    assert run.status == "done" and len(run.sweeps) == 1 and run.sweeps[0].run_dir.parent == tmp_path / "sweeps"
    assert emu.stats()["submissions"] == 2
