"""Intervals for crossed judgments: each physician judges many items and each item is judged by
several physicians, so both are random samples and both add variance.

Every rate in the report is a ratio of sums over judgments (wins / judgments, flagged / answers,
...). The two-way (pigeonhole) bootstrap of Owen (2007) resamples physicians and items
independently with replacement and keeps every judgment whose physician and item were both
drawn, as often as both were drawn: judgment j gets weight W_rater[r_j] * W_item[i_j]. With the
weights of all resamples drawn at once (rounds x clusters, multinomial counts), every resampled
sum is a matrix product over a physician x item table, so 1,000 resamples of a million
judgments cost a few dense products instead of a Python loop.

Which interval heads the report was chosen by simulated coverage (bench/coverage.py): the
pigeonhole bootstrap counts the judgment-level noise twice (once with the physicians, once with
the items) and covered 98-100% with 20 or more physicians, so the headline is the two-way
cluster-robust interval, which subtracts that double count; the bootstraps stay beside it.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import expit
from scipy.stats import t as t_dist

# With fewer physicians than this the physician variance cannot be estimated: the report says so.
MIN_RATERS = 5
# Largest dense physician x item x statistic table built at once (float64 cells); above it, sparse.
_DENSE_CELLS = 30_000_000
_BLOCK_CELLS = 40_000_000  # bound on the rounds x columns block of one matrix product


def codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for cluster labels, and G."""
    uniques, inverse = np.unique(np.asarray(values), return_inverse=True)
    return inverse.astype(np.int64), len(uniques)


def multinomial_weights(rng: np.random.Generator, rounds: int, clusters: int) -> np.ndarray:
    """rounds x clusters: how often each cluster is drawn when `clusters` are drawn with replacement."""
    draws = rng.integers(0, clusters, size=(rounds, clusters)) + (np.arange(rounds) * clusters)[:, None]
    return np.bincount(draws.ravel(), minlength=rounds * clusters).reshape(rounds, clusters).astype(np.float64)


def _cells(raters: np.ndarray, items: np.ndarray, values: np.ndarray, n_items: int):
    """Sum the value columns within each (physician, item) cell."""
    key = raters * n_items + items
    cells, inverse = np.unique(key, return_inverse=True)
    sums = np.stack([np.bincount(inverse, weights=values[:, j], minlength=len(cells)) for j in range(values.shape[1])],
                    axis=1)
    return cells // n_items, cells % n_items, sums


def _two_way_sums(w_rater: np.ndarray, w_item: np.ndarray, cell_rater, cell_item, cell_sums, n_raters, n_items):
    """rounds x k: sum over cells of W_rater[r] * W_item[i] * value."""
    rounds, k = len(w_rater), cell_sums.shape[1]
    out = np.empty((rounds, k))
    if n_raters * n_items * k <= _DENSE_CELLS:
        # float32 halves the cost of the one product that grows with physicians x items; resampled
        # sums need no more than 7 significant digits for percentile intervals
        table = np.zeros((n_items, n_raters, k), dtype=np.float32)
        table[cell_item, cell_rater] = cell_sums
        table = table.reshape(n_items, n_raters * k)
        step = max(1, _BLOCK_CELLS // (n_raters * k))
        for start in range(0, rounds, step):
            block = (w_item[start:start + step].astype(np.float32) @ table).astype(np.float64).reshape(-1, n_raters, k)
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
        return shared_weights(seed, 1, rounds, n_items) @ per
    if tuple(factors) == ("rater",):
        per = np.stack([np.bincount(raters, weights=values[:, j], minlength=n_raters) for j in range(k)], 1)
        return shared_weights(seed, 0, rounds, n_raters) @ per
    if tuple(factors) != ("rater", "item"):
        raise ValueError(f"factors must be ('rater', 'item'), ('rater',) or ('item',), got {factors!r}")
    return _two_way_sums(shared_weights(seed, 0, rounds, n_raters), shared_weights(seed, 1, rounds, n_items),
                         *_cells(raters, items, values, n_items), n_raters, n_items)


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


def cluster_groups(raters, items, n_raters: int | None = None, n_items: int | None = None) -> list[tuple]:
    """(codes, count) for physicians, items and physician-item cells, computed once per subset."""
    if n_raters is None:
        raters, n_raters = codes(raters)
    if n_items is None:
        items, n_items = codes(items)
    raters, items = np.asarray(raters, dtype=np.int64), np.asarray(items, dtype=np.int64)
    cells = raters * n_items + items
    if n_raters * n_items > 50_000_000:
        cells, n_cells = codes(cells)
    else:
        n_cells = n_raters * n_items
    out = []
    for labels, count in ((raters, n_raters), (items, n_items), (cells, n_cells)):
        out.append((labels, count, int(np.count_nonzero(np.bincount(labels, minlength=count)))))
    if out[2][2] == len(cells):  # one judgment per cell (the usual case): cell sums are the residuals themselves
        out[2] = (None, n_cells, len(cells))
    return out


def cluster_robust_two_way(raters, items, numerator, denominator, *, alpha: float = 0.05,
                           groups: list[tuple] | None = None) -> dict:
    """Two-way cluster-robust interval of sum(numerator) / sum(denominator) (Cameron, Gelbach and
    Miller 2011): V = V_rater + V_item - V_cell on the linearised ratio, each with the G/(G-1)
    small-sample factor (G = clusters present; if V is not positive, the larger one-way
    variance), on the logit scale, with a t quantile on physicians - 1 degrees of freedom
    because the physicians are few."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    groups = groups or cluster_groups(raters, items)
    total = den.sum()
    if total <= 0:
        return {"estimate": None, "ci_low": None, "ci_high": None, "note": "nothing to divide by"}
    estimate = float(num.sum() / total)
    residual = (num - estimate * den) / total
    variances, present = [], []
    for labels, count, g in groups:
        sums = residual if labels is None else np.bincount(labels, weights=residual, minlength=count)
        present.append(g)
        variances.append(g / (g - 1) * float(sums @ sums) if g > 1 else 0.0)
    n_raters = present[0]
    if not 0 < estimate < 1 or n_raters < 2:
        return {"estimate": estimate, "ci_low": None, "ci_high": None,
                "note": "no interval: the rate is 0 or 1, or only one physician"}
    v_rater, v_item, v_cell = variances
    v = v_rater + v_item - v_cell
    if v <= 0:
        v = max(v_rater, v_item)
    se_logit = np.sqrt(v) / (estimate * (1 - estimate))
    half = t_dist.ppf(1 - alpha / 2, n_raters - 1) * se_logit
    centre = np.log(estimate / (1 - estimate))
    return {"estimate": estimate, "se": float(np.sqrt(v)), "df": n_raters - 1,
            "ci_low": float(expit(centre - half)), "ci_high": float(expit(centre + half))}


HEADLINE_DESCRIPTION = (f"with {MIN_RATERS} or more physicians, the two-way cluster-robust interval (physicians and "
                        f"items; logit scale, t on physicians - 1 df); with fewer, the bootstrap over items, which "
                        f"holds for these physicians only.")


def headline_choice(n_raters: int) -> str:
    """Which interval heads the report: two-way with enough physicians, else items only."""
    return "two_way_robust" if n_raters >= MIN_RATERS else "bootstrap_item"


ASSUMES = {
    "two_way_robust": "physicians and items are both random samples (two-way cluster-robust; logit scale; t on "
                      "physicians - 1 df)",
    "two_way_bootstrap": "physicians and items resampled independently (pigeonhole bootstrap; conservative: it counts "
                         "judgment-level noise twice)",
    "bootstrap_item": "items are a random sample; physicians fixed (ignores variation between physicians)",
    "bootstrap_rater": "physicians are a random sample; items fixed (ignores variation between items)",
    "independent": "every judgment independent (ignores both physicians and items)",
}
_BOOTSTRAPS = {"two_way_bootstrap": ("rater", "item"), "bootstrap_item": ("item",), "bootstrap_rater": ("rater",)}


def few_raters_note(n_raters: int) -> str:
    return (f"Only {n_raters} physician{'s' if n_raters != 1 else ''}: this interval accounts for variation between "
            f"items but cannot account for variation between physicians; it describes these {n_raters} only.")


def interval_set(raters, items, columns: np.ndarray, ratios: dict[str, tuple], *, rounds: int = 1000, seed: int = 0,
                 alpha: float = 0.05, n_raters: int | None = None, n_items: int | None = None,
                 two_way_bootstrap: bool = False) -> dict[str, dict]:
    """For each named ratio (numerator column(s), denominator column(s)) of the judgment-level
    `columns`: the estimate, the crossed intervals and the headline one (chosen by headline_choice;
    with too few physicians it carries few_raters_note). The pigeonhole bootstrap (conservative,
    and the one cost that grows with physicians x items) only when asked for."""
    columns = np.asarray(columns, dtype=np.float64)
    groups = cluster_groups(raters, items, n_raters, n_items)
    present_raters, present_items = groups[0][2], groups[1][2]
    chosen = headline_choice(present_raters)
    wanted = {name: f for name, f in _BOOTSTRAPS.items() if two_way_bootstrap or name != "two_way_bootstrap"}
    boots = {name: bootstrap_sums(raters, items, columns, factors=factors, rounds=rounds, seed=seed, n_raters=n_raters,
                                  n_items=n_items) for name, factors in wanted.items()}
    out = {}
    for stat, (num, den) in ratios.items():
        num_values = columns[:, np.atleast_1d(num)].sum(axis=1)
        den_values = columns[:, np.atleast_1d(den)].sum(axis=1)
        methods = {"two_way_robust": cluster_robust_two_way(raters, items, num_values, den_values, alpha=alpha,
                                                            groups=groups)}
        for name, sums in boots.items():
            low, high, used = percentile_interval(ratio_draws(sums, num, den), alpha)
            methods[name] = {"ci_low": low, "ci_high": high, "rounds": rounds, "usable_rounds": used}
        for name, entry in methods.items():
            entry["assumes"] = ASSUMES[name]
        total = den_values.sum()
        estimate = float(num_values.sum() / total) if total > 0 else None
        headline = {"estimate": estimate, "ci_low": methods[chosen]["ci_low"], "ci_high": methods[chosen]["ci_high"],
                    "method": chosen, "assumes": ASSUMES[chosen], "physicians": present_raters, "items": present_items}
        if chosen != "two_way_robust":
            headline["note"] = few_raters_note(present_raters)
        if present_items < MIN_RATERS:  # too few items to estimate their variation either
            headline["note"] = (headline.get("note", "") + f" Only {present_items} item(s): the interval cannot account "
                                f"for variation between items either.").strip()
        out[stat] = {"estimate": estimate, "headline": headline, "methods": methods}
    return out
