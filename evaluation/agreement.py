"""Inter-rater agreement on comparisons judged by several physicians.

A unit is one comparison: an item shown with one pair of systems. Each physician's final
judgment of a unit (the latest by updated_at) counts once. It is put in system terms (so the
side a system was shown on does not matter) as one of the four categories every comparison
offers: the first system (alphabetically) better, the second better, tie, both bad. Randolph's
free-marginal kappa uses those 4 categories. Intervals: bootstrap over items, vectorised.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from evaluation.contract import Choice
from evaluation.distributions import norm_ppf

CATEGORIES = ("first better", "second better", Choice.tie.value, Choice.both_bad.value)
MAX_RATERS_FOR_PAIRS = 12  # Cohen's kappa per physician pair: 66 pairs at most, else a summary only


def cohen_kappa(first: list, second: list, *, alpha: float = 0.05) -> dict:
    """Cohen's kappa of two label sequences, with statsmodels' asymptotic interval."""
    if len(first) != len(second) or len(first) == 0:
        raise ValueError("Cohen's kappa needs two equally long, non-empty label lists")
    labels, codes = _label_codes(first, second)
    k = len(labels)
    table = np.bincount(codes[:len(first)] * k + codes[len(first):], minlength=k * k).reshape(k, k).astype(float)
    if k == 1:
        return {"kappa": 1.0, "ci_low": None, "ci_high": None, "n": len(first), "note": "a single category"}
    kappa, std_kappa = kappa_and_se(table)
    if not np.isfinite(kappa):
        return {"kappa": None, "ci_low": None, "ci_high": None, "n": len(first), "note": "undefined (no variation)"}
    half = norm_ppf(1 - alpha / 2) * std_kappa  # asymptotic standard error
    return {"kappa": float(kappa), "ci_low": float(kappa - half), "ci_high": float(kappa + half), "n": len(first)}


def kappa_and_se(table: np.ndarray) -> tuple[float, float]:
    """Simple (unweighted) Cohen's kappa of a k x k table and its asymptotic standard error:
    statsmodels.stats.inter_rater.cohens_kappa(table).kappa and .std_kappa, with its arithmetic step
    by step so the numbers are equal (tests compare). Own code because statsmodels, with pandas and
    scipy.stats, costs ~0.4 s of import in every report."""
    table = np.asarray(table, float)
    nobs = table.sum()
    probs = table / nobs
    freq_row, freq_col = table.sum(1) / nobs, table.sum(0) / nobs
    agree_exp = np.diag(freq_col * freq_row[:, None]).sum()
    with np.errstate(divide="ignore", invalid="ignore"):  # perfect agreement: a zero null variance, as statsmodels
        kappa = (np.diag(table).sum() / nobs - agree_exp) / (1 - agree_exp)
        term_a = (np.diag(probs) * (1 - (freq_row + freq_col) * (1 - kappa)) ** 2).sum()
        term_b = probs * (freq_col[:, None] + freq_row) ** 2
        term_b[np.diag_indices(len(table))] = 0
        term_b = (1 - kappa) ** 2 * term_b.sum()
        term_c = (kappa - agree_exp * (1 - kappa)) ** 2
        var_kappa = (term_a + term_b - term_c) / (1 - agree_exp) ** 2 / nobs
        return kappa, np.sqrt(var_kappa)


def _label_codes(first, second) -> tuple[np.ndarray, np.ndarray]:
    """Labels compared as text (True and "True" are one label), sorted, and each judgment's code;
    vectorised: a report checks millions of answers."""
    both = np.concatenate([np.asarray(first), np.asarray(second)])
    if both.dtype.kind not in "bU":  # numbers and mixed objects: compare their text, as str() would
        both = np.array([str(x) for x in both.tolist()]) if both.dtype.kind == "O" else both.astype(str)
    labels, codes = np.unique(both, return_inverse=True)
    return labels, codes.reshape(-1)


def final_units(table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(unit, rater, item, category) of each physician's final non-gold judgment per comparison."""
    from evaluation.table import BOTH_BAD, TIE, A

    keep = ~table.is_gold
    s = len(table.systems)
    first = np.minimum(table.system_a, table.system_b)
    unit = (table.item * s + first) * s + np.maximum(table.system_a, table.system_b)
    shown_first = np.where(table.choice == A, table.system_a, table.system_b)
    category = np.select([table.choice == TIE, table.choice == BOTH_BAD, shown_first == first], [2, 3, 0], 1)
    n_units = int(unit.max()) + 1
    key = (table.rater.astype(np.int64) * n_units + unit) * len(table.order) + table.order  # one int64 sort key
    order = np.argsort(key)
    order = order[keep[order]]
    rater, unit_sorted = table.rater[order], unit[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (rater[1:] != rater[:-1]) | (unit_sorted[1:] != unit_sorted[:-1])
    chosen = order[last]
    return unit[chosen], table.rater[chosen], table.item[chosen], category[chosen]


def _group_sums(rows: np.ndarray, groups: np.ndarray | None, n_groups: int | None) -> np.ndarray:
    """Sum unit rows within groups (items): a resample weighs a unit by its item's weight."""
    if groups is None:
        return rows
    n_groups = int(groups.max()) + 1 if n_groups is None else n_groups
    return np.stack([np.bincount(groups, weights=rows[:, j], minlength=n_groups) for j in range(rows.shape[1])], axis=1)


def fleiss_from_counts(counts: np.ndarray, method: str = "fleiss", weights: np.ndarray | None = None,
                       groups: np.ndarray | None = None, n_groups: int | None = None) -> np.ndarray:
    """Fleiss' (or Randolph's, free-marginal) kappa of a units x categories count table with the
    same number of raters per unit; `weights` (rounds x units, or rounds x groups when each unit
    belongs to a group such as its item) gives one kappa per row."""
    counts = np.asarray(counts, dtype=float)
    m = counts[0].sum()
    agreement = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    per_group = _group_sums(np.column_stack([agreement, np.ones(len(counts)), counts]), groups, n_groups)
    w = np.ones((1, len(per_group))) if weights is None else np.asarray(weights, float)
    sums = w @ per_group
    with np.errstate(invalid="ignore", divide="ignore"):
        p_bar = sums[:, 0] / sums[:, 1]
        if method == "randolph":
            p_e = np.full_like(p_bar, 1 / counts.shape[1])
        else:
            p_e = ((sums[:, 2:] / (sums[:, 1:2] * m)) ** 2).sum(axis=1)
        kappa = (p_bar - p_e) / (1 - p_e)
    return kappa if weights is not None else kappa[0]


def krippendorff_from_coincidences(per_unit: np.ndarray, weights: np.ndarray | None = None,
                                   groups: np.ndarray | None = None, n_groups: int | None = None) -> np.ndarray:
    """Nominal Krippendorff's alpha from per-unit coincidence matrices (units x k x k, each
    already divided by m_u - 1); `weights` (rounds x units, or x groups) gives one alpha per row."""
    k = per_unit.shape[1]
    per_group = _group_sums(per_unit.reshape(len(per_unit), k * k), groups, n_groups)
    w = np.ones((1, len(per_group))) if weights is None else np.asarray(weights, float)
    o = (w @ per_group).reshape(-1, k, k)
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    observed = n - np.trace(o, axis1=1, axis2=2)
    expected = (n**2 - (n_c**2).sum(axis=1)) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1 - observed / expected
    return alpha if weights is not None else alpha[0]


def _interval(draws: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    usable = draws[np.isfinite(draws)]
    if len(usable) < len(draws) // 2:
        return None, None
    return float(np.quantile(usable, alpha / 2)), float(np.quantile(usable, 1 - alpha / 2))


def _value(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def agreement_table(table, *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Fleiss' and Randolph's kappa (units with the most common number of raters, as both assume a
    fixed number), Krippendorff's alpha (all multi-rated units), Cohen's kappa per rater pair."""
    from evaluation.crossed import shared_weights

    unit, rater, item, category = final_units(table)
    codes, unit_index = np.unique(unit, return_inverse=True)
    counts = np.zeros((len(codes), 4))
    np.add.at(counts, (unit_index, category), 1)
    raters_per_unit = counts.sum(axis=1)
    multi = raters_per_unit >= 2
    if not multi.any():
        return {"items": 0, "note": "no comparison was judged by two or more physicians"}
    unit_item = np.zeros(len(codes), dtype=np.int64)
    unit_item[unit_index] = item
    items_multi = np.unique(unit_item[multi])
    weights = shared_weights(seed, 1, rounds, len(table.items))  # the report's item resamples
    groups, n_items = unit_item[multi], len(table.items)
    sizes = raters_per_unit[multi].astype(int)
    modal = int(np.bincount(sizes).argmax())
    fixed = sizes == modal
    result = {"units": int(multi.sum()), "items": int(len(items_multi)), "categories": list(CATEGORIES),
              "raters_per_unit": modal, "units_fixed_raters": int(fixed.sum()), "rounds": rounds,
              "final_judgments_only": True}
    for name, method in (("fleiss_kappa", "fleiss"), ("randolph_kappa", "randolph")):
        value = fleiss_from_counts(counts[multi][fixed], method)
        low, high = _interval(fleiss_from_counts(counts[multi][fixed], method, weights, groups[fixed], n_items), alpha)
        result[name] = {"value": _value(value), "ci_low": low, "ci_high": high}
    c = counts[multi]
    per_unit = (c[:, :, None] * c[:, None, :] - np.einsum("uc,ck->uck", c, np.eye(4))) / (sizes - 1)[:, None, None]
    low, high = _interval(krippendorff_from_coincidences(per_unit, weights, groups, n_items), alpha)
    result["krippendorff_alpha"] = {"value": _value(krippendorff_from_coincidences(per_unit)), "ci_low": low,
                                    "ci_high": high}
    result["cohen_kappa_pairs"] = _cohen_pairs(table, unit, rater, category)
    return result


def _cohen_pairs(table, unit, rater, category) -> list[dict] | dict:
    involved = np.unique(rater)
    if len(involved) > MAX_RATERS_FOR_PAIRS:
        return {"note": f"{len(involved)} physicians ({len(involved) * (len(involved) - 1) // 2} pairs): per-pair "
                        f"Cohen's kappa left out; see Fleiss' kappa and Krippendorff's alpha"}
    votes: dict[int, dict[int, int]] = {}
    for u, r, c in zip(unit.tolist(), rater.tolist(), category.tolist(), strict=True):
        votes.setdefault(r, {})[u] = c
    pairs = []
    for a, b in combinations(sorted(votes), 2):
        shared = sorted(set(votes[a]) & set(votes[b]))
        if len(shared) >= 2:
            pairs.append({"raters": [table.raters[a], table.raters[b]],
                          **cohen_kappa([votes[a][u] for u in shared], [votes[b][u] for u in shared])})
    return pairs


def agreement(rows: list[dict], *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    from evaluation.table import from_rows

    if not rows:
        return {"items": 0, "note": "no judgments"}
    return agreement_table(from_rows(rows), rounds=rounds, seed=seed, alpha=alpha)
