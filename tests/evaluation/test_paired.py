"""Paired tests and Holm's correction, checked against statsmodels and scipy."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from evaluation.classification import macro_f1_rows
from evaluation.paired import holm, mcnemar, mean_rows, paired_bootstrap, paired_permutation


def table(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]


@pytest.mark.parametrize("n,p_first,p_second,seed", [(30, 0.5, 0.7, 0), (40, 0.6, 0.6, 1), (400, 0.5, 0.6, 2),
                                                     (1000, 0.3, 0.35, 3)])
def test_mcnemar_matches_statsmodels(n, p_first, p_second, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) < p_first, rng.random(n) < p_second
    ours = mcnemar(a, b)
    discordant = ours["n_first_only"] + ours["n_second_only"]
    ref = sm_mcnemar(table(a, b), exact=discordant < 25, correction=True)
    assert ours["p_value"] == pytest.approx(ref.pvalue)
    assert ("exact" in ours["method"]) == (discordant < 25)


def test_mcnemar_without_discordant_pairs():
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0


def exact_sign_flip_p(diffs):
    """Reference by brute force: every assignment of signs to the per-example differences."""
    observed = abs(diffs.mean())
    flips = [abs((np.array(s) * diffs).mean()) >= observed - 1e-12
             for s in np.array(np.meshgrid(*[[-1, 1]] * len(diffs))).reshape(len(diffs), -1).T]
    return np.mean(flips)


def test_permutation_exact_for_means_equals_sign_flip_enumeration():
    rng = np.random.default_rng(5)
    a, b = rng.random(10), rng.random(10) + 0.2
    ours = paired_permutation(mean_rows, a, b, rounds=5000)
    assert ours["exact"] and ours["resamples"] == 1024
    assert ours["p_value"] == pytest.approx(exact_sign_flip_p(b - a))


def test_permutation_for_macro_f1_matches_scipy_exact():
    rng = np.random.default_rng(6)
    gold = rng.integers(0, 3, 12)
    first = np.where(rng.random(12) < 0.4, gold, rng.integers(0, 3, 12))
    second = np.where(rng.random(12) < 0.8, gold, rng.integers(0, 3, 12))

    def f1(x, axis=-1):
        return macro_f1_rows(np.broadcast_to(gold, np.shape(x)), x, 3)

    ours = paired_permutation(lambda p, g: macro_f1_rows(g, p, 3), first, second, gold, rounds=10000)
    ref = stats.permutation_test((second, first), lambda x, y, axis=-1: f1(x) - f1(y), permutation_type="samples",
                                 vectorized=True, n_resamples=np.inf, alternative="two-sided")
    assert ours["exact"]
    assert ours["difference"] == pytest.approx(ref.statistic)
    assert ours["p_value"] == pytest.approx(ref.pvalue)


def test_permutation_sampled_agrees_with_scipy_within_monte_carlo_error():
    rng = np.random.default_rng(7)
    a = rng.random(150)
    b = a + rng.normal(0.05, 0.3, 150)
    ours = paired_permutation(mean_rows, a, b, rounds=20000, seed=1)
    ref = stats.permutation_test((b, a), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), permutation_type="samples",
                                 vectorized=True, n_resamples=20000, random_state=2)
    assert not ours["exact"]
    assert ours["p_value"] == pytest.approx(ref.pvalue, abs=0.01)


def test_paired_bootstrap_agrees_with_scipy():
    rng = np.random.default_rng(8)
    a, b = rng.random(200), rng.random(200) + 0.1
    ours = paired_bootstrap(mean_rows, a, b, rounds=5000, seed=3)
    ref = stats.bootstrap((b - a,), np.mean, n_resamples=5000, method="percentile", random_state=4).confidence_interval
    assert ours["ci_low"] == pytest.approx(ref.low, abs=0.01)
    assert ours["ci_high"] == pytest.approx(ref.high, abs=0.01)


@pytest.mark.parametrize("seed", range(4))
def test_holm_matches_statsmodels(seed):
    p = np.random.default_rng(seed).random(7) ** 3
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
