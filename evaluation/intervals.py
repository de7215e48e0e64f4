"""The one interval engine of every report: two-way cluster-robust intervals and the tests that
invert them, for rates (logit scale) and means or differences of means (identity scale).

A judging study samples physicians and items, so both add variance. Every statistic the reports
print is written as an estimate plus its per-judgment influence (linearisation): a ratio
sum(num) / sum(den) has influence (num - estimate * den) / sum(den); a difference of two means is
the difference of their influences. The variance is the two-way cluster-robust one of Cameron,
Gelbach and Miller (2011), V = V_physician + V_item - V_physician x item, each with the G/(G-1)
factor (the larger one-way variance when V is not positive).

Degrees of freedom follow the EFFECTIVE number of physicians, not the head count: with shares
s_j of the judgments, n_eff = 1 / sum s_j^2 (Kish). One physician doing 60% of 5 physicians'
work gives n_eff = 2.5, and t on n_eff - 1 = 1.5 df keeps the interval honest where t on 4 df
covered 87% (bench/coverage.py). Balanced designs are unchanged (n_eff = head count).

The headline rule (one, for pairwise and rating reports): with MIN_RATERS or more physicians the
two-way robust interval; with fewer, the bootstrap over items (evaluation.crossed), which holds for
these physicians only and says so.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from evaluation.distributions import t_ppf, t_sf

# With fewer physicians than this the physician variance cannot be estimated: the report says so.
MIN_RATERS = 5
# A physician carrying more than this share of the judgments is named in a warning.
HEAVY_SHARE = 1 / 3
SCALES = ("logit", "identity")
DF_RULES = ("effective_physicians", "physicians")


def codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for cluster labels, and G."""
    uniques, inverse = unique_inverse(values)
    return inverse, len(uniques)


def unique_inverse(values) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True), the inverse as int64."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 8 * len(values) + 1024:
        # labels that are codes already (a study's physicians or items), or physician x item cells of
        # them: the same codes as np.unique's inverse, by marking the labels present instead of sorting
        # (a million labels of 20,000 items: ~10x faster; 840,000 cells of 200 x 20,000: 47 -> 27 ms);
        # each present label's code is written once into a lookup of 4-byte codes
        marked = np.zeros(int(values.max()) + 1, dtype=bool)
        marked[values] = True
        present = np.flatnonzero(marked)
        lookup = np.empty(len(marked), dtype=np.int32 if len(present) < 2**31 else np.int64)
        lookup[present] = np.arange(len(present))
        return present, lookup[values].astype(np.int64)
    uniques, inverse = np.unique(values, return_inverse=True)
    return uniques, inverse.astype(np.int64)


def cluster_groups(raters, items, n_raters: int | None = None, n_items: int | None = None) -> list[tuple]:
    """(codes, count, present) for physicians, items and physician-item cells, computed once per
    subset; with n_raters / n_items given, raters and items are codes of a whole study already."""
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
        marked = np.zeros(count, dtype=bool)  # clusters present (a bool mark: 4M cells 25 -> 10 ms against a count)
        marked[labels] = True
        out.append((labels, count, int(np.count_nonzero(marked))))
    if out[2][2] == len(cells):  # one judgment per cell (the usual case): cell sums are the influences themselves
        out[2] = (None, n_cells, len(cells))
    return out


def two_way_variance(influence: np.ndarray, groups: list[tuple]) -> tuple[float, list[float]]:
    """V_rater + V_item - V_cell of a statistic with these per-judgment influences (each part
    sum over clusters of (sum of influences)^2, times G/(G-1)); the larger one-way variance when
    the combination is not positive, and the judgment-level one when neither physicians nor items
    vary at all (a perfectly balanced design can cancel both). Also the three parts."""
    parts = []
    for labels, count, present in groups:
        sums = influence if labels is None else np.bincount(labels, weights=influence, minlength=count)
        parts.append(present / (present - 1) * float(sums @ sums) if present > 1 else 0.0)
    v = parts[0] + parts[1] - parts[2]
    if v <= 0:
        v = max(parts[0], parts[1]) if max(parts[0], parts[1]) > 0 else parts[2]
    return v, parts


def workload(raters, weights=None, n_raters: int | None = None) -> dict:
    """Physicians' shares of the judgments a statistic rests on: head count, effective number
    (Kish, 1 / sum of squared shares), the largest share and whether it is above HEAVY_SHARE."""
    raters = np.asarray(raters, dtype=np.int64) if n_raters is not None else codes(raters)[0]
    weights = np.ones(len(raters)) if weights is None else np.asarray(weights, dtype=float)
    per = np.bincount(raters, weights=weights, minlength=n_raters or 0)
    per = per[per > 0]
    if not len(per):
        return {"physicians": 0, "effective_physicians": 0.0, "largest_share": None, "heavy": False}
    shares = per / per.sum()
    largest = float(shares.max())
    return {"physicians": int(len(per)), "effective_physicians": float(1 / np.sum(shares ** 2)),
            "largest_share": largest, "heavy": bool(largest > HEAVY_SHARE)}


def workload_warning(load: dict) -> str | None:
    """The warning, in words, when one physician carries more than a third of the judgments."""
    if not load.get("heavy"):
        return None
    return (f"One physician carries {load['largest_share']:.0%} of these judgments: the {load['physicians']} physicians "
            f"count as {load['effective_physicians']:.1f} effective physicians, the interval uses t on "
            f"{max(load['effective_physicians'] - 1, 0):.1f} degrees of freedom and is wider; it mostly describes that "
            f"physician. Cap a physician's share (`study create --max-share`) to avoid this.")


def degrees_of_freedom(load: dict, rule: str = "effective_physicians") -> float:
    if rule not in DF_RULES:
        raise ValueError(f"df rule must be one of {DF_RULES}, got {rule!r}")
    clusters = load["effective_physicians"] if rule == "effective_physicians" else load["physicians"]
    return float(clusters - 1)


def robust_interval(estimate: float, influence, raters, items, *, scale: str = "logit", alpha: float = 0.05,
                    null: float | None = None, groups: list[tuple] | None = None, weights=None,
                    df_rule: str = "effective_physicians", n_raters: int | None = None,
                    n_items: int | None = None, load: dict | None = None) -> dict:
    """Interval (and, with `null`, the two-sided test that inverts it) of a statistic given its
    per-judgment influences: two-way robust standard error, on `scale` ("logit": rates in (0, 1),
    interval transformed back; "identity": means and differences), t quantile on the df rule's
    degrees of freedom. `weights`: each judgment's weight in the physicians' shares (default 1);
    `load`: workload(physicians, weights) when the caller has computed it."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    influence = np.asarray(influence, dtype=float)
    groups = groups or cluster_groups(raters, items, n_raters, n_items)
    load = load or workload(groups[0][0], weights, groups[0][1])  # a caller's, when it has them already
    out = {"estimate": estimate, "se": None, "df": None, "ci_low": None, "ci_high": None, "p_value": None,
           "scale": scale, "df_rule": df_rule, **{k: load[k] for k in ("effective_physicians", "largest_share")}}
    if estimate is None or load["physicians"] < 2:
        return {**out, "note": "no interval: only one physician"}
    if scale == "logit" and not 0 < estimate < 1:
        return {**out, "note": "no interval: the rate is 0 or 1"}
    v, _parts = two_way_variance(influence, groups)
    df = degrees_of_freedom(load, df_rule)
    if v <= 0 or df <= 0:
        return {**out, "se": float(np.sqrt(max(v, 0))), "note": "no interval: no variation between judgments"
                if v <= 0 else "no interval: one physician carries all the weight"}
    se = float(np.sqrt(v))
    se_scale = se / (estimate * (1 - estimate)) if scale == "logit" else se  # delta method onto the logit
    centre = float(logit(estimate)) if scale == "logit" else estimate
    half = t_ppf(1 - alpha / 2, df) * se_scale
    back = expit if scale == "logit" else float
    out.update(se=se, df=df, ci_low=float(back(centre - half)), ci_high=float(back(centre + half)))
    if null is not None:
        null_centre = float(logit(null)) if scale == "logit" else null
        out["null"] = null
        out["p_value"] = float(2 * t_sf(abs(centre - null_centre) / se_scale, df))
    return out


def ratio_influence(numerator, denominator) -> tuple[float | None, np.ndarray]:
    """sum(num) / sum(den) and its per-judgment influence (num - estimate * den) / sum(den)."""
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    total = den.sum()
    if total <= 0:
        return None, np.zeros(len(num))
    estimate = float(num.sum() / total)
    return estimate, (num - estimate * den) / total


def ratio_interval(raters, items, numerator, denominator, *, scale: str = "logit", alpha: float = 0.05,
                   null: float | None = None, groups: list[tuple] | None = None,
                   df_rule: str = "effective_physicians") -> dict:
    """The two-way robust interval of sum(numerator) / sum(denominator); physicians' shares are
    their shares of the denominator (e.g. of the decisive votes for a decisive-vote rate)."""
    estimate, influence = ratio_influence(numerator, denominator)
    if estimate is None:
        return {"estimate": None, "ci_low": None, "ci_high": None, "p_value": None, "note": "nothing to divide by"}
    return robust_interval(estimate, influence, raters, items, scale=scale, alpha=alpha, null=null, groups=groups,
                           weights=denominator, df_rule=df_rule)


def difference_of_means(values, second, raters, items, *, alpha: float = 0.05, df_rule: str = "effective_physicians"
                        ) -> dict:
    """mean(values where second) - mean(values where not second), tested against 0, on the
    identity scale. Clustering by physician keeps each physician's own preference between the two
    systems (physician-by-system interaction) in the variance; clustering by item keeps the
    items' difficulty; so with a physician who likes one system more, the test still holds."""
    values, second = np.asarray(values, float), np.asarray(second, bool)
    n_second, n_first = second.sum(), (~second).sum()
    if not n_second or not n_first:
        return {"estimate": None, "ci_low": None, "ci_high": None, "p_value": None, "note": "one system has no ratings"}
    m2, m1 = values[second].mean(), values[~second].mean()
    influence = np.where(second, (values - m2) / n_second, -(values - m1) / n_first)
    return robust_interval(float(m2 - m1), influence, raters, items, scale="identity", alpha=alpha, null=0.0,
                           df_rule=df_rule)


# ---- the headline rule, one for every report ----

HEADLINE_DESCRIPTION = (f"with {MIN_RATERS} or more physicians, the two-way cluster-robust interval (physicians and "
                        f"items; logit scale for rates, identity for means; t on effective physicians - 1 df); with "
                        f"fewer, the bootstrap over items, which holds for these physicians only.")

ASSUMES = {
    "two_way_robust": "physicians and items are both random samples (two-way cluster-robust; logit scale for rates; t on "
                      "effective physicians - 1 df, from their shares of the judgments)",
    "two_way_bootstrap": "physicians and items resampled independently (pigeonhole bootstrap; conservative: it counts "
                         "judgment-level noise twice)",
    "bootstrap_item": "items are a random sample; physicians fixed (ignores variation between physicians)",
    "bootstrap_rater": "physicians are a random sample; items fixed (ignores variation between items)",
    "independent": "every judgment independent (ignores both physicians and items)",
}


def headline_choice(n_raters: int) -> str:
    """Which interval heads a report: two-way with enough physicians, else items only."""
    return "two_way_robust" if n_raters >= MIN_RATERS else "bootstrap_item"


def few_raters_note(n_raters: int) -> str:
    return (f"Only {n_raters} physician{'s' if n_raters != 1 else ''}: this interval accounts for variation between "
            f"items but cannot account for variation between physicians; it describes these {n_raters} only.")


def population_sentence(physicians: int, items: int, load: dict | None = None) -> str:
    """Who the headline speaks for, in words."""
    if physicians >= MIN_RATERS:
        text = (f"Population: physicians and items are treated as random samples from larger pools; the interval rests "
                f"on {physicians} physicians and {items} items")
        if load and load.get("effective_physicians") is not None and load["effective_physicians"] < physicians - 0.05:
            text += f" ({load['effective_physicians']:.1f} effective physicians by their shares of the judgments)"
        return text + "."
    return (f"Population: items are treated as a random sample, but with {physicians} physician"
            f"{'s' if physicians != 1 else ''} the result holds for these physicians only ({items} items).")


def bootstrap_p_value(draws: np.ndarray, null: float) -> float | None:
    """Two-sided p-value that inverts a percentile interval: twice the smaller share of usable
    resamples on either side of the null (bounded by 1)."""
    usable = draws[np.isfinite(draws)]
    if len(usable) < 10:
        return None
    below, above = np.mean(usable <= null), np.mean(usable >= null)
    return float(min(1.0, 2 * min(below, above)))
