"""The report's own code for what it took from statsmodels and scipy.optimize (Cohen's kappa, the
Mantel-Haenszel pooled odds ratio, the arcsine planner, Brent's method): equal (==) to the
libraries, which stay the references here. The report imports neither (~0.6 s of CPU)."""

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from evaluation.agreement import kappa_and_se
from evaluation.contingency import mantel_haenszel
from evaluation.power import _brentq, arcsine_n


def _same(x, y) -> bool:
    return x == y or (np.isnan(x) and np.isnan(y))


def test_kappa_and_its_standard_error_equal_statsmodels():
    rng = np.random.default_rng(1)
    tables = [np.diag([5.0, 7.0]), np.diag([3.0, 0.0, 4.0]), np.array([[20.0, 5.0], [10.0, 15.0]])]
    tables += [rng.integers(0, rng.integers(1, 60), (k, k)).astype(float) for k in rng.integers(2, 6, 300)]
    checked = 0
    for table in tables:
        if table.sum() == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            reference = cohens_kappa(table)
        kappa, std = kappa_and_se(table)
        assert _same(kappa, reference.kappa) and _same(std, reference.std_kappa), table
        checked += 1
    assert checked > 250


def test_mantel_haenszel_equals_statsmodels_stratified_table():
    rng = np.random.default_rng(2)
    for case in range(300):
        tables = [rng.integers(0, rng.integers(2, 3000), (2, 2)).astype(float) for _ in range(rng.integers(1, 5))]
        tables = [t + 0.5 if (t == 0).any() else t for t in tables]  # as the position check pads them
        alpha = (0.05, 0.01, 0.1)[case % 3]
        reference = StratifiedTable([t.tolist() for t in tables])
        low, high = reference.oddsratio_pooled_confint(alpha=alpha)
        got = mantel_haenszel([t.tolist() for t in tables], alpha=alpha)
        assert got["odds_ratio"] == reference.oddsratio_pooled
        assert (got["ci_low"], got["ci_high"]) == (low, high)
        assert got["p_value"] == reference.test_null_odds().pvalue
    with pytest.raises(ValueError, match="2 x 2"):
        mantel_haenszel([np.ones((2, 3))])


def test_arcsine_n_equals_statsmodels_normal_ind_power():
    rates = np.round(np.concatenate([np.linspace(0.01, 0.99, 99), np.random.default_rng(0).random(60)]), 6)
    checked = 0
    for alpha, power in ((0.05, 0.8), (0.01, 0.9), (0.2, 0.5)):
        for rate in rates[rates != 0.5].tolist():
            effect = abs(proportion_effectsize(rate, 0.5))
            with warnings.catch_warnings():  # statsmodels fails (nan) where the power is reached below n = 2
                warnings.simplefilter("ignore")
                reference = np.squeeze(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power,
                                                                    ratio=0))
            if np.isfinite(reference):
                assert arcsine_n(rate, alpha=alpha, power=power) == math.ceil(reference), (rate, alpha, power)
                checked += 1
            else:  # as before: statsmodels' own answer, which has no n
                with pytest.raises((ValueError, TypeError)), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arcsine_n(rate, alpha=alpha, power=power)
    assert checked > 400


def test_brentq_equals_scipy_to_the_last_bit():
    functions = [lambda x: x**3 - 2 * x - 5, lambda x: math.exp(x) - 3.7, lambda x: math.cos(x) - x,
                 lambda x: math.atan(x - 1.234) * 1e-6]
    for f, (a, b) in zip(functions, ((2, 3), (-2, 5), (0, 1), (-40, 200)), strict=True):
        for xtol in (1e-5, 2e-12):
            assert _brentq(f, a, b, xtol=xtol) == brentq(f, a, b, xtol=xtol)
    with pytest.raises(ValueError, match="different signs"):
        _brentq(lambda x: x * x + 1, -1, 1, xtol=1e-5)
