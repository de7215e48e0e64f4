"""The one interval engine (evaluation/intervals.py) against independent references: statsmodels'
two-way clustered OLS, scipy's t distribution, and Kish's effective sample size computed by hand."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit, logit

from evaluation import crossed, intervals


def uneven(seed=0, raters=6, items=80, heavy=0.6):
    """One physician judges `heavy` of the items' single judgments, the others share the rest."""
    rng = np.random.default_rng(seed)
    shares = np.r_[heavy, np.full(raters - 1, (1 - heavy) / (raters - 1))]
    r = rng.choice(raters, size=items, p=shares)
    i = np.arange(items)
    y = (rng.random(items) < expit(0.3 + 0.5 * rng.standard_normal(raters)[r])).astype(float)
    return r, i, y


def test_df_follow_the_effective_number_of_physicians():
    r, i, y = uneven()
    result = intervals.ratio_interval(r, i, y, np.ones_like(y), null=0.5)
    counts = np.bincount(r)
    kish = counts.sum() ** 2 / (counts ** 2).sum()
    assert result["effective_physicians"] == pytest.approx(kish)
    assert result["df"] == pytest.approx(kish - 1)
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([r, i])})
    p = y.mean()
    se_logit = fit.bse[0] / (p * (1 - p))
    half = stats.t.ppf(0.975, kish - 1) * se_logit
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((expit(logit(p) - half), expit(logit(p) + half)))
    assert result["p_value"] == pytest.approx(2 * stats.t.sf(abs(logit(p)) / se_logit, kish - 1))
    head_count = intervals.ratio_interval(r, i, y, np.ones_like(y), df_rule="physicians")
    assert head_count["df"] == len(set(r.tolist())) - 1 and head_count["se"] == pytest.approx(result["se"])


def test_p_value_inverts_the_interval():
    for seed in range(20):
        r, i, y = uneven(seed, heavy=0.2)
        result = intervals.ratio_interval(r, i, y, np.ones_like(y), null=0.5)
        excluded = not result["ci_low"] <= 0.5 <= result["ci_high"]
        assert (result["p_value"] < 0.05) == excluded


def test_workload_warning_in_words():
    r, i, y = uneven(heavy=0.6)
    load = intervals.workload(r)
    assert load["heavy"] and load["largest_share"] > 1 / 3
    assert "carries" in intervals.workload_warning(load) and "effective physicians" in intervals.workload_warning(load)
    assert intervals.workload_warning(intervals.workload(np.arange(60) % 6)) is None
    columns = np.column_stack([y, np.ones_like(y)])
    headline = crossed.interval_set(r, i, columns, {"rate": (0, 1)}, rounds=100, null=0.5)["rate"]["headline"]
    assert "carries" in headline["workload_warning"] and headline["p_value"] is not None


def test_difference_of_means_matches_statsmodels_with_physician_by_system_interaction():
    rng = np.random.default_rng(3)
    raters, items = 8, 40
    r = np.repeat(np.arange(raters), items * 2)
    i = np.tile(np.repeat(np.arange(items), 2), raters)
    second = np.tile([0, 1], raters * items).astype(bool)
    taste = 0.5 * rng.standard_normal(raters)  # how much each physician prefers the second system
    y = 3 + rng.standard_normal(items)[i] + np.where(second, taste[r], 0) + rng.standard_normal(len(r))
    result = intervals.difference_of_means(y, second, r, i)
    fit = sm.OLS(y, sm.add_constant(second.astype(float))).fit(cov_type="cluster",
                                                              cov_kwds={"groups": np.column_stack([r, i])})
    se = fit.bse[1] * np.sqrt((len(y) - 2) / (len(y) - 1))  # statsmodels adds (N-1)/(N-k) for k = 2 regressors
    assert result["estimate"] == pytest.approx(fit.params[1])
    assert result["se"] == pytest.approx(se)
    assert result["p_value"] == pytest.approx(2 * stats.t.sf(abs(fit.params[1]) / se, raters - 1))


def test_identity_scale_and_edge_cases():
    r, i, y = uneven(heavy=0.2)
    values = y * 4 + 1
    result = intervals.ratio_interval(r, i, values, np.ones_like(values), scale="identity")
    assert result["ci_low"] < values.mean() < result["ci_high"]
    assert result["ci_high"] - values.mean() == pytest.approx(values.mean() - result["ci_low"])
    assert intervals.ratio_interval(r, i, np.ones(len(r)), np.ones(len(r)))["ci_low"] is None  # rate 1
    assert intervals.ratio_interval(np.zeros(5), np.arange(5), np.r_[1, 0, 1, 0, 1], np.ones(5))["ci_low"] is None
    with pytest.raises(ValueError):
        intervals.ratio_interval(r, i, y, np.ones_like(y), scale="probit")


def test_uneven_workload_coverage_small_study():
    """bench/coverage.py in small, with its own simulator: 5 physicians, one judging 60% of 150
    items, physician sd 0.5 and item sd 1.0 (logit): t on effective physicians keeps coverage,
    t on the head count does not."""
    rng = np.random.default_rng(7)
    studies, hits_new, hits_old = 200, 0, 0
    for _ in range(studies):
        r = rng.choice(5, size=150, p=[0.6, 0.1, 0.1, 0.1, 0.1])
        i = np.arange(150)
        y = (rng.random(150) < expit(0.5 * rng.standard_normal(5)[r] + rng.standard_normal(150))).astype(float)
        new = intervals.ratio_interval(r, i, y, np.ones_like(y))
        old = intervals.ratio_interval(r, i, y, np.ones_like(y), df_rule="physicians")
        hits_new += new["ci_low"] <= 0.5 <= new["ci_high"]
        hits_old += old["ci_low"] <= 0.5 <= old["ci_high"]
    assert hits_new / studies >= 0.93  # bench (500 studies): 0.98-0.99
    assert hits_old / studies < hits_new / studies


@pytest.mark.parametrize("values", [[5, 5, 3], [0], [7, 0, 7, 2], [-1, 2, 2], [10**12, 3], ["b", "a", "b"], [2.0, 1.0]])
def test_codes_are_np_uniques_inverse(values):
    """Labels that are small non-negative integers are coded by counting, others by sorting: the
    codes are np.unique's inverse either way."""
    from evaluation.intervals import codes

    uniques, inverse = np.unique(np.asarray(values), return_inverse=True)
    found, count = codes(np.asarray(values))
    assert found.dtype == np.int64 and np.array_equal(found, inverse) and count == len(uniques)
    many = np.random.default_rng(0).integers(0, 300, 10_000)
    assert np.array_equal(codes(many)[0], np.unique(many, return_inverse=True)[1])


@pytest.mark.parametrize("high", [1, 300, 80_000, 81_100, 10**9])  # marked (range < 8 x labels + 1024) or sorted
def test_unique_inverse_is_np_uniques(high):
    """Marked or sorted, the same uniques and inverse as np.unique, in the same sorted order (the
    bootstrap's cell table and the position regression's cells depend on the order)."""
    from evaluation.intervals import unique_inverse

    cells = np.random.default_rng(1).integers(0, high, 10_000)
    uniques, inverse = np.unique(cells, return_inverse=True)
    found_uniques, found_inverse = unique_inverse(cells)
    assert found_inverse.dtype == np.int64
    assert np.array_equal(found_uniques, uniques) and np.array_equal(found_inverse, inverse)
