"""Paired tests of two systems on the same examples, and Holm's correction across comparisons.

- Accuracy: McNemar's test on the discordant pairs; exact (two-sided binomial, p = 0.5) when
  there are fewer than 25, else chi-square with continuity correction.
- F1, ROUGE and other example-level statistics: paired permutation test (each example's two
  answers swapped at random; every one of the 2^n swaps when that is no more than `rounds`) and
  a paired percentile bootstrap interval for the difference. Both assume examples are independent.
- Likert ratings: Wilcoxon signed-rank on per-item means, in evaluation/ratings.py (paired_comparison).
- Holm's step-down adjustment controls the family-wise error (never less powerful than Bonferroni).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

#: statistic(predictions (B, n), gold (B, n)) -> (B,) values: one metric value per row.
RowStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]

EXACT_MCNEMAR_BELOW = 25


def mcnemar(correct_first: Sequence[bool], correct_second: Sequence[bool], *,
            exact_below: int = EXACT_MCNEMAR_BELOW) -> dict:
    """McNemar's test: does the second system answer correctly where the first did not, more often
    than the reverse? `n_first_only`: first right, second wrong; `n_second_only`: the reverse."""
    from scipy.stats import binomtest, chi2

    a, b = np.asarray(correct_first, bool), np.asarray(correct_second, bool)
    if a.shape != b.shape:
        raise ValueError(f"{a.size} and {b.size} answers: McNemar needs the same examples for both systems")
    first_only, second_only = int((a & ~b).sum()), int((~a & b).sum())
    discordant = first_only + second_only
    if discordant == 0:
        statistic, p_value, method = 0.0, 1.0, "no discordant pairs"
    elif discordant < exact_below:
        statistic = float(min(first_only, second_only))
        p_value = float(binomtest(second_only, discordant, 0.5).pvalue)
        method = "McNemar exact (binomial on discordant pairs)"
    else:
        statistic = (abs(first_only - second_only) - 1) ** 2 / discordant
        p_value = float(chi2.sf(statistic, 1))
        method = "McNemar chi-square with continuity correction"
    return {"test": "mcnemar", "method": method, "n": int(a.size), "n_first_only": first_only,
            "n_second_only": second_only, "statistic": float(statistic), "p_value": p_value}


def _swap_masks(n: int, rounds: int, seed: int):
    """(masks, exact): every swap pattern when 2^n <= rounds, else `rounds` random ones."""
    if n <= 20 and 2 ** n <= rounds:
        return np.array(list(itertools.product((False, True), repeat=n)), dtype=bool), True
    return np.random.default_rng(seed).random((rounds, n)) < 0.5, False


def paired_permutation(statistic: RowStatistic, first: np.ndarray, second: np.ndarray, gold: np.ndarray | None = None,
                       *, rounds: int = 10000, seed: int = 0, chunk: int = 1000) -> dict:
    """Two-sided permutation test of statistic(second) - statistic(first) = 0, swapping each
    example's two answers at random. p counts resamples at least as extreme as observed
    (+1 in numerator and denominator when sampled, so p is never 0)."""
    first, second = np.asarray(first), np.asarray(second)
    gold = np.zeros_like(first) if gold is None else np.asarray(gold)
    observed = float(statistic(second[None], gold[None])[0] - statistic(first[None], gold[None])[0])
    masks, exact = _swap_masks(first.size, rounds, seed)
    extreme = 0
    tolerance = 1e-12 * max(1.0, abs(observed))
    for start in range(0, len(masks), chunk):
        m = masks[start:start + chunk]
        g = np.broadcast_to(gold, m.shape)
        diff = statistic(np.where(m, first, second), g) - statistic(np.where(m, second, first), g)
        extreme += int((np.abs(diff) >= abs(observed) - tolerance).sum())
    p_value = extreme / len(masks) if exact else (extreme + 1) / (len(masks) + 1)
    return {"test": "paired permutation", "difference": observed, "p_value": float(p_value),
            "resamples": int(len(masks)), "exact": exact}


def paired_bootstrap(statistic: RowStatistic, first: np.ndarray, second: np.ndarray, gold: np.ndarray | None = None,
                     *, rounds: int = 10000, seed: int = 0, alpha: float = 0.05, chunk: int = 1000) -> dict:
    """Percentile interval of statistic(second) - statistic(first), resampling examples (pairs kept)."""
    first, second = np.asarray(first), np.asarray(second)
    gold = np.zeros_like(first) if gold is None else np.asarray(gold)
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, rounds, chunk):
        idx = rng.integers(0, first.size, (min(chunk, rounds - start), first.size))
        diffs.append(statistic(second[idx], gold[idx]) - statistic(first[idx], gold[idx]))
    diffs = np.concatenate(diffs)
    return {"ci_low": float(np.quantile(diffs, alpha / 2)), "ci_high": float(np.quantile(diffs, 1 - alpha / 2)),
            "interval": f"paired percentile bootstrap over examples, {rounds} resamples, seed {seed}"}


def mean_rows(values: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """The statistic of mean-type metrics (ROUGE, correct/incorrect): the row mean."""
    return np.asarray(values, float).mean(axis=1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
