"""Bias checks, each reported with its size: position (does the left answer win more?) and
length (does the longer one?)."""

from __future__ import annotations

import re

import numpy as np
from scipy.special import expit

from evaluation import intervals
from evaluation.contingency import mantel_haenszel
from evaluation.distributions import binomtest_pvalue, proportion_confint, t_ppf, t_sf
from evaluation.intervals import codes
from evaluation.table import A, B

WORDS = re.compile(r"[^ \t\n\r\f\v]+")  # same rule as evaluation.table.WORD_PATTERN


def position_bias_table(table, *, alpha: float = 0.05) -> dict:
    """Does the left answer win more often? Two tests, both with the headline's design (physicians
    and items as random samples; two-way cluster-robust, t on effective physicians - 1 df):

    - the left answer's share of decisive judgments against 0.5 (valid when sides are drawn at
      random, as the app does);
    - a logistic regression of "the pair's first system won" on "it was shown on the left", with one
      intercept per comparison, so a better system shown mostly on the left (imported data) is not
      read as position bias; its coefficient is the log odds ratio of winning on the left.

    The binomial test, the Wilson interval and the Mantel-Haenszel (CMH) test of the same question
    assume independent judgments and are kept under `independent` for the appendix only."""

    decisive = ~table.is_gold & ((table.choice == A) | (table.choice == B))
    if not decisive.any():
        return {"n": 0, "note": "no decisive judgments"}
    choice, sa, sb = table.choice[decisive], table.system_a[decisive], table.system_b[decisive]
    raters, items = table.rater[decisive], table.item[decisive]
    left_won = (choice == A).astype(float)
    left, n = int(left_won.sum()), int(decisive.sum())
    share = intervals.ratio_interval(raters, items, left_won, np.ones(n), alpha=alpha, null=0.5)
    result = {"n": n, "left_wins": left, "left_share": left / n, "ci_low": share["ci_low"], "ci_high": share["ci_high"],
              "p_value": share["p_value"], "test": "left share vs 0.5, two-way cluster-robust (physicians and items)",
              "effective_physicians": share.get("effective_physicians")}
    low, high = proportion_confint(left, n, alpha=alpha, method="wilson")
    independent = {"wilson_low": float(low), "wilson_high": float(high),
                   "binomial_p_value": float(binomtest_pvalue(left, n, 0.5)),
                   "assumes": "assumes independent judgments"}
    first, second = np.minimum(sa, sb), np.maximum(sa, sb)
    first_left, first_won = sa == first, np.where(choice == A, sa, sb) == first
    tables, strata, usable_pairs = [], [], []
    # each compared pair's 2 x 2 table (first system left?, first system won?) by one count of codes
    pair_keys, pair = intervals.unique_inverse(first * len(table.systems) + second)
    cells = np.bincount(pair * 4 + 2 * ~first_left + ~first_won, minlength=4 * len(pair_keys)).reshape(-1, 2, 2)
    for j, key in enumerate(pair_keys.tolist()):
        x, y = divmod(key, len(table.systems))
        here = pair == j
        t = cells[j].astype(float)
        entry = {"systems": [table.systems[x], table.systems[y]], "n": int(t.sum()),
                 "first_left": int(t[0].sum()), "first_right": int(t[1].sum())}
        if t[0].sum() and t[1].sum():
            entry["balanced_left_share"] = float(0.5 * (t[0, 0] / t[0].sum() + t[1, 1] / t[1].sum()))
            tables.append(t)
            usable_pairs.append(here)
        strata.append(entry)
    result["strata"] = strata
    if not tables:
        result["note"] = "no comparison was shown in both placements: position cannot be told from system quality"
        result["independent"] = independent
        return result
    weights = [t.sum() for t in tables]
    result["balanced_left_share"] = float(np.average([e["balanced_left_share"] for e in strata
                                                      if "balanced_left_share" in e], weights=weights))
    result["left_advantage_points"] = 100 * (result["balanced_left_share"] - 0.5)
    result.update(_position_regression(usable_pairs, first_left, first_won, raters, items, alpha))
    padded = [t + 0.5 if (t == 0).any() else t for t in tables]  # Haldane: no empty cell in the pooled odds
    # statsmodels' StratifiedTable numbers (== in tests/evaluation/test_own_statistics.py) without
    # importing statsmodels, pandas and scipy.stats in every report (~0.4 s)
    pooled = mantel_haenszel([t.tolist() for t in padded], alpha=alpha)
    independent.update(mh_odds_ratio=float(pooled["odds_ratio"]), mh_ci_low=float(pooled["ci_low"]),
                       mh_ci_high=float(pooled["ci_high"]), cmh_p_value=float(pooled["p_value"]))
    result["independent"] = independent
    return result


def _position_regression(pairs: list[np.ndarray], first_left, first_won, raters, items, alpha: float) -> dict:
    """Logistic regression of first_won on a left indicator (+1/2 left, -1/2 right) with one
    intercept per comparison, over the comparisons shown in both placements; two-way robust."""
    keep = np.any(pairs, axis=0)
    design = np.column_stack([p[keep] for p in pairs] + [first_left[keep] - 0.5]).astype(float)
    y = first_won[keep].astype(float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        try:
            beta, covariance, converged = logistic_two_way(y, design, raters[keep], items[keep])
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        return {"regression_note": "the position regression did not converge (outcomes separated)"}
    se = float(np.sqrt(max(covariance[-1, -1], 0)))
    df = intervals.degrees_of_freedom(intervals.workload(raters[keep]))
    if se == 0 or df <= 0:
        return {"regression_note": "no variation: the position regression has no standard error"}
    q = t_ppf(1 - alpha / 2, df)
    return {"odds_ratio_left": float(np.exp(beta[-1])), "odds_ratio_ci_low": float(np.exp(beta[-1] - q * se)),
            "odds_ratio_ci_high": float(np.exp(beta[-1] + q * se)), "odds_ratio_df": df,
            "odds_ratio_p_value": float(2 * t_sf(abs(beta[-1]) / se, df)),
            "regression": "logistic, one intercept per comparison, two-way cluster-robust, t on effective physicians - 1"}


def words(text: str) -> int:
    return len(WORDS.findall(text))


def length_difference(a: str, b: str) -> float:
    """FastChat-style normalised length difference (a - b) / (a + b + 1), in words."""
    la, lb = words(a), words(b)
    return (la - lb) / (la + lb + 1)


def logistic_two_way(y: np.ndarray, design: np.ndarray, raters, items, *, iterations: int = 50):
    """Logistic regression of y on the columns of `design` by Newton's method, with the two-way
    cluster-robust covariance (physicians and items; each part with statsmodels' G/(G-1)
    (N-1)/(N-k) factor). Returns (params, covariance, converged)."""
    design = np.asarray(design, dtype=float)
    beta = np.zeros(design.shape[1])
    converged = False
    for _ in range(iterations):
        p = expit(design @ beta)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            converged = True
            break
    p = expit(design @ beta)
    bread = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    scores = design * (y - p)[:, None]
    n, k = design.shape
    raters, n_r = codes(raters)
    items, n_i = codes(items)
    cells, n_c = codes(raters * n_i + items)

    def meat(groups, count):
        sums = np.stack([np.bincount(groups, weights=scores[:, j], minlength=count) for j in range(k)], axis=1)
        return count / (count - 1) * (n - 1) / (n - k) * sums.T @ sums if count > 1 else np.zeros((k, k))

    covariance = bread @ (meat(raters, n_r) + meat(items, n_i) - meat(cells, n_c)) @ bread
    return beta, covariance, converged and bool(np.all(np.isfinite(beta)))


def length_bias_table(table, system: str, *, alpha: float = 0.05) -> dict:
    """Logistic regression of "system preferred" on the normalised length difference (system minus
    other) over decisive judgments. Its scale is the decisive votes: the length-controlled win
    rate is the predicted share of decisive votes won at zero length difference, with a two-way
    clustered interval (t on effective physicians - 1 df, as the headline win rate). Also: how often the
    longer answer won, and the effect's size as win odds per 0.1 of length difference."""
    if table.words_a is None:
        return {"n": 0, "note": "the judgments carry no answer texts"}
    code = table.system_code(system)
    keep = ~table.is_gold & ((table.choice == A) | (table.choice == B)) & (
        (table.system_a == code) | (table.system_b == code))
    if not keep.any():
        return {"n": 0, "note": "no decisive judgments"}
    mine_left = table.system_a[keep] == code
    mine = np.where(mine_left, table.words_a[keep], table.words_b[keep]).astype(float)
    other = np.where(mine_left, table.words_b[keep], table.words_a[keep]).astype(float)
    diff = (mine - other) / (mine + other + 1)
    won = (table.preferred[keep] == code).astype(float)
    result: dict = {"n": int(keep.sum()), "system": system, "scale": "decisive votes (ties and both bad excluded)"}
    differs = diff != 0
    if differs.any():
        longer_won = np.where(diff[differs] > 0, won[differs], 1 - won[differs])
        longer = int(longer_won.sum())
        test = intervals.ratio_interval(table.rater[keep][differs], table.item[keep][differs], longer_won,
                                        np.ones(len(longer_won)), alpha=alpha, null=0.5)
        result.update(longer_wins=longer, with_length_difference=int(differs.sum()),
                      longer_share=longer / int(differs.sum()), longer_p_value=test["p_value"],
                      longer_ci_low=test["ci_low"], longer_ci_high=test["ci_high"],
                      longer_test="longer answer's share vs 0.5, two-way cluster-robust (physicians and items)",
                      independent={"binomial_p_value": float(binomtest_pvalue(longer, int(differs.sum()))),
                                   "assumes": "assumes independent judgments"})
    if won.min() == won.max() or np.allclose(diff, diff[0]):
        result["note"] = "no variation in outcome or length difference: regression not identifiable"
        return result
    raters, items = table.rater[keep], table.item[keep]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        try:
            beta, covariance, converged = logistic_two_way(won, np.column_stack([np.ones(len(won)), diff]), raters, items)
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        result["note"] = "regression did not converge (outcome nearly separated by length); estimates not reported"
        return result
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    n_raters = len(np.unique(raters))
    df = max(intervals.degrees_of_freedom(intervals.workload(raters)), 1e-9)
    q = t_ppf(1 - alpha / 2, df)
    result.update(
        coefficient=float(beta[1]), coefficient_se=float(se[1]), df=df,
        coefficient_p_value=float(2 * t_sf(abs(beta[1] / se[1]), df)) if se[1] > 0 else None,
        odds_ratio_per_0_1=float(np.exp(0.1 * beta[1])),
        length_controlled_win_rate=float(expit(beta[0])),
        lc_ci_low=float(expit(beta[0] - q * se[0])), lc_ci_high=float(expit(beta[0] + q * se[0])),
        interval="two-way cluster-robust (physicians and items), logit scale, t on effective physicians - 1 df",
    )
    if intervals.headline_choice(n_raters) != "two_way_robust":
        result["interval_note"] = intervals.few_raters_note(n_raters)
    return result
