"""Intervals for crossed judgments: each physician judges many items and each item is judged by
several physicians, so both are random samples and both add variance.

Every rate in the report is a ratio of sums over judgments (wins / judgments, flagged / answers,
...). The two-way (pigeonhole) bootstrap of Owen (2007) resamples physicians and items
independently with replacement and keeps every judgment whose physician and item were both
drawn, as often as both were drawn: judgment j gets weight W_rater[r_j] * W_item[i_j]. With the
weights of all resamples drawn at once (rounds x clusters, multinomial counts), every resampled
sum is a matrix product over a physician x item table, so 1,000 resamples of a million
judgments cost a few dense products instead of a Python loop.

The two-way cluster-robust interval, the headline rule and the tests that invert the headline
live in evaluation/intervals.py (the one engine); this module adds the resampling intervals shown
beside it and `interval_set`, which puts them together for a report. The pigeonhole bootstrap
counts the judgment-level noise twice and covered 98-100% with 20 or more physicians
(bench/coverage.py), so it never heads a report.
"""

from __future__ import annotations

import functools

import numpy as np

from evaluation.intervals import (
    ASSUMES,
    MIN_RATERS,
    bootstrap_p_value,
    cluster_groups,
    codes,
    few_raters_note,
    headline_choice,
    ratio_influence,
    robust_interval,
    unique_inverse,
    workload,
    workload_warning,
)

# Largest dense physician x item x statistic table built at once (float64 cells); above it, sparse.
_DENSE_CELLS = 30_000_000
_BLOCK_CELLS = 40_000_000  # bound on the rounds x columns block of one matrix product
_WEIGHT_BLOCK = 1_000_000  # draws made at once by multinomial_weights (4 MB of int32)


def _dense(n_raters: int, n_items: int, k: int) -> bool:
    """Whether _two_way_sums takes the dense physician x item product (else the sparse one)."""
    return n_raters * n_items * k <= _DENSE_CELLS


def multinomial_weights(rng: np.random.Generator, rounds: int, clusters: int) -> np.ndarray:
    """rounds x clusters: how often each cluster is drawn when `clusters` are drawn with replacement."""
    weights = np.empty((rounds, clusters), dtype=np.float64)
    # numpy draws any range below 2**32 with the same 32-bit bounded generator whether it writes int32
    # or int64, so int32 draws are the int64 ones (tested) at under half the cost (1,000 x 20,000:
    # 0.37 -> 0.14 s); drawn a block of rounds at a time (the generator's stream runs on unchanged),
    # so the draws stay in cache instead of filling an array as large as the weights
    dtype = np.int32 if clusters <= np.iinfo(np.int32).max else np.int64
    block = max(1, _WEIGHT_BLOCK // max(clusters, 1))
    for start in range(0, rounds, block):
        draws = rng.integers(0, clusters, size=(min(block, rounds - start), clusters), dtype=dtype)
        # row by row, each count table stays in cache: one bincount over rounds x clusters offset codes
        # scattered its increments over the whole array (3x slower at 1,000 x 20,000; same counts)
        for row, drawn in enumerate(draws, start):
            weights[row] = np.bincount(drawn, minlength=clusters)
    return weights


def _cells(raters: np.ndarray, items: np.ndarray, values: np.ndarray, n_items: int):
    """Sum the value columns within each (physician, item) cell."""
    cells, inverse = unique_inverse(raters * n_items + items)
    sums = np.stack([np.bincount(inverse, weights=values[:, j], minlength=len(cells)) for j in range(values.shape[1])],
                    axis=1)
    return cells // n_items, cells % n_items, sums


def _two_way_sums(w_rater: np.ndarray, w_item: np.ndarray, cell_rater, cell_item, cell_sums, n_raters, n_items,
                  w_item32: np.ndarray | None = None):
    """rounds x k: sum over cells of W_rater[r] * W_item[i] * value (w_item32: w_item as float32)."""
    rounds, k = len(w_rater), cell_sums.shape[1]
    out = np.empty((rounds, k))
    if _dense(n_raters, n_items, k):
        # float32 halves the cost of the one product that grows with physicians x items; resampled
        # sums need no more than 7 significant digits for percentile intervals
        table = np.zeros((n_items, n_raters, k), dtype=np.float32)
        table[cell_item, cell_rater] = cell_sums
        table = table.reshape(n_items, n_raters * k)
        step = max(1, _BLOCK_CELLS // (n_raters * k))
        for start in range(0, rounds, step):
            item_block = (w_item[start:start + step].astype(np.float32) if w_item32 is None
                          else w_item32[start:start + step])
            block = (item_block @ table).astype(np.float64).reshape(-1, n_raters, k)
            out[start:start + step] = np.einsum("brk,br->bk", block, w_rater[start:start + step])
        return out
    from scipy.sparse import csr_matrix

    for j in range(k):  # sparse: physician x item matrix of one statistic at a time
        matrix = csr_matrix((cell_sums[:, j], (cell_rater, cell_item)), shape=(n_raters, n_items))
        out[:, j] = np.einsum("rb,br->b", matrix @ w_item.T, w_rater)
    return out


@functools.lru_cache(maxsize=8)
def shared_weights(seed: int, stream: int, rounds: int, clusters: int) -> np.ndarray:
    """Multinomial weights drawn once per (seed, stream, size) and shared by every statistic of a
    report (a joint bootstrap: one set of resamples for all numbers); read-only."""
    weights = multinomial_weights(np.random.default_rng([seed, stream]), rounds, clusters)
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=2)
def _shared_weights32(seed: int, stream: int, rounds: int, clusters: int) -> np.ndarray:
    """shared_weights as float32 (counts, exact up to 2**24), converted once per report."""
    weights = shared_weights(seed, stream, rounds, clusters).astype(np.float32)
    weights.flags.writeable = False
    return weights


def _dense_weights(seed: int, rounds: int, n_raters: int, n_items: int, k: int) -> np.ndarray | None:
    """The item weights as float32 for _two_way_sums' dense product (None: it takes the sparse one)."""
    return _shared_weights32(seed, 1, rounds, n_items) if _dense(n_raters, n_items, k) else None


def _resampled(seed: int, stream: int, rounds: int, clusters: int, per: np.ndarray) -> np.ndarray:
    """shared_weights(...) @ per: rounds x k one-way resampled sums. When per holds halves (wins,
    ties as halves) and 2 * max|per| * clusters < 2**24, every partial sum of the product is a half
    below 2**23 (a round's weights add up to `clusters`), exact in float32 as in float64: then the
    float32 product is the float64 one bit for bit (tested) at half the memory read (1,000 x 20,000
    weights: ~35 -> ~15 ms)."""
    halves = per * 2
    if (clusters < 2**24 and len(per) and np.array_equal(halves, np.round(halves))
            and float(np.abs(halves).max()) * clusters < 2**24):
        return (_shared_weights32(seed, stream, rounds, clusters) @ per.astype(np.float32)).astype(np.float64)
    return shared_weights(seed, stream, rounds, clusters) @ per


def bootstrap_sums(raters, items, values, *, factors=("rater", "item"), rounds: int = 1000, seed: int = 0,
                   n_raters: int | None = None, n_items: int | None = None) -> np.ndarray:
    """Resampled column sums of `values` (n x k): rounds x k.

    factors: which clusters are resampled; ("rater", "item") is the pigeonhole bootstrap,
    ("item",) or ("rater",) a one-way cluster bootstrap. With n_raters / n_items given, raters
    and items are already codes of a whole study (0..n-1) and the study's shared weights are used,
    so a statistic on part of the study (one comparison, one system) reuses the same resamples."""
    if n_raters is None:
        raters, n_raters = codes(raters)
    if n_items is None:
        items, n_items = codes(items)
    raters, items = np.asarray(raters, dtype=np.int64), np.asarray(items, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64).reshape(len(raters), -1)
    k = values.shape[1]
    if tuple(factors) == ("item",):
        per = np.stack([np.bincount(items, weights=values[:, j], minlength=n_items) for j in range(k)], 1)
        return _resampled(seed, 1, rounds, n_items, per)
    if tuple(factors) == ("rater",):
        per = np.stack([np.bincount(raters, weights=values[:, j], minlength=n_raters) for j in range(k)], 1)
        return _resampled(seed, 0, rounds, n_raters, per)
    if tuple(factors) != ("rater", "item"):
        raise ValueError(f"factors must be ('rater', 'item'), ('rater',) or ('item',), got {factors!r}")
    return _two_way_sums(shared_weights(seed, 0, rounds, n_raters), shared_weights(seed, 1, rounds, n_items),
                         *_cells(raters, items, values, n_items), n_raters, n_items,
                         _dense_weights(seed, rounds, n_raters, n_items, k))


def sparse_bootstrap_sums(raters, items, columns, values, k: int, *, rounds: int = 1000, seed: int = 0,
                          n_raters: int, n_items: int) -> np.ndarray:
    """bootstrap_sums(raters, items, table) of the pigeonhole bootstrap, for an n x k table given by
    its entries that are not 0: judgment j adds values[j, m] to column columns[j, m] (n x m each).
    The cells' column sums are the dense table's (each adds the same numbers in the same order; the
    dense table adds zeros besides), found by one bincount instead of k (Bradley-Terry: 2 of 6)."""
    raters, items = np.asarray(raters, dtype=np.int64), np.asarray(items, dtype=np.int64)
    cells, cell = unique_inverse(raters * n_items + items)
    keys = (cell[:, None] * k + np.asarray(columns, dtype=np.int64).reshape(len(cell), -1)).ravel()
    sums = np.bincount(keys, weights=np.asarray(values, dtype=np.float64).ravel(), minlength=len(cells) * k)
    return _two_way_sums(shared_weights(seed, 0, rounds, n_raters), shared_weights(seed, 1, rounds, n_items),
                         cells // n_items, cells % n_items, sums.reshape(len(cells), k), n_raters, n_items,
                         _dense_weights(seed, rounds, n_raters, n_items, k))


def percentile_interval(draws: np.ndarray, alpha: float = 0.05) -> tuple[float | None, float | None, int]:
    """Percentile interval of bootstrap draws, ignoring resamples where the statistic does not
    exist (e.g. no decisive vote drawn); also how many were usable."""
    usable = draws[np.isfinite(draws)]
    if len(usable) < max(10, len(draws) // 2):
        return None, None, len(usable)
    low, high = np.quantile(usable, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), len(usable)


def ratio_draws(sums: np.ndarray, numerator, denominator) -> np.ndarray:
    """numerator / denominator per resample (column indices or index lists, summed); NaN where 0."""
    num = sums[:, numerator].reshape(len(sums), -1).sum(axis=1)
    den = sums[:, denominator].reshape(len(sums), -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


_BOOTSTRAPS = {"two_way_bootstrap": ("rater", "item"), "bootstrap_item": ("item",), "bootstrap_rater": ("rater",)}


def interval_set(raters, items, columns: np.ndarray, ratios: dict[str, tuple], *, rounds: int = 1000, seed: int = 0,
                 alpha: float = 0.05, n_raters: int | None = None, n_items: int | None = None,
                 two_way_bootstrap: bool = False, null: float | None = None,
                 headline_only: bool = False) -> dict[str, dict]:
    """For each named ratio (numerator column(s), denominator column(s)) of the judgment-level
    `columns`: the estimate, the crossed intervals and the headline one (evaluation.intervals.
    headline_choice; with too few physicians it carries few_raters_note). With `null`, the headline
    also carries the two-sided p-value of the test that inverts it. The pigeonhole bootstrap
    (conservative, and the one cost that grows with physicians x items) only when asked for; with
    `headline_only` (the planner's simulations) no bootstrap beyond the one the headline needs."""
    columns = np.asarray(columns, dtype=np.float64)
    groups = cluster_groups(raters, items, n_raters, n_items)
    present_raters, present_items = groups[0][2], groups[1][2]
    chosen = headline_choice(present_raters)
    wanted = {name: f for name, f in _BOOTSTRAPS.items() if (two_way_bootstrap or name != "two_way_bootstrap")
              and (not headline_only or name == chosen)}
    boots = {name: bootstrap_sums(raters, items, columns, factors=factors, rounds=rounds, seed=seed, n_raters=n_raters,
                                  n_items=n_items) for name, factors in wanted.items()}
    out = {}
    for stat, (num, den) in ratios.items():
        num_values = columns[:, np.atleast_1d(num)].sum(axis=1)
        den_values = columns[:, np.atleast_1d(den)].sum(axis=1)
        estimate, influence = ratio_influence(num_values, den_values)
        load = workload(groups[0][0], den_values, groups[0][1])  # once for the interval and the warning
        robust = robust_interval(estimate, influence, raters, items, alpha=alpha, null=null, groups=groups,
                                 weights=den_values, load=load)
        methods = {"two_way_robust": robust}
        p_values = {"two_way_robust": robust.get("p_value")}
        for name, sums in boots.items():
            draws = ratio_draws(sums, num, den)
            low, high, used = percentile_interval(draws, alpha)
            methods[name] = {"ci_low": low, "ci_high": high, "rounds": rounds, "usable_rounds": used}
            p_values[name] = bootstrap_p_value(draws, null) if null is not None and low is not None else None
        for name, entry in methods.items():
            entry["assumes"] = ASSUMES[name]
        headline = {"estimate": estimate, "ci_low": methods[chosen]["ci_low"], "ci_high": methods[chosen]["ci_high"],
                    "method": chosen, "assumes": ASSUMES[chosen], "physicians": present_raters, "items": present_items,
                    "effective_physicians": robust.get("effective_physicians"),
                    "largest_share": robust.get("largest_share")}
        if null is not None:
            # Below MIN_RATERS the item bootstrap cannot see physicians: as a test about physicians in
            # general it rejected a true 0.5 in 53.5% of an independent 3-physician design
            # (bench/RESULTS.md, coverage on independent designs), so no p-value is printed at all.
            tested = chosen == "two_way_robust"
            headline.update(null=null, p_value=p_values[chosen] if tested else None,
                            test=("two-sided t test inverting the two-way robust interval (logit scale, t on effective "
                                  "physicians - 1 df)" if tested else
                                  f"withheld: with {present_raters} physician{'s' if present_raters != 1 else ''} "
                                  f"(fewer than {MIN_RATERS}) a test cannot account for variation between physicians"))
        notes = []
        if chosen != "two_way_robust":
            notes.append(few_raters_note(present_raters))
        if present_items < MIN_RATERS:  # too few items to estimate their variation either
            notes.append(f"Only {present_items} item(s): the interval cannot account for variation between items either.")
        warning = workload_warning(load)
        if warning:
            headline["workload_warning"] = warning
        if notes:
            headline["note"] = " ".join(notes)
        out[stat] = {"estimate": estimate, "headline": headline, "methods": methods}
    return out
