"""Row-based reference implementations of report statistics (issue 25: tests own their
references). Each works on plain judgment rows (dicts) with a loop or a general-purpose optimiser,
independently of the columnar code the report runs, and the tests compare the two."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from evaluation.bias import length_bias_table, position_bias_table
from evaluation.bradley_terry import _outcomes
from evaluation.contract import DECISIVE, Choice
from evaluation.table import from_rows
from evaluation.winrate import WinRate, credibly_below, from_counts, per_rater_table


def tally(rows: list[dict], system: str) -> tuple[int, int, int, int]:
    """(wins, losses, ties, both_bad) of `system`."""
    wins = losses = ties = both_bad = 0
    for row in rows:
        if row["choice"] == Choice.tie:
            ties += 1
        elif row["choice"] == Choice.both_bad:
            both_bad += 1
        elif row["preferred_system"] == system:
            wins += 1
        else:
            losses += 1
    return wins, losses, ties, both_bad


def win_rate(rows: list[dict], system: str, *, alpha: float = 0.05) -> WinRate:
    return from_counts(system, *tally(rows, system), alpha=alpha)


def per_rater(rows: list[dict], system: str) -> list[dict]:
    """Win rate of `system` for each rater, with their gold-item accuracy."""
    return per_rater_table(from_rows(rows), system)


def excluding_low_gold(rows: list[dict], threshold: float) -> tuple[list[dict], list[str]]:
    """Rows of raters whose gold accuracy is not credibly below `threshold` (raters without gold stay)."""
    accuracy: dict[str, list[bool]] = {}
    for row in rows:
        if row.get("is_gold"):
            accuracy.setdefault(row["rater"], []).append(row["preferred_system"] == row["gold_better"])
    dropped = sorted(r for r, hits in accuracy.items() if credibly_below(sum(hits), len(hits), threshold))
    return [r for r in rows if r["rater"] not in dropped], dropped


def position_bias(rows: list[dict], *, alpha: float = 0.05) -> dict:
    """The report's position checks on rows (a convenience for tests; the references they are
    checked against are scipy's and statsmodels' in the tests themselves)."""
    if not any(r["choice"] in DECISIVE for r in rows):
        return {"n": 0, "note": "no decisive judgments"}
    return position_bias_table(from_rows(rows), alpha=alpha)


def length_bias(rows: list[dict], system: str, *, alpha: float = 0.05) -> dict:
    """The report's length checks on rows (a convenience for tests, as position_bias)."""
    if not rows:
        return {"n": 0, "note": "no judgments"}
    return length_bias_table(from_rows(rows), system, alpha=alpha)


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


