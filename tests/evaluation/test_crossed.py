"""Crossed (physician x item) intervals against independent references: statsmodels' two-way
cluster-robust OLS, an explicit per-judgment pigeonhole resample, and a small coverage study."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit
from scipy.stats import t as t_dist

from evaluation import crossed, intervals


def crossed_data(seed=0, raters=8, items=60, overlap=3):
    rng = np.random.default_rng(seed)
    judges = np.argsort(rng.random((items, raters)), axis=1)[:, :overlap]
    r = judges.ravel()
    i = np.repeat(np.arange(items), overlap)
    y = (rng.random(len(r)) < expit(0.4 + 0.5 * rng.standard_normal(raters)[r] + rng.standard_normal(items)[i])).astype(float)
    return r, i, y


def test_two_way_robust_variance_matches_statsmodels():
    r, i, y = crossed_data()
    result = intervals.ratio_interval(r, i, y, np.ones_like(y), df_rule="physicians")
    # intercept-only OLS: the mean, with statsmodels' two-way clustered covariance (k = 1: factor G/(G-1))
    fit = sm.OLS(y, np.ones((len(y), 1))).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([r, i])})
    assert result["estimate"] == pytest.approx(y.mean())
    assert result["se"] == pytest.approx(fit.bse[0], rel=1e-9)
    p = y.mean()
    half = t_dist.ppf(0.975, len(set(r)) - 1) * fit.bse[0] / (p * (1 - p))
    centre = np.log(p / (1 - p))
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((expit(centre - half), expit(centre + half)))


def test_pigeonhole_sums_equal_explicit_resampling():
    r, i, y = crossed_data(seed=1)
    values = np.column_stack([y, np.ones_like(y)])
    sums = crossed.bootstrap_sums(r, i, values, rounds=50, seed=3)
    w_r = crossed.shared_weights(3, 0, 50, len(set(r)))
    w_i = crossed.shared_weights(3, 1, 50, len(set(i)))
    for b in range(50):  # judgment kept once for every time its physician and its item were both drawn
        weight = w_r[b, r] * w_i[b, i]
        assert sums[b] == pytest.approx([weight @ y, weight.sum()])
    assert (w_r.sum(axis=1) == len(set(r))).all() and (w_i.sum(axis=1) == len(set(i))).all()


def test_one_way_sums_and_sparse_path_agree(monkeypatch):
    r, i, y = crossed_data(seed=2)
    values = np.column_stack([y, np.ones_like(y)])
    item_sums = crossed.bootstrap_sums(r, i, values, factors=("item",), rounds=40, seed=5)
    w_i = crossed.shared_weights(5, 1, 40, len(set(i)))
    assert item_sums[:, 0] == pytest.approx(w_i[:, i] @ y)
    dense = crossed.bootstrap_sums(r, i, values, rounds=40, seed=5)
    monkeypatch.setattr(crossed, "_DENSE_CELLS", 0)
    assert crossed.bootstrap_sums(r, i, values, rounds=40, seed=5) == pytest.approx(dense, rel=1e-5)


def test_interval_set_headline_and_few_physicians():
    r, i, y = crossed_data(seed=4)
    columns = np.column_stack([y, np.ones_like(y)])
    result = crossed.interval_set(r, i, columns, {"rate": (0, 1)}, rounds=200)["rate"]
    assert result["headline"]["method"] == "two_way_robust" and "note" not in result["headline"]
    few = crossed.interval_set(r % 3, i, columns, {"rate": (0, 1)}, rounds=200)["rate"]
    assert few["headline"]["method"] == "bootstrap_item"
    assert "cannot account for variation between physicians" in few["headline"]["note"]
    for entry in result["methods"].values():
        assert entry["assumes"] and entry["ci_low"] <= result["estimate"] <= entry["ci_high"]


def test_multinomial_weights_count_the_draws_of_each_round():
    """Each round's weights are how often each cluster was drawn, from the same random stream as
    counting all rounds' draws at once (the row-by-row counting only changes the speed)."""
    from evaluation.crossed import multinomial_weights

    weights = multinomial_weights(np.random.default_rng(3), 7, 11)
    draws = np.random.default_rng(3).integers(0, 11, size=(7, 11))
    expected = np.zeros((7, 11))
    for row, drawn in enumerate(draws):
        for cluster in drawn:
            expected[row, cluster] += 1
    assert weights.dtype == np.float64 and np.array_equal(weights, expected)
    assert (weights.sum(axis=1) == 11).all()


@pytest.mark.parametrize(("rounds", "clusters"), [(3, 1), (7, 11), (5, 257), (4, 65_537), (130, 20_011)])
def test_multinomial_weights_are_those_of_one_int64_draw(monkeypatch, rounds, clusters):
    """int32 draws made a block of rounds at a time give the counts of numpy's default int64 draw of
    all rounds at once (the generator is the same below 2**32; the stream runs on between blocks)."""
    from evaluation.crossed import multinomial_weights

    monkeypatch.setattr(crossed, "_WEIGHT_BLOCK", 3 * clusters + 1)  # several blocks, the last one short
    draws = np.random.default_rng([4, 1]).integers(0, clusters, size=(rounds, clusters))
    expected = np.stack([np.bincount(row, minlength=clusters) for row in draws]).astype(np.float64)
    assert np.array_equal(multinomial_weights(np.random.default_rng([4, 1]), rounds, clusters), expected)


@pytest.mark.parametrize("dense_cells", [crossed._DENSE_CELLS, 0])  # the dense product and the sparse one
def test_sparse_bootstrap_sums_are_the_dense_tables(monkeypatch, dense_cells):
    """A table given by its entries (each judgment adds to 2 of 6 columns, as Bradley-Terry's pairs)
    gives bootstrap_sums of the full table bit for bit, with any values, not only halves."""
    monkeypatch.setattr(crossed, "_DENSE_CELLS", dense_cells)
    r, i, _y = crossed_data(seed=6, raters=9, items=70, overlap=4)
    r, i = np.concatenate([r, r, r[:50]]), np.concatenate([i, i, i[:50]])  # cells judged 1 to 3 times
    rng = np.random.default_rng(6)
    pair = rng.integers(0, 3, len(r))
    columns = np.column_stack([2 * pair, 2 * pair + 1])
    entries = np.column_stack([rng.random(len(r)) * 3, np.ones(len(r))])
    table = np.zeros((len(r), 6))
    table[np.arange(len(r))[:, None], columns] = entries
    expected = crossed.bootstrap_sums(r, i, table, rounds=60, seed=2, n_raters=9, n_items=70)
    found = crossed.sparse_bootstrap_sums(r, i, columns, entries, 6, rounds=60, seed=2, n_raters=9, n_items=70)
    assert np.array_equal(found, expected)


def test_one_way_sums_of_halves_in_float32_are_the_float64_products():
    """Counts of wins with ties as halves are resampled in float32 when every partial sum is exact
    there: the same numbers as the float64 product; other values (shares, large counts) in float64."""
    rng = np.random.default_rng(8)
    clusters = 3_000
    weights = crossed.shared_weights(1, 1, 200, clusters)
    halves = rng.integers(0, 5_000, (clusters, 3)) / 2  # up to 2,500: 2 * 2,500 * 3,000 < 2**24
    assert np.array_equal(crossed._resampled(1, 1, 200, clusters, halves), weights @ halves)
    shares = rng.random((clusters, 2))  # not halves: float64, as before
    assert np.array_equal(crossed._resampled(1, 1, 200, clusters, shares), weights @ shares)
    large = halves * 4 + 0.5  # 2 * 10,000 * 3,000 > 2**24: float32 would round these sums; float64 it is
    assert np.array_equal(crossed._resampled(1, 1, 200, clusters, large), weights @ large)
    assert not np.array_equal((crossed._shared_weights32(1, 1, 200, clusters) @ large.astype(np.float32)),
                              weights @ large)  # the bound matters: float32 rounds these
