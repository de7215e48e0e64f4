"""The Mantel-Haenszel pooled odds ratio of stratified 2 x 2 tables, its Robins-Breslow-Greenland
interval and the Cochran-Mantel-Haenszel test: statsmodels' StratifiedTable, with its arithmetic
step by step so the numbers are equal (tests compare). Own code because statsmodels, with pandas
and scipy.stats, costs ~0.4 s of import in every report (evaluation.bias's position check)."""

from __future__ import annotations

import numpy as np
from scipy.special import chdtr

from evaluation.distributions import norm_ppf


def mantel_haenszel(tables, *, alpha: float = 0.05) -> dict:
    """tables: 2 x 2 tables (one per stratum), as StratifiedTable(tables) takes them (no zero
    shifting here: pad the tables first). Returns odds_ratio (oddsratio_pooled), ci_low / ci_high
    (oddsratio_pooled_confint(alpha)) and p_value (test_null_odds().pvalue, no continuity correction)."""
    if any(np.asarray(t).shape != (2, 2) for t in tables):
        raise ValueError("the Mantel-Haenszel test needs 2 x 2 tables")
    table = np.dstack(tables).astype(np.float64)
    a, b, c, d = table[0, 0, :], table[0, 1, :], table[1, 0, :], table[1, 1, :]
    apb, apc, bpd, cpd = a + b, a + c, b + d, c + d
    ad, bc, apd, n = a * d, b * c, a + d, table.sum(0).sum(0)
    odds_ratio = np.sum(ad / n) / np.sum(bc / n)
    adns, bcns = np.sum(ad / n), np.sum(bc / n)  # the log odds ratio's variance (Robins, Breslow, Greenland 1986)
    variance = np.sum(apd * ad / n**2) / adns**2
    mid = apd * bc / n**2
    mid += (1 - apd / n) * ad / n
    mid = np.sum(mid)
    mid /= adns * bcns
    variance += mid
    variance += np.sum((1 - apd / n) * bc / n) / bcns**2
    variance /= 2
    log_or, half = np.log(odds_ratio), -norm_ppf(alpha / 2) * np.sqrt(variance)
    statistic = np.abs(np.sum(a - apb * apc / n)) ** 2
    denom = apb * apc * bpd * cpd
    denom /= n**2 * (n - 1)
    statistic /= np.sum(denom)
    return {"odds_ratio": odds_ratio, "ci_low": np.exp(log_or - half), "ci_high": np.exp(log_or + half),
            "p_value": 1 - chdtr(1, statistic)}
