"""How many decisive judgments a study needs to show a win rate different from 0.5."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom, norm


def normal_approximation_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """One-sample test of a proportion against 0.5, two-sided, normal approximation."""
    _check(expected, alpha, power)
    z_a, z_b = norm.ppf(1 - alpha / 2), norm.ppf(power)
    n = ((z_a * 0.5 + z_b * math.sqrt(expected * (1 - expected))) / (expected - 0.5)) ** 2
    return math.ceil(n)


def arcsine_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """statsmodels' planner (Cohen's h effect size, one sample)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    _check(expected, alpha, power)
    effect = abs(proportion_effectsize(expected, 0.5))
    return math.ceil(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=0))


def exact_power(n, expected: float, alpha: float = 0.05):
    """Power of the exact two-sided sign test (binomial, p0 = 0.5) with n decisive votes (n may be
    an array). The test rejects at k or fewer wins, or n - k or more, with k the largest count
    whose two-sided p-value 2 P(X <= k) is at most alpha."""
    n_values = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k = binom.ppf(alpha / 2, n_values, 0.5).astype(np.int64)
    k = np.where(2 * binom.cdf(k, n_values, 0.5) > alpha, k - 1, k)  # ppf may land one above the critical count
    power = np.where(k >= 0, binom.cdf(k, n_values, expected) + binom.sf(n_values - k - 1, n_values, expected), 0.0)
    return float(power[0]) if np.ndim(n) == 0 else power


def exact_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Smallest n from which the exact sign test keeps at least the power for every larger n.

    Power is saw-toothed in n, so the first n that reaches it is not enough: 0.55 first reaches
    0.8 at 807 but dips below again until 820. Power is computed up to a horizon well past the
    normal approximation, where its lowest value over the last stretch clears the target; the
    answer is one more than the last n below the target."""
    _check(expected, alpha, power)
    approx = normal_approximation_n(expected, alpha=alpha, power=power)
    horizon = max(4 * approx, approx + 400)
    values = exact_power(np.arange(1, horizon + 1), expected, alpha)
    if values[-max(50, horizon // 4):].min() < power:
        return None  # the tail has not settled above the target: no honest answer in range
    below = np.nonzero(values < power)[0]
    return int(below[-1] + 2) if len(below) else 1


def sample_size(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> dict:
    return {"expected_win_rate": expected, "alpha": alpha, "power": power,
            "normal_approximation": normal_approximation_n(expected, alpha=alpha, power=power),
            "arcsine_statsmodels": arcsine_n(expected, alpha=alpha, power=power),
            "exact_sign_test": exact_n(expected, alpha=alpha, power=power)}


def _check(expected: float, alpha: float, power: float) -> None:
    if not 0 < expected < 1 or expected == 0.5:
        raise ValueError("the expected win rate must be between 0 and 1 and not 0.5")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
