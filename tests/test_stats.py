"""Noise-aware comparisons and the cost/quality frontier (issue 29): separating a designed difference from a
seed's luck, ties in duels as ties, a known frontier and what to buy next."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import seedance_nb as sd
from seedance_nb.errors import InputError
from seedance_nb.stats import REAL, UNDECIDED, davidson_fit, holm, pareto, permutation_p, takes_to_settle
from seedance_nb.statuses import JobStatus

#: Each prompt's mean ``motion`` in the simulated grid: A and B differ by design, C and D only by seed.
DESIGN = {"A: a slow push in": 0.030, "B: a whip pan": 0.060, "C: a calm lake": 0.045, "D: a calm lake, again": 0.045}
#: The spread of ``motion`` between re-rolls of one emulator cell (seeds), and the takes per cell.
SPREAD, TAKES = 0.006, 6
COST = 0.0864  # est_cost_usd of a 4 s 480p take on the fast endpoint


def _grid(rng: np.random.Generator, design=DESIGN, takes=TAKES, spread=SPREAD, cost=COST) -> pd.DataFrame:
    rows = []
    for prompt, mean in design.items():
        for take in range(takes):
            rows.append(
                {
                    "job": len(rows),
                    "prompt": prompt,
                    "take": take,
                    "status": JobStatus.COMPLETED,
                    "motion": max(0.0, rng.normal(mean, spread)),
                    "est_cost_usd": cost,
                }
            )
    return pd.DataFrame(rows)


def _verdict(table: pd.DataFrame, a: str, b: str) -> str:
    row = table[((table["a"] == a) & (table["b"] == b)) | ((table["a"] == b) & (table["b"] == a))]
    assert len(row) == 1
    return str(row["verdict"].iloc[0])


def test_a_designed_difference_is_real_and_a_seed_only_one_is_not_in_95_percent_of_200_grids():
    a, b, c, d = DESIGN
    separated = confused = 0
    for repetition in range(200):
        table = sd.compare_groups(_grid(np.random.default_rng(repetition)), by="prompt", metric="motion", seed=1)
        separated += _verdict(table, a, b) == REAL
        confused += _verdict(table, c, d) == REAL
    assert separated >= 190, separated
    assert confused <= 10, confused


def test_the_table_says_what_would_settle_an_undecided_pair_and_is_deterministic():
    design = {"near": 0.045, "nearer": 0.048}
    df = _grid(np.random.default_rng(7), design=design, takes=3)
    first = sd.compare_groups(df, metric="motion", seed=3)
    assert first.equals(sd.compare_groups(df, metric="motion", seed=3))
    (row,) = first.to_dict("records")
    assert row["verdict"] == UNDECIDED and row["takes_a"] == row["takes_b"] == 3
    assert row["ci_low"] < 0 < row["ci_high"] or row["p_adjusted"] > 0.05
    assert row["more_takes"] > 0 and row["more_cost_usd"] == pytest.approx(row["more_takes"] * COST, abs=1e-3)
    # three takes against three can never be "real" by an exact permutation test at 95 %: 2/20 = 0.1 at best
    far = sd.compare_groups(_grid(np.random.default_rng(1), design={"x": 0.01, "y": 0.09}, takes=3), metric="motion")
    assert far["verdict"].iloc[0] == UNDECIDED and far["p_value"].iloc[0] == pytest.approx(0.1)
    assert far["more_takes"].iloc[0] > 0


def test_ratings_compare_too_and_bad_input_names_the_field():
    df = _grid(np.random.default_rng(2))
    df["rating"] = [5 if p.startswith("B") else 2 for p in df["prompt"]]
    table = sd.compare_groups(df, metric="rating")
    assert _verdict(table, "A: a slow push in", "B: a whip pan") == REAL
    with pytest.raises(InputError, match="metric"):
        sd.compare_groups(df, metric="sharpness")
    with pytest.raises(InputError, match="level"):
        sd.compare_groups(df, level=1.5)
    with pytest.raises(InputError, match="votes"):
        sd.compare_groups(df, metric="duels")


def test_the_pieces():
    rng = np.random.default_rng(0)
    assert permutation_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], rng) == pytest.approx(0.1)
    assert permutation_p([1.0] * 30, [1.0] * 30, rng) == 1.0  # Monte Carlo: 60 choose 30 splits
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert (
        takes_to_settle(0.0, 1.0, 0.05) is None
        and takes_to_settle(1.0, 1.0, 0.05) == 16
        and takes_to_settle(9.0, 1.0, 0.05) == 4
    )
    assert pareto([1, 2, 2, 3], [1, 2, 1, 3]) == [True, True, False, True]


# --------------------------------------------------------------------------- duels: ties as ties


def _votes(pairs: list[tuple[int, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"vote": i, "at": "", "a": a, "b": b, "winner": w, "voter": "t"} for i, (a, b, w) in enumerate(pairs)]
    )


def test_duels_use_davidson_ties_and_separate_a_clear_winner_only():
    df = _grid(np.random.default_rng(0), design={"p": 0.0, "q": 0.0, "r": 0.0}, takes=2)  # jobs 0-1 p, 2-3 q, 4-5 r
    votes = [(0, 2, "a")] * 14 + [(1, 3, "a")] * 14 + [(2, 0, "a")] * 1  # p beats q 28 to 1
    votes += [(2, 4, "tie")] * 10 + [(3, 5, "a"), (5, 3, "a")]  # q and r: ties, one win each
    table = sd.compare_groups(df, metric="duels", votes=_votes(votes))
    assert _verdict(table, "p", "q") == REAL and _verdict(table, "q", "r") == UNDECIDED
    row = table[(table["a"] == "q") & (table["b"] == "r") | (table["a"] == "r") & (table["b"] == "q")].iloc[0]
    assert row["more_votes"] is None or row["more_votes"] >= 1
    # a tie is its own outcome: nu > 0, and ten ties do not move q and r apart
    theta, cov, nu = davidson_fit([(1, 2, "tie")] * 10 + [(1, 2, "a"), (2, 1, "a")], 3)
    assert nu > 1 and abs(theta[1] - theta[2]) < 1e-6 and np.all(np.isfinite(cov))


# --------------------------------------------------------------------------- the frontier


def test_the_frontier_of_a_grid_with_a_known_frontier_and_what_to_buy_next():
    # (cost per take, mean quality): cheap, mid and dear are the frontier; "dominated" costs as much as mid for
    # less, "pricey" more than dear for less; "cheap <b>" is as good as cheap-ish, and undecided against it.
    design = {
        "cheap": (0.05, 0.30),
        "mid": (0.10, 0.50),
        "dominated": (0.10, 0.20),
        "dear": (0.30, 0.80),
        "pricey": (0.40, 0.70),
    }
    rng = np.random.default_rng(5)
    rows = []
    for prompt, (cost, quality) in design.items():
        for take in range(4):
            value = quality + (rng.normal(0, 0.002) if prompt != "cheap" else rng.normal(0, 0.25))
            rows.append({"job": len(rows), "prompt": prompt, "take": take, "status": JobStatus.COMPLETED,
                         "motion": value, "est_cost_usd": cost})  # fmt: skip
    result = sd.frontier(pd.DataFrame(rows), quality="motion", by="prompt")
    table = result.table
    assert set(table[table["on_frontier"]]["group"]) == {"cheap", "mid", "dear"}
    assert list(table["group"])[:1] == ["cheap"] and table["cost_usd"].is_monotonic_increasing
    assert result.next is not None and result.next["group"] == "cheap"  # noisy: undecided against the others
    assert result.next["more_takes"] > 0 and "more takes" in result.next["why"]
    svg = result.svg()
    assert svg.startswith("<svg") and svg.count("<circle") == 5 and "<polyline" in svg
    html = result._repr_html_()
    assert "What to buy next" in html and "cheap" in html


def test_frontier_labels_are_escaped():
    rows = [
        {"job": i, "prompt": p, "status": JobStatus.COMPLETED, "motion": m, "est_cost_usd": c}
        for i, (p, m, c) in enumerate([("<script>x</script>", 0.1, 0.1), ("b&b", 0.2, 0.2), ("b&b", 0.21, 0.2)])
    ]
    svg = sd.frontier(pd.DataFrame(rows)).svg()
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;b" in svg
    assert math.isfinite(float(sd.frontier(pd.DataFrame(rows)).table["quality"].iloc[0]))


def test_the_report_section_and_the_gallery_line_mark_an_undecided_winner():
    from seedance_nb.stats import noise_section_html, winner_note

    close = _grid(np.random.default_rng(3), design={"<b>first</b>": 0.046, "second": 0.045}, takes=3)
    html = noise_section_html(close, metric="motion")
    assert 'id="noise"' in html and "not yet distinguishable" in html and "&lt;b&gt;first&lt;/b&gt;" in html
    assert "<b>first</b>" not in html and "<svg" in html and "What to buy next" in html
    far = _grid(np.random.default_rng(3), design={"calm": 0.01, "lively": 0.09}, takes=6)
    table = sd.compare_groups(far)
    note = winner_note(table, {"calm": 0.01, "lively": 0.09}, "motion")
    assert "lively" in note and "really ahead" in note and "not yet" not in note
    assert noise_section_html(far.drop(columns=["motion"])) == ""
