"""Statistics of rating studies: one row per (physician, item, system, criterion), as
evaluation.contract.RatingJudgment.

Per criterion and system: the mean, the distribution and intervals; a paired comparison of
systems on the items both were rated on (difference of means, two-way cluster-robust by physician
and item, Holm across criteria; the Wilcoxon signed-rank test beside it assumes independence);
agreement between physicians (Krippendorff's alpha, quadratic-weighted Cohen's kappa per physician
pair). Likert and binary criteria get all of it (a binary mean is the share of
"yes"); choice criteria get their distribution only, since their options have no order.

Intervals come from the one engine (evaluation/intervals.py, identity scale) and its headline rule:
physicians and items are both random samples in a judging study, and clustering by only one of them
undercovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np

from data.records import DataError
from evaluation import crossed, intervals
from evaluation.contract import StudyKind
from evaluation.paired import holm as holm_adjusted
from evaluation.rubric import Rubric

ALPHA = 0.05
INDEPENDENT_ASSUMES = ("every rating independent of every other (ignores that physicians and items repeat): "
                       "too narrow when they do; shown for comparison only")
ROBUST_ASSUMES = ("two-way cluster-robust variance (Cameron, Gelbach and Miller 2011) with physicians and items as "
                  "clusters, identity scale, t on effective physicians - 1 degrees of freedom (from their shares of "
                  "the ratings), clipped to the scale; assumes both are random samples from larger pools, chosen "
                  "without regard to their ratings")
BOOTSTRAP_ASSUMES = ("two-way (pigeonhole) bootstrap, percentile interval: physicians and items resampled "
                     "independently with replacement (Owen 2007); same assumptions; conservative with many "
                     "physicians, too narrow with few (simulated coverage)")
PAIRED_TEST = ("difference of mean ratings on the items both systems were rated on, two-way cluster-robust by physician "
               "and item (a physician's own preference between the systems stays in the variance), t on effective "
               "physicians - 1 df, two-sided")
WILCOXON_ASSUMES = "assumes independent judgments: Wilcoxon signed-rank on per-item means ignores physicians"


def headline_assumes(n_raters: int) -> str:
    """What the headline interval (intervals.headline_choice) assumes, in words."""
    if intervals.headline_choice(n_raters) == "two_way_robust":
        return ROBUST_ASSUMES
    return (f"only {n_raters} physician{'s' if n_raters != 1 else ''}: the interval cannot account for physician "
            f"variation. It resamples items only (percentile bootstrap), so it holds for these physicians, not for "
            f"physicians in general; {intervals.MIN_RATERS} or more physicians are needed for an interval that does")


def independent_interval(values: np.ndarray, *, binary: bool, alpha: float = ALPHA) -> dict:
    """Wilson (binary) or Student t (Likert) interval of the mean, as if every rating were independent."""
    from scipy.stats import t as student_t
    from statsmodels.stats.proportion import proportion_confint

    n = len(values)
    if binary:
        low, high = proportion_confint(int(values.sum()), n, alpha=alpha, method="wilson")
        return {"method": "wilson", "ci_low": float(low), "ci_high": float(high)}
    if n < 2:
        return {"method": "student_t", "ci_low": None, "ci_high": None}
    half = student_t.ppf(1 - alpha / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return {"method": "student_t", "ci_low": float(values.mean() - half), "ci_high": float(values.mean() + half)}


def _scale_points(scale: str) -> list[int] | None:
    """The values a numeric scale allows (likert 1..N, binary 0/1); None for choice."""
    if scale == "binary":
        return [0, 1]
    if scale.startswith("likert-"):
        return list(range(1, int(scale.split("-", 1)[1]) + 1))
    return None


def checked_rows(rows: list[Mapping], *, source: str = "<ratings>") -> tuple[list[dict], int]:
    """Rows with one scale per criterion and values on it; a repeated (physician, item, system,
    criterion) keeps its latest version. Returns (rows, how many repeats were dropped)."""
    scales: dict[str, str] = {}
    latest: dict[tuple, dict] = {}
    order = sorted(range(len(rows)), key=lambda k: (str(rows[k].get("updated_at") or ""), int(rows[k].get("sequence") or 0)))
    for k in order:
        row = rows[k]
        for field in ("rater", "item_id", "system", "criterion", "scale", "value"):
            if row.get(field) is None or row.get(field) == "":
                raise DataError("missing field", file=source, record=f"rating {k + 1}", field=field)
        where = dict(file=source, record=f"rating {k + 1} ({row['rater']}, item {row['item_id']}, {row['system']}, "
                                         f"{row['criterion']})")
        scale = str(row["scale"])
        if scale != "choice" and _scale_points(scale) is None:
            raise DataError(f"unknown scale {scale!r} (likert-N, binary or choice)", **where, field="scale")
        if scales.setdefault(row["criterion"], scale) != scale:
            raise DataError(f"criterion {row['criterion']!r} is {scales[row['criterion']]} elsewhere, {scale} here",
                            **where, field="scale")
        value = row["value"]
        points = _scale_points(scale)
        if points is not None:
            try:
                value = int(str(value).strip())
            except ValueError:
                raise DataError(f"expected a whole number on {scale}, got {row['value']!r}", **where, field="value") from None
            if value not in points:
                raise DataError(f"{value} is not on {scale} ({points[0]}..{points[-1]})", **where, field="value")
        key = (str(row["rater"]), str(row["item_id"]), str(row["system"]), str(row["criterion"]))
        latest[key] = {"rater": key[0], "item_id": key[1], "system": key[2], "criterion": key[3], "scale": scale,
                       "value": value, "rater_simulated": bool(row.get("rater_simulated"))}
    return list(latest.values()), len(rows) - len(latest)


def _rubric(rubric: Rubric | Mapping | str | None) -> Rubric | None:
    if rubric is None or isinstance(rubric, Rubric):
        return rubric
    return Rubric.from_json(rubric) if isinstance(rubric, str) else Rubric.model_validate(rubric)


def _system_order(rows: list[dict], preferred: list | None) -> list[str]:
    seen = {r["system"] for r in rows}
    first = [s for s in (preferred or []) if s in seen]
    return first + sorted(seen - set(first))


def _criterion_order(rows: list[dict], rubric: Rubric | None) -> list[str]:
    seen = {r["criterion"] for r in rows}
    first = [c.id for c in rubric.criteria if c.id in seen] if rubric else []
    return first + sorted(seen - set(first))


def distribution(values: list, domain: list) -> dict:
    """Count and share of each allowed value (unused values included, as 0)."""
    counts = {str(v): 0 for v in domain}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    total = len(values)
    return {"counts": counts, "shares": {k: (c / total if total else None) for k, c in counts.items()}}


def paired_comparison(rows: list[dict], first: str, second: str) -> dict:
    """`second` minus `first` on the items both were rated on. The test (PAIRED_TEST) is the
    two-way robust one; the Wilcoxon signed-rank test on per-item means stays beside it, labelled
    as assuming independent judgments (it rejected 25-50% of true nulls when physicians differ in
    how much they like each system)."""
    from scipy.stats import wilcoxon

    mine = [r for r in rows if r["system"] in (first, second)]
    items, n_items = intervals.codes([r["item_id"] for r in mine]) if mine else (np.zeros(0, int), 0)
    which = np.array([r["system"] == second for r in mine], dtype=int)
    values = np.array([r["value"] for r in mine], dtype=float)
    sums = np.bincount(which * n_items + items, weights=values, minlength=2 * n_items).reshape(2, n_items)
    counts = np.bincount(which * n_items + items, minlength=2 * n_items).reshape(2, n_items)
    shared = (counts[0] > 0) & (counts[1] > 0)
    diffs = sums[1, shared] / counts[1, shared] - sums[0, shared] / counts[0, shared]  # per-item means
    out = {"systems": [first, second], "difference": f"{second} minus {first}", "items": int(shared.sum()),
           "mean_difference": None, "median_difference": float(np.median(diffs)) if len(diffs) else None,
           "nonzero_differences": int(np.count_nonzero(diffs)), "p_value": None, "ci_low": None, "ci_high": None,
           "test": PAIRED_TEST, "wilcoxon_statistic": None, "wilcoxon_p_value": None, "wilcoxon_assumes": WILCOXON_ASSUMES}
    if not shared.any():
        out["note"] = "no item was rated for both systems"
        return out
    keep = shared[items]
    raters = np.array([r["rater"] for r in mine])[keep]
    robust = intervals.difference_of_means(values[keep], which[keep].astype(bool), raters, items[keep], alpha=ALPHA)
    out.update(mean_difference=robust["estimate"], p_value=robust["p_value"], ci_low=robust["ci_low"],
               ci_high=robust["ci_high"], se=robust.get("se"), df=robust.get("df"),
               effective_physicians=robust.get("effective_physicians"))
    if robust.get("note"):
        out["note"] = robust["note"] if out["nonzero_differences"] else "no item differs between the systems: no test"
    if out["nonzero_differences"]:
        result = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
        out["wilcoxon_statistic"], out["wilcoxon_p_value"] = float(result.statistic), float(result.pvalue)
    return out


def holm(comparisons: list[dict]) -> None:
    """Adds `p_holm` (Holm step-down adjusted p, evaluation.paired.holm) to comparisons that have a
    p value, in place; the others (nothing to test) get None and do not count in the family."""
    tested = [c for c in comparisons if c.get("p_value") is not None]
    for c in comparisons:
        c["p_holm"] = None
    for c, p in zip(tested, holm_adjusted([c["p_value"] for c in tested]), strict=True):
        c["p_holm"] = float(p)


def agreement(rows: list[dict], domain: list[int], *, ordinal: bool) -> dict:
    """Krippendorff's alpha (ordinal metric for Likert, nominal for binary) over answers (item x
    system) rated by two or more physicians; quadratic-weighted Cohen's kappa per physician pair
    with at least two answers in common."""
    import krippendorff

    units: dict[tuple, dict[str, int]] = {}
    for row in rows:
        units.setdefault((row["item_id"], row["system"]), {})[row["rater"]] = row["value"]
    multi = [u for u in units.values() if len(u) >= 2]
    level = "ordinal" if ordinal else "nominal"
    out: dict = {"units": len(multi), "metric": level, "krippendorff_alpha": None, "cohen_kappa_quadratic": []}
    if not multi:
        out["note"] = "no answer was rated by two or more physicians"
        return out
    raters = sorted({r for u in multi for r in u})
    column = {r: i for i, r in enumerate(raters)}
    matrix = np.full((len(raters), len(multi)), np.nan)
    for j, unit in enumerate(multi):
        for rater, value in unit.items():
            matrix[column[rater], j] = value
    if len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        out["note"] = "every rating has the same value: agreement is undefined"
    else:
        out["krippendorff_alpha"] = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level,
                                                             value_domain=domain))
    out["cohen_kappa_quadratic"] = pairwise_quadratic_kappa(multi, domain)
    return out


def pairwise_quadratic_kappa(units: list[dict[str, int]], domain: list[int]) -> list[dict]:
    """Quadratic-weighted Cohen's kappa of every physician pair with two or more answers in common:
    sklearn's cohen_kappa_score(weights="quadratic", labels=domain), for all pairs in one pass
    (one confusion table per pair) instead of one call per pair."""
    position = {value: k for k, value in enumerate(domain)}
    pair_index: dict[tuple[str, str], int] = {}
    codes, firsts, seconds = [], [], []
    for unit in units:
        for a, b in combinations(sorted(unit), 2):
            codes.append(pair_index.setdefault((a, b), len(pair_index)))
            firsts.append(position[unit[a]])
            seconds.append(position[unit[b]])
    if not pair_index:
        return []
    size = len(domain)
    flat = (np.array(codes) * size + np.array(firsts)) * size + np.array(seconds)
    observed = np.bincount(flat, minlength=len(pair_index) * size * size).reshape(-1, size, size).astype(float)
    n = observed.sum(axis=(1, 2))
    expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :] / n[:, None, None]
    weights = (np.arange(size)[:, None] - np.arange(size)[None, :]) ** 2.0
    disagreement, chance = (observed * weights).sum(axis=(1, 2)), (expected * weights).sum(axis=(1, 2))
    out = []
    for (a, b), k in sorted(pair_index.items()):
        if n[k] < 2:
            continue
        entry = {"raters": [a, b], "n": int(n[k]), "kappa": float(1 - disagreement[k] / chance[k]) if chance[k] > 0 else None}
        if entry["kappa"] is None:
            entry["note"] = "undefined: no variation in these ratings"
        out.append(entry)
    return out


def _numeric_criterion(rows: list[dict], systems: list[str], domain: list[int], binary: bool) -> dict:
    per_system = {}
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        if not mine:
            continue
        values = np.array([r["value"] for r in mine], dtype=float)
        raters = np.array([r["rater"] for r in mine])
        items = np.array([r["item_id"] for r in mine])
        robust = intervals.ratio_interval(raters, items, values, np.ones(len(values)), scale="identity", alpha=ALPHA)
        if not robust.get("se"):  # every rating the same: a zero-width interval would claim certainty
            robust.update(ci_low=None, ci_high=None, note="no variation between ratings: no clustered interval")
        elif robust["ci_low"] is not None:  # a mean cannot leave its scale
            robust.update(ci_low=max(robust["ci_low"], domain[0]), ci_high=min(robust["ci_high"], domain[-1]))
        per_system[system] = {
            "n": len(mine), "items": len(set(items.tolist())), "raters": len(set(raters.tolist())),
            "mean": float(values.mean()), "distribution": distribution([r["value"] for r in mine], domain),
            "independent": independent_interval(values, binary=binary),
            "two_way_robust": robust,
        }
    return per_system


def _bootstrap_intervals(clean: list[dict], criteria: dict, rounds: int, seed: int) -> None:
    """The bootstrap interval of every (criterion, system) mean, and the headline, in place. All
    means share the same resamples: one call, two columns (sum, count) per mean. With fewer than
    MIN_RATERS physicians only items are resampled, and the rater-clustered interval is withheld."""
    groups = [(c, s) for c, entry in criteria.items() if entry["scale"] != "choice" for s in entry["per_system"]]
    if not groups:
        return
    column = {g: j for j, g in enumerate(groups)}
    values = np.zeros((len(clean), 2 * len(groups)))
    for k, row in enumerate(clean):
        j = column.get((row["criterion"], row["system"]))
        if j is not None:
            values[k, 2 * j], values[k, 2 * j + 1] = row["value"], 1.0
    raters = np.array([r["rater"] for r in clean])
    items = np.array([r["item_id"] for r in clean])
    n_raters = len(set(raters.tolist()))
    enough = intervals.headline_choice(n_raters) == "two_way_robust"
    factors = ("rater", "item") if enough else ("item",)
    sums = crossed.bootstrap_sums(raters, items, values, factors=factors, rounds=rounds, seed=seed)
    for (criterion, system), j in column.items():
        entry = criteria[criterion]["per_system"][system]
        low, high, usable = crossed.percentile_interval(crossed.ratio_draws(sums, 2 * j, 2 * j + 1), alpha=ALPHA)
        if entry["items"] < 2:
            low = high = None  # one item: every resample is the same mean
        entry["bootstrap"] = {"method": "two_way_bootstrap" if enough else "bootstrap_item", "ci_low": low,
                              "ci_high": high, "usable_rounds": usable}
        if not enough:
            entry["two_way_robust"] = {"se": None, "df": None, "ci_low": None, "ci_high": None,
                                       "note": f"withheld: {n_raters} physicians are too few clusters"}
        headline = entry["two_way_robust"] if enough else entry["bootstrap"]
        entry["interval"] = {"method": intervals.headline_choice(n_raters), "ci_low": headline["ci_low"],
                             "ci_high": headline["ci_high"], "rater_variation": enough,
                             "note": headline.get("note") if enough else headline_assumes(n_raters)}


def summarise_ratings(rows: list[Mapping], *, rubric: Rubric | Mapping | str | None = None,
                      systems: list[str] | None = None, rounds: int = 2000, seed: int = 0,
                      source: str = "<ratings>") -> dict:
    """Every number of a rating study's report, as plain JSON-ready values (None where absent)."""
    clean, repeats = checked_rows(rows, source=source)
    rubric = _rubric(rubric)
    raters = sorted({r["rater"] for r in clean})
    system_order = _system_order(clean, systems)
    summary: dict = {
        "kind": StudyKind.rating.value,
        "counts": {"ratings": len(clean), "repeats_dropped": repeats, "items": len({r["item_id"] for r in clean}),
                   "raters": len(raters), "criteria": len({r["criterion"] for r in clean}),
                   "simulated_raters": sorted({r["rater"] for r in clean if r["rater_simulated"]})},
        "systems": system_order,
        "interval": {"level": 1 - ALPHA, "headline": intervals.headline_choice(len(raters)), "rounds": rounds,
                     "seed": seed, "rater_variation": intervals.headline_choice(len(raters)) == "two_way_robust",
                     "paired_test": PAIRED_TEST, "wilcoxon_assumes": WILCOXON_ASSUMES,
                     "assumes": headline_assumes(len(raters)), "bootstrap_assumes": BOOTSTRAP_ASSUMES,
                     "independent_assumes": INDEPENDENT_ASSUMES, "two_way_robust_assumes": ROBUST_ASSUMES},
        "criteria": {},
    }
    load = intervals.workload([r["rater"] for r in clean])
    summary["workload"] = {**load, "warning": intervals.workload_warning(load)}
    if not clean:
        summary["note"] = "no ratings: nothing to summarise"
        return summary
    for criterion_id in _criterion_order(clean, rubric):
        mine = [r for r in clean if r["criterion"] == criterion_id]
        entry = _describe_criterion(criterion_id, mine[0]["scale"], rubric, mine)
        if entry["scale"] == "choice":
            entry["per_system"] = {s: {"n": len(v), "distribution": distribution(v, entry["domain"])}
                                   for s in system_order if (v := [r["value"] for r in mine if r["system"] == s])}
        else:
            entry["per_system"] = _numeric_criterion(mine, system_order, entry["domain"], entry["scale"] == "binary")
            entry["paired"] = [paired_comparison(mine, a, b) for a, b in combinations(list(entry["per_system"]), 2)]
            entry["agreement"] = agreement(mine, entry["domain"], ordinal=entry["scale"] != "binary")
        summary["criteria"][criterion_id] = entry
    _holm_per_pair(summary["criteria"])
    _bootstrap_intervals(clean, summary["criteria"], rounds, seed)
    return summary


def _describe_criterion(criterion_id: str, scale: str, rubric: Rubric | None, rows: list[dict]) -> dict:
    criterion = None
    if rubric is not None and criterion_id in {c.id for c in rubric.criteria}:
        criterion = rubric.criterion(criterion_id)
    domain = _scale_points(scale)
    if domain is None:  # choice: the rubric's options in screen order, else the values seen
        seen = sorted({str(r["value"]) for r in rows})
        domain = [str(v) for v, _label in criterion.options()] if criterion else seen
        domain += [v for v in seen if v not in domain]
    return {"id": criterion_id, "scale": scale, "question": criterion.question if criterion else None,
            "higher_is_better": criterion.higher_is_better if criterion and scale != "choice" else None,
            "labels": {str(v): label for v, label in criterion.options()} if criterion else None,
            "domain": domain}


def _holm_per_pair(criteria: dict) -> None:
    """Holm across criteria, separately for each pair of systems (each pair is one family)."""
    families: dict[tuple, list[dict]] = {}
    for entry in criteria.values():
        for comparison in entry.get("paired", []):
            families.setdefault(tuple(comparison["systems"]), []).append(comparison)
    for family in families.values():
        holm(family)
