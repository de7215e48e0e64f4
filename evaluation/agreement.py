"""Inter-rater agreement on items judged by several physicians.

Each judgment is turned into an outcome in system terms (so the side a system was shown on
does not matter): "<system> better", or the contract's tie / both_bad code. Intervals come from a bootstrap
over items (Cohen's kappa also has its asymptotic interval).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from evaluation.contract import Choice


def outcome(row: dict) -> str:
    if row["choice"] in (Choice.tie, Choice.both_bad):
        return str(row["choice"])
    return f"{row['preferred_system']} better"


def cohen_kappa(first: list, second: list, *, alpha: float = 0.05) -> dict:
    """Cohen's kappa of two label sequences, with statsmodels' asymptotic interval."""
    from statsmodels.stats.inter_rater import cohens_kappa, to_table

    if len(first) != len(second) or not first:
        raise ValueError("Cohen's kappa needs two equally long, non-empty label lists")
    labels = sorted({*map(str, first), *map(str, second)})
    index = {label: i for i, label in enumerate(labels)}
    data = np.array([[index[str(a)], index[str(b)]] for a, b in zip(first, second, strict=True)])
    table, _ = to_table(data, bins=len(labels))
    if len(labels) == 1:
        return {"kappa": 1.0, "ci_low": None, "ci_high": None, "n": len(first), "note": "a single category"}
    import warnings

    from scipy.stats import norm

    with warnings.catch_warnings():  # statsmodels divides by a zero null variance on perfect agreement
        warnings.simplefilter("ignore", RuntimeWarning)
        result = cohens_kappa(table)
    if not np.isfinite(result.kappa):
        return {"kappa": None, "ci_low": None, "ci_high": None, "n": len(first), "note": "undefined (no variation)"}
    half = norm.ppf(1 - alpha / 2) * result.std_kappa  # asymptotic standard error
    return {"kappa": float(result.kappa), "ci_low": float(result.kappa - half), "ci_high": float(result.kappa + half),
            "n": len(first)}


def _multi_rated(rows: list[dict]) -> dict[str, dict[str, str]]:
    """item -> {rater: outcome}, for non-gold items with at least two raters."""
    items: dict[str, dict[str, str]] = {}
    for row in rows:
        if not row.get("is_gold"):
            items.setdefault(row["item_id"], {})[row["rater"]] = outcome(row)
    return {k: v for k, v in items.items() if len(v) >= 2}


def _fleiss_table(items: dict[str, dict[str, str]], categories: list[str]) -> np.ndarray:
    return np.array([[list(votes.values()).count(c) for c in categories] for votes in items.values()])


def _fleiss(items, categories, method: str) -> float | None:
    from statsmodels.stats.inter_rater import fleiss_kappa

    if not items:
        return None
    value = fleiss_kappa(_fleiss_table(items, categories), method=method)
    return float(value) if np.isfinite(value) else None


def _krippendorff(items, categories) -> float | None:
    import krippendorff

    raters = sorted({r for votes in items.values() for r in votes})
    if len(raters) < 2 or not items:
        return None
    index = {c: i for i, c in enumerate(categories)}
    matrix = np.full((len(raters), len(items)), np.nan)
    for j, votes in enumerate(items.values()):
        for i, rater in enumerate(raters):
            if rater in votes:
                matrix[i, j] = index[votes[rater]]
    if len({v for votes in items.values() for v in votes.values()}) < 2:
        return None  # alpha is undefined without variation
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


def _bootstrap(items: dict, statistic, rounds: int, seed: int, alpha: float) -> tuple[float | None, float | None]:
    keys = list(items)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        sample = {f"{i}": items[keys[k]] for i, k in enumerate(rng.integers(0, len(keys), len(keys)))}
        value = statistic(sample)
        if value is not None and np.isfinite(value):
            values.append(value)
    if len(values) < rounds // 2:
        return None, None
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))


def agreement(rows: list[dict], *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Fleiss' and Randolph's kappa (items with the most common number of raters, as both assume
    a fixed number), Krippendorff's alpha (all multi-rated items), Cohen's kappa per rater pair."""
    items = _multi_rated(rows)
    if not items:
        return {"items": 0, "note": "no item was judged by two or more physicians"}
    categories = sorted({v for votes in items.values() for v in votes.values()} | {Choice.tie.value, Choice.both_bad.value})
    counts = [len(v) for v in items.values()]
    modal = max(set(counts), key=counts.count)
    fixed = {k: v for k, v in items.items() if len(v) == modal}
    result = {"items": len(items), "categories": categories, "raters_per_item": modal, "items_fixed_raters": len(fixed)}
    for name, statistic, data in (
        ("fleiss_kappa", lambda s: _fleiss(s, categories, "fleiss"), fixed),
        ("randolph_kappa", lambda s: _fleiss(s, categories, "randolph"), fixed),
        ("krippendorff_alpha", lambda s: _krippendorff(s, categories), items),
    ):
        low, high = _bootstrap(data, statistic, rounds, seed, alpha)
        result[name] = {"value": statistic(data), "ci_low": low, "ci_high": high}
    pairs = []
    raters = sorted({r for votes in items.values() for r in votes})
    for a, b in combinations(raters, 2):
        shared = [votes for votes in items.values() if a in votes and b in votes]
        if len(shared) >= 2:
            pairs.append({"raters": [a, b], **cohen_kappa([v[a] for v in shared], [v[b] for v in shared])})
    result["cohen_kappa_pairs"] = pairs
    return result
