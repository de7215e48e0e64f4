"""How many decisive judgments a study needs to show a win rate different from 0.5."""

from __future__ import annotations

import math

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


def exact_power(n: int, expected: float, alpha: float = 0.05) -> float:
    """Power of the exact two-sided sign test (binomial, p0 = 0.5) with n decisive votes."""
    k = int(binom.ppf(alpha / 2, n, 0.5))
    while k >= 0 and 2 * binom.cdf(k, n, 0.5) > alpha:
        k -= 1
    if k < 0:
        return 0.0
    return float(binom.cdf(k, n, expected) + binom.sf(n - k - 1, n, expected))


def exact_n(expected: float, *, alpha: float = 0.05, power: float = 0.8, limit: int = 100_000) -> int | None:
    """Smallest n from which the exact sign test keeps at least the power (power is saw-toothed in n)."""
    _check(expected, alpha, power)
    start = max(5, normal_approximation_n(expected, alpha=alpha, power=power) // 2)
    for n in range(start, limit):
        if all(exact_power(m, expected, alpha) >= power for m in range(n, n + 10)):
            return n
    return None


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
