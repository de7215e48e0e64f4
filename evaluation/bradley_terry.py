"""Several systems in one study: Bradley-Terry scores (ties as half a win) with bootstrap
intervals, and the pairwise win-rate matrix of direct comparisons. The report uses the vectorised
fit on aggregated pair tables; its reference (L-BFGS on rows) lives in tests/evaluation/reference.py."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from evaluation import crossed
from evaluation.intervals import unique_inverse
from evaluation.table import A, B, from_rows


def _outcomes(rows: list[dict]) -> list[tuple[str, str, float]]:
    """(system a, system b, score of a): 1 a preferred, 0 b preferred, 0.5 tie or both bad."""
    out = []
    for row in rows:
        a, b = row["system_a"], row["system_b"]
        score = 1.0 if row["preferred_system"] == a else 0.0 if row["preferred_system"] == b else 0.5
        out.append((a, b, score))
    return out


def _fit_batch(first: np.ndarray, second: np.ndarray, score: np.ndarray, count: np.ndarray, n_systems: int,
               iterations: int = 60) -> np.ndarray:
    """Bradley-Terry log-strengths for many aggregated tables at once (rounds x pairs of score and
    count), by Newton's method with a tiny ridge (1e-6, as the reference fit in tests); centred."""
    rounds = score.shape[0]
    theta = np.zeros((rounds, n_systems))
    eye = np.eye(n_systems)
    for _ in range(iterations):
        p = expit(theta[:, first] - theta[:, second])
        g = score - count * p  # d loglik / d (theta_first - theta_second), per pair
        w = count * p * (1 - p)
        grad = -2e-6 * theta
        hess = np.broadcast_to(-2e-6 * eye, (rounds, n_systems, n_systems)).copy()
        for j, (a, b) in enumerate(zip(first, second, strict=True)):
            grad[:, a] += g[:, j]
            grad[:, b] -= g[:, j]
            for x, y, sign in ((a, a, -1), (b, b, -1), (a, b, 1), (b, a, 1)):
                hess[:, x, y] += sign * w[:, j]
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        theta = theta - step
        if np.max(np.abs(step)) < 1e-9:
            break
    return theta - theta.mean(axis=1, keepdims=True)


def bradley_terry_table(table, *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Scores of every system with two-way (physicians and items) pigeonhole bootstrap intervals,
    vectorised over aggregated pair tables, and the win matrix; non-gold judgments only."""
    keep = ~table.is_gold
    sa, sb, choice = table.system_a[keep], table.system_b[keep], table.choice[keep]
    first, second = np.minimum(sa, sb), np.maximum(sa, sb)
    first_score = np.where(choice == A, sa == first, np.where(choice == B, sb == first, 0.5)).astype(float)
    # each judgment's compared pair, as the index of (first, second) among the sorted pairs
    keys, column = unique_inverse(first * len(table.systems) + second)
    pairs = [(int(k // len(table.systems)), int(k % len(table.systems))) for k in keys]
    pair_index = {pair: j for j, pair in enumerate(pairs)}
    # the judgments x (score, count per pair) table by its entries: each judgment has its pair's two
    columns = np.column_stack([2 * column, 2 * column + 1])
    entries = np.column_stack([first_score, np.ones(len(column))])
    p_first = np.array([a for a, _ in pairs])
    p_second = np.array([b for _, b in pairs])
    # sums of halves and ones: exact in any order (the table's column sums before, bit for bit)
    totals = np.bincount(columns.ravel(), weights=entries.ravel(), minlength=2 * len(pairs))[None, :]
    point = _fit_batch(p_first, p_second, totals[:, 0::2], totals[:, 1::2], len(table.systems))[0]
    sums = crossed.sparse_bootstrap_sums(table.rater[keep], table.item[keep], columns, entries, 2 * len(pairs),
                                         rounds=rounds, seed=seed, n_raters=len(table.raters),
                                         n_items=len(table.items))
    draws = _fit_batch(p_first, p_second, sums[:, 0::2], sums[:, 1::2], len(table.systems))
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    matrix: dict[str, dict[str, float | None]] = {x: dict.fromkeys(table.systems) for x in table.systems}
    for (a, b), j in pair_index.items():
        share = float(totals[0, 2 * j] / totals[0, 2 * j + 1])
        matrix[table.systems[a]][table.systems[b]] = share
        matrix[table.systems[b]][table.systems[a]] = 1 - share
    return {"scores": {s: float(point[i]) for i, s in enumerate(table.systems)},
            "intervals": {s: (float(low[i]), float(high[i])) for i, s in enumerate(table.systems)},
            "rounds": rounds, "interval": crossed.ASSUMES["two_way_bootstrap"], "win_matrix": matrix}


def bradley_terry(rows: list[dict], *, rounds: int = 200, seed: int = 0, alpha: float = 0.05) -> dict:
    """Scores with two-way bootstrap intervals and the win matrix (rows need item_id and rater)."""
    return bradley_terry_table(from_rows(rows), rounds=rounds, seed=seed, alpha=alpha)


def win_matrix(rows: list[dict]) -> dict[str, dict[str, float | None]]:
    """matrix[x][y]: share of direct x-vs-y judgments won by x (ties count half)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for a, b, score in _outcomes(rows):
        totals.setdefault((a, b), []).append(score)
        totals.setdefault((b, a), []).append(1 - score)
    systems = sorted({s for pair in totals for s in pair})
    return {x: {y: (sum(totals[(x, y)]) / len(totals[(x, y)]) if (x, y) in totals else None) for y in systems}
            for x in systems}
