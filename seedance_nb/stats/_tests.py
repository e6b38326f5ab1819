"""The statistics under :func:`compare_groups` (pure numpy/scipy): a permutation test and a bootstrap interval
of a difference in means, Holm's adjustment, the takes a pair needs, and the Davidson tie model for duels."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

#: Exact permutation tests up to this many splits of the two groups' takes; Monte Carlo beyond.
EXACT_SPLITS = 20_000
#: Monte Carlo permutations (and bootstrap resamples) when a test is not exact.
RESAMPLES = 4_000
#: The power a "takes to settle it" figure plans for.
POWER = 0.8


def permutation_p(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, rng: np.random.Generator) -> float:
    """Two-sided p-value of the difference in means of ``a`` and ``b`` under relabelling of the takes (exact
    when there are at most :data:`EXACT_SPLITS` ways to split them, else Monte Carlo with ``rng``).

    Args:
        a: one group's values.
        b: the other's.
        rng: the seeded generator for the Monte Carlo case.
    """
    x = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    n, k = len(x), len(a)
    observed = abs(float(np.mean(a)) - float(np.mean(b)))
    if math.comb(n, k) <= EXACT_SPLITS:
        sums = _splits(n, k) @ x
        stats = np.abs(sums / k - (x.sum() - sums) / (n - k))
        return float(np.mean(stats >= observed - 1e-12))
    draws = np.argsort(rng.random((RESAMPLES, n)), axis=1)[:, :k]
    sums = x[draws].sum(axis=1)
    stats = np.abs(sums / k - (x.sum() - sums) / (n - k))
    return float((1 + np.sum(stats >= observed - 1e-12)) / (1 + RESAMPLES))


@functools.lru_cache(maxsize=64)
def _splits(n: int, k: int) -> Any:
    """Every way to pick ``k`` of ``n`` takes, as a 0/1 matrix (one row per split)."""
    picks = np.array(list(itertools.combinations(range(n), k)), dtype=np.intp)
    mask = np.zeros((len(picks), n))
    np.put_along_axis(mask, picks, 1.0, axis=1)
    return mask


def bootstrap_interval(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(a) - mean(b), resampling each group's takes.

    Args:
        a: one group's values.
        b: the other's.
        level: the interval's coverage (e.g. 0.99).
        rng: the seeded generator.
    """
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    ma = xa[rng.integers(0, len(xa), (RESAMPLES, len(xa)))].mean(axis=1)
    mb = xb[rng.integers(0, len(xb), (RESAMPLES, len(xb)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(ma - mb, [tail, 1 - tail])
    return float(low), float(high)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (family-wise error over all the pairs).

    Args:
        pvalues: one per pair.
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def takes_to_settle(effect: float, spread: float, alpha: float) -> int | None:
    """Takes per group that separate a true difference of ``effect`` at re-roll spread ``spread`` (standard
    deviation) with :data:`POWER`, at two-sided level ``alpha``: 2 ((z_{1-alpha/2} + z_power) spread / effect)^2,
    and at least the takes an exact permutation test needs to reach ``alpha`` at all (2 / C(2n, n) <= alpha: 4
    each at 0.05, since 3 against 3 can do no better than 0.1). None when the effect is 0 (no number of takes
    would). With no spread known yet (one take per group), the permutation test's floor: a lower bound.

    Args:
        effect: the difference in means.
        spread: the standard deviation between re-rolls of one cell.
        alpha: the (adjusted) significance level.
    """
    if not effect or not math.isfinite(effect):
        return None
    floor = next(n for n in range(2, 200) if 2 / math.comb(2 * n, n) <= alpha)
    if not math.isfinite(spread):
        return floor
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(POWER)
    return max(floor, math.ceil(2 * (z * spread / abs(effect)) ** 2))


# --------------------------------------------------------------------------- duels: Davidson's tie model


def _davidson_terms(theta: np.ndarray, log_nu: float, pairs: np.ndarray, ties: np.ndarray) -> Any:
    i, j = pairs[:, 0], pairs[:, 1]
    a, b = np.exp(theta[i]), np.exp(theta[j])
    c = np.exp(log_nu) * np.sqrt(a * b)
    return i, j, a, b, c, a + b + c


def davidson_fit(
    pairs: Sequence[tuple[int, int, str]], n: int, *, ridge: float = 0.1
) -> tuple[np.ndarray, np.ndarray, float]:
    """Strengths (log scale, centred), their covariance and the tie parameter nu of Davidson's (1970) model:
    P(i beats j) = pi_i / D, P(tie) = nu sqrt(pi_i pi_j) / D, D = pi_i + pi_j + nu sqrt(pi_i pi_j).

    A tie is its own outcome (not half a win); ``both_bad`` votes are left out. ``ridge`` is a Gaussian prior
    on the strengths that keeps them finite when a group never lost. The covariance is the inverse Hessian of
    the penalised negative log-likelihood at the estimate (numerical, from the analytic gradient).

    Args:
        pairs: ``(i, j, winner)`` with winner "a" (i won), "b" (j won) or "tie".
        n: the number of groups.
        ridge: the prior's precision.
    """
    from scipy.optimize import minimize

    kept = [(i, j, w) for i, j, w in pairs if w in ("a", "b", "tie")]
    if n <= 1 or not kept:
        return np.zeros(n), np.zeros((n, n)), float("nan")
    # orient each vote winner-first; ties keep their order
    rows = np.array([(j, i) if w == "b" else (i, j) for i, j, w in kept], dtype=np.intp)
    ties = np.array([w == "tie" for _i, _j, w in kept])

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, log_nu = params[:n], float(params[n])
        i, j, a, b, c, d = _davidson_terms(theta, log_nu, rows, ties)
        loglik = np.where(ties, log_nu + (theta[i] + theta[j]) / 2, theta[i]) - np.log(d)
        gi = np.where(ties, 0.5, 1.0) - (a + c / 2) / d
        gj = np.where(ties, 0.5, 0.0) - (b + c / 2) / d
        grad = np.zeros(n + 1)
        np.add.at(grad, i, gi)
        np.add.at(grad, j, gj)
        grad[n] = float(np.sum(ties.astype(float) - c / d))
        value = -float(loglik.sum()) + ridge / 2 * float(theta @ theta)
        return value, -grad + np.concatenate([ridge * theta, [0.0]])

    start = np.zeros(n + 1)
    start[n] = math.log(max(ties.mean(), 0.05))
    best = minimize(objective, start, jac=True, method="L-BFGS-B")
    params = np.asarray(best.x, float)
    step = 1e-5
    hessian = np.empty((n + 1, n + 1))
    for k in range(n + 1):
        up, down = params.copy(), params.copy()
        up[k] += step
        down[k] -= step
        hessian[k] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    hessian = (hessian + hessian.T) / 2
    cov = np.linalg.pinv(hessian)[:n, :n]
    theta = params[:n] - params[:n].mean()
    return theta, cov, float(math.exp(params[n]))
