"""evaluation.distributions against scipy.stats and statsmodels: the same numbers, bit for bit."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint as sm_confint

from evaluation import distributions as d

Q = np.array([0.0, 1e-300, 1e-12, 1e-6, 0.001, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.999, 1 - 1e-12, 1.0])
DF = np.array([0.5, 1, 2, 3, 4.5, 7, 10, 29, 30, 49, 100, 1e4, 1e8])
X = np.array([-np.inf, -40.0, -5.0, -1.96, -0.5, -0.0, 0.0, 1e-9, 0.3, 1.0, 2.5, 8.0, 40.0, np.inf, np.nan])


def same(ours, theirs):
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert np.shape(ours) == np.shape(theirs)


def test_t_and_normal_equal_scipy_on_a_grid():
    for df in DF:
        for q in Q:
            same(d.t_ppf(q, df), stats.t.ppf(q, df))
        for x in X:
            same(d.t_sf(x, df), stats.t.sf(x, df))
    same(d.t_ppf(Q[:, None], DF[None, :]), stats.t.ppf(Q[:, None], DF[None, :]))
    same(d.t_sf(X[:, None], DF[None, :]), stats.t.sf(X[:, None], DF[None, :]))
    for bad in (0.0, -1.0, np.nan):
        assert np.isnan(d.t_ppf(0.5, bad)) and np.isnan(d.t_sf(1.0, bad))
    same(d.norm_ppf(Q), stats.norm.ppf(Q))
    same(d.norm_isf(Q), stats.norm.isf(Q))
    assert d.norm_ppf(0.975) == stats.norm.ppf(0.975) and isinstance(d.norm_ppf(0.975), np.floating)
    assert np.isnan(d.norm_ppf(1.5))


@pytest.mark.filterwarnings("ignore:Error in function boost")  # scipy warns the same at 1e-300
def test_beta_quantiles_equal_scipy_on_a_grid():
    shapes = np.array([0.5, 1, 2, 3, 17, 99.5, 1000, 1e5])
    for a in shapes:
        for b in shapes:
            same(d.beta_ppf(Q, a, b), stats.beta.ppf(Q, a, b))
            same(d.beta_isf(Q, a, b), stats.beta.isf(Q, a, b))
    assert np.isnan(d.beta_ppf(0.5, 0, 3)) and np.isnan(d.beta_isf(0.5, 3, 0))


def _cases():
    rng = np.random.default_rng(7)
    cases = [(k, n, p) for n in (1, 2, 3, 5, 10, 11, 24, 25, 50, 101)
             for k in range(n + 1) for p in (0.0, 0.01, 0.1, 1 / 3, 0.5, 0.8, 0.99, 1.0)]
    for n in rng.integers(1, 200_000, 120):
        for p in (0.5, rng.random(), 0.05):
            cases += [(int(k), int(n), float(p)) for k in rng.integers(0, n + 1, 4)] + [(int(round(n * p)), int(n), float(p))]
    return cases


def test_binomial_functions_and_test_equal_scipy():
    cases = _cases()
    assert len(cases) > 2500
    for k, n, p in cases:
        assert d.binom_pmf(k, n, p) == stats.binom.pmf(k, n, p), (k, n, p)
        assert d.binom_cdf(k, n, p) == stats.binom.cdf(k, n, p), (k, n, p)
        assert d.binom_sf(k - 1, n, p) == stats.binom.sf(k - 1, n, p), (k, n, p)
        for alternative in ("two-sided", "less", "greater"):
            assert d.binomtest_pvalue(k, n, p, alternative) == stats.binomtest(k, n, p, alternative).pvalue, \
                (k, n, p, alternative)
    assert d.binom_pmf(2.5, 5, 0.5) == 0.0 and d.binom_cdf(-1, 5, 0.5) == 0.0 and d.binom_sf(5, 5, 0.5) == 0.0


def test_binomial_functions_on_arrays_equal_scipy():
    n = np.arange(1, 3000)  # as evaluation.power's exact sign test asks them
    k = stats.binom.ppf(0.025, n, 0.5).astype(np.int64)
    same(d.binom_ppf(0.025, n, 0.5), stats.binom.ppf(0.025, n, 0.5))
    for p in (0.5, 0.55, 0.7):
        same(d.binom_cdf(k, n, p), stats.binom.cdf(k, n, p))
        same(d.binom_sf(n - k - 1, n, p), stats.binom.sf(n - k - 1, n, p))
    ks = np.array([-np.inf, -1, 0, 0.5, 1, 2.7, 5, 6, 7, np.inf, np.nan])
    for n_, p in ((5, 0.3), (6, 0.0), (6, 1.0), (0, 0.5), (-1, 0.5), (4.5, 0.5), (5, 1.5), (5, np.nan)):
        for f, g in ((d.binom_pmf, stats.binom.pmf), (d.binom_cdf, stats.binom.cdf), (d.binom_sf, stats.binom.sf)):
            same(f(ks, n_, p), g(ks, n_, p))
        same(d.binom_ppf(Q, n_, p), stats.binom.ppf(Q, n_, p))


def test_binomtest_rejects_bad_input_clearly():
    for k, n, p, alternative in ((3, 2, 0.5, "less"), (-1, 4, 0.5, "less"), (1, 0, 0.5, "less"),
                                 (1, 4, 1.5, "less"), (1, 4, 0.5, "sideways"), (1.5, 4, 0.5, "less")):
        with pytest.raises(ValueError):
            d.binomtest_pvalue(k, n, p, alternative)


@pytest.mark.parametrize("method", ["wilson", "beta"])
def test_proportion_intervals_equal_statsmodels(method):
    for n in (1, 2, 3, 7, 20, 99, 1000, 123_457):
        for count in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for alpha in (0.01, 0.05, 0.1, 0.2):
                ours, theirs = d.proportion_confint(count, n, alpha, method), sm_confint(count, n, alpha, method)
                assert ours == theirs and all(type(v) is float for v in ours), (count, n, alpha)
    counts, nobs = np.array([0, 1, 5, 9, 40, 3]), np.array([1, 4, 5, 20, 41, 3])
    for ours, theirs in zip(d.proportion_confint(counts, nobs, 0.05, method), sm_confint(counts, nobs, 0.05, method), strict=True):
        same(ours, theirs)
    with pytest.raises(ValueError):
        d.proportion_confint(1, 4, 0.05, "normal")
