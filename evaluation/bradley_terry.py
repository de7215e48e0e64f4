"""Several systems in one study: Bradley-Terry scores (ties as half a win) with bootstrap
intervals, and the pairwise win-rate matrix of direct comparisons."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def _outcomes(rows: list[dict]) -> list[tuple[str, str, float]]:
    """(system a, system b, score of a): 1 a preferred, 0 b preferred, 0.5 tie or both bad."""
    out = []
    for row in rows:
        a, b = row["system_a"], row["system_b"]
        score = 1.0 if row["preferred_system"] == a else 0.0 if row["preferred_system"] == b else 0.5
        out.append((a, b, score))
    return out


def fit_bradley_terry(rows: list[dict]) -> dict[str, float]:
    """Maximum-likelihood log-strengths, centred to mean 0 (a tiny ridge keeps them finite
    when one system wins everything)."""
    outcomes = _outcomes(rows)
    systems = sorted({s for a, b, _ in outcomes for s in (a, b)})
    if len(systems) < 2:
        raise ValueError("Bradley-Terry needs judgments between at least two systems")
    index = {s: i for i, s in enumerate(systems)}
    a = np.array([index[o[0]] for o in outcomes])
    b = np.array([index[o[1]] for o in outcomes])
    y = np.array([o[2] for o in outcomes])

    def loss(theta):
        d = theta[a] - theta[b]
        nll = -(y * -np.logaddexp(0, -d) + (1 - y) * -np.logaddexp(0, d)).sum()
        grad_d = -(y - 1 / (1 + np.exp(-d)))
        grad = np.bincount(a, grad_d, len(systems)) - np.bincount(b, grad_d, len(systems))
        return nll + 1e-6 * theta @ theta, grad + 2e-6 * theta

    theta = minimize(loss, np.zeros(len(systems)), jac=True, method="L-BFGS-B").x
    theta -= theta.mean()
    return {s: float(theta[index[s]]) for s in systems}


def bradley_terry(rows: list[dict], *, rounds: int = 200, seed: int = 0, alpha: float = 0.05) -> dict:
    """Scores with percentile bootstrap intervals (judgments resampled) and the win matrix."""
    scores = fit_bradley_terry(rows)
    rng = np.random.default_rng(seed)
    samples = {s: [] for s in scores}
    for _ in range(rounds):
        draw = [rows[i] for i in rng.integers(0, len(rows), len(rows))]
        try:
            fitted = fit_bradley_terry(draw)
        except ValueError:
            continue
        for system in scores:
            if system in fitted:
                samples[system].append(fitted[system])
    intervals = {
        s: (float(np.quantile(v, alpha / 2)), float(np.quantile(v, 1 - alpha / 2))) if v else (None, None)
        for s, v in samples.items()
    }
    return {"scores": scores, "intervals": intervals, "rounds": rounds, "win_matrix": win_matrix(rows)}


def win_matrix(rows: list[dict]) -> dict[str, dict[str, float | None]]:
    """matrix[x][y]: share of direct x-vs-y judgments won by x (ties count half)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for a, b, score in _outcomes(rows):
        totals.setdefault((a, b), []).append(score)
        totals.setdefault((b, a), []).append(1 - score)
    systems = sorted({s for pair in totals for s in pair})
    return {x: {y: (sum(totals[(x, y)]) / len(totals[(x, y)]) if (x, y) in totals else None) for y in systems}
            for x in systems}
