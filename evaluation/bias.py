"""Bias checks, each reported with its size: position (does the left answer win more?) and
length (does the longer one?)."""

from __future__ import annotations

import re

import numpy as np
from scipy.special import expit
from scipy.stats import binomtest
from scipy.stats import t as t_dist
from statsmodels.stats.proportion import proportion_confint

from evaluation.contract import DECISIVE

WORDS = re.compile(r"[^ \t\n\r\f\v]+")  # same rule as evaluation.table.WORD_PATTERN


def position_bias(rows: list[dict], *, alpha: float = 0.05) -> dict:
    from evaluation.table import from_rows

    if not any(r["choice"] in DECISIVE for r in rows):
        return {"n": 0, "note": "no decisive judgments"}
    return position_bias_table(from_rows(rows), alpha=alpha)


def position_bias_table(table, *, alpha: float = 0.05) -> dict:
    """Share of decisive judgments won by the left answer, overall and stratified by comparison.

    Raw left share is confounded when a system sits on the left more often than the other
    (imported data): a better system shown mostly on the left looks like position bias. So per
    comparison {x, y} the left-win share is averaged over the two placements (x left, y left),
    which cancels the systems' quality, and strata are pooled with the Mantel-Haenszel odds
    ratio of x winning when on the left vs on the right (CMH test); comparisons shown in one
    placement only carry no information about position and are left out."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    from evaluation.table import A, B

    decisive = ~table.is_gold & ((table.choice == A) | (table.choice == B))
    if not decisive.any():
        return {"n": 0, "note": "no decisive judgments"}
    choice, sa, sb = table.choice[decisive], table.system_a[decisive], table.system_b[decisive]
    left = int((choice == A).sum())
    n = int(decisive.sum())
    low, high = proportion_confint(left, n, alpha=alpha, method="wilson")
    result = {"n": n, "left_wins": left, "left_share": left / n, "ci_low": float(low), "ci_high": float(high),
              "p_value": float(binomtest(left, n, 0.5).pvalue), "simple_interval": "Wilson, assuming independence"}
    first, second = np.minimum(sa, sb), np.maximum(sa, sb)
    first_left, first_won = sa == first, np.where(choice == A, sa, sb) == first
    tables, strata, balanced, weights = [], [], [], []
    for x, y in sorted(set(zip(first.tolist(), second.tolist(), strict=True))):
        here = (first == x) & (second == y)
        t = np.array([[np.sum(here & first_left & first_won), np.sum(here & first_left & ~first_won)],
                      [np.sum(here & ~first_left & first_won), np.sum(here & ~first_left & ~first_won)]], float)
        entry = {"systems": [table.systems[x], table.systems[y]], "n": int(here.sum()),
                 "first_left": int(t[0].sum()), "first_right": int(t[1].sum())}
        if t[0].sum() and t[1].sum():
            share = 0.5 * (t[0, 0] / t[0].sum() + t[1, 1] / t[1].sum())  # left wins, averaged over placements
            entry["balanced_left_share"] = float(share)
            balanced.append(share)
            weights.append(here.sum())
            tables.append(t)
        strata.append(entry)
    result["strata"] = strata
    if tables:
        result["balanced_left_share"] = float(np.average(balanced, weights=weights))
        result["left_advantage_points"] = 100 * (result["balanced_left_share"] - 0.5)
        usable = [t + 0.5 if (t == 0).any() else t for t in tables]  # Haldane: no empty cell in the pooled odds
        pooled = StratifiedTable([t.tolist() for t in usable])
        or_low, or_high = pooled.oddsratio_pooled_confint(alpha=alpha)
        result.update(odds_ratio_left=float(pooled.oddsratio_pooled), odds_ratio_ci_low=float(or_low),
                      odds_ratio_ci_high=float(or_high), cmh_p_value=float(pooled.test_null_odds().pvalue))
    else:
        result["note"] = "no comparison was shown in both placements: position cannot be told from system quality"
    return result


def words(text: str) -> int:
    return len(WORDS.findall(text))


def length_difference(a: str, b: str) -> float:
    """FastChat-style normalised length difference (a - b) / (a + b + 1), in words."""
    la, lb = words(a), words(b)
    return (la - lb) / (la + lb + 1)


def logistic_two_way(y: np.ndarray, x: np.ndarray, raters, items, *, iterations: int = 50):
    """Logistic regression of y on [1, x] by Newton's method, with the two-way cluster-robust
    covariance (physicians and items; each part with statsmodels' G/(G-1) (N-1)/(N-k) factor).
    Returns (params, covariance, converged)."""
    from evaluation.crossed import codes

    design = np.column_stack([np.ones(len(y)), x])
    beta = np.zeros(2)
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


def length_bias(rows: list[dict], system: str, *, alpha: float = 0.05) -> dict:
    from evaluation.table import from_rows

    if not rows:
        return {"n": 0, "note": "no judgments"}
    return length_bias_table(from_rows(rows), system, alpha=alpha)


def length_bias_table(table, system: str, *, alpha: float = 0.05) -> dict:
    """Logistic regression of "system preferred" on the normalised length difference (system minus
    other) over decisive judgments. Its scale is the decisive votes: the length-controlled win
    rate is the predicted share of decisive votes won at zero length difference, with a two-way
    clustered interval (t on physicians - 1 df, as the headline win rate). Also: how often the
    longer answer won, and the effect's size as win odds per 0.1 of length difference."""
    from evaluation.table import A, B

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
        longer = int(np.sum(np.where(diff[differs] > 0, won[differs], 1 - won[differs])))
        result.update(longer_wins=longer, with_length_difference=int(differs.sum()),
                      longer_share=longer / int(differs.sum()),
                      longer_p_value=float(binomtest(longer, int(differs.sum())).pvalue))
    if won.min() == won.max() or np.allclose(diff, diff[0]):
        result["note"] = "no variation in outcome or length difference: regression not identifiable"
        return result
    raters, items = table.rater[keep], table.item[keep]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        try:
            beta, covariance, converged = logistic_two_way(won, diff, raters, items)
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        result["note"] = "regression did not converge (outcome nearly separated by length); estimates not reported"
        return result
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    n_raters = len(np.unique(raters))
    q = t_dist.ppf(1 - alpha / 2, max(n_raters - 1, 1))
    result.update(
        coefficient=float(beta[1]), coefficient_se=float(se[1]),
        coefficient_p_value=float(2 * t_dist.sf(abs(beta[1] / se[1]), max(n_raters - 1, 1))) if se[1] > 0 else None,
        odds_ratio_per_0_1=float(np.exp(0.1 * beta[1])),
        length_controlled_win_rate=float(expit(beta[0])),
        lc_ci_low=float(expit(beta[0] - q * se[0])), lc_ci_high=float(expit(beta[0] + q * se[0])),
        interval="two-way cluster-robust (physicians and items), logit scale, t on physicians - 1 df",
    )
    if n_raters < 5:
        from evaluation.crossed import few_raters_note

        result["interval_note"] = few_raters_note(n_raters)
    return result
