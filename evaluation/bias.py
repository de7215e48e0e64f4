"""Bias checks: position (does the left answer win more?) and length (does the longer one?)."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from evaluation.contract import DECISIVE, Choice


def position_bias(rows: list[dict], *, alpha: float = 0.05) -> dict:
    """Share of decisive judgments that chose the left answer (A), tested against 0.5."""
    decisive = [r for r in rows if r["choice"] in DECISIVE]
    if not decisive:
        return {"n": 0, "note": "no decisive judgments"}
    left = sum(r["choice"] == Choice.a for r in decisive)
    low, high = proportion_confint(left, len(decisive), alpha=alpha, method="wilson")
    return {"n": len(decisive), "left_wins": left, "left_share": left / len(decisive), "ci_low": float(low),
            "ci_high": float(high), "p_value": float(binomtest(left, len(decisive), 0.5).pvalue)}


def length_difference(a: str, b: str) -> float:
    """FastChat-style normalised length difference (a - b) / (a + b + 1), in words."""
    la, lb = len(a.split()), len(b.split())
    return (la - lb) / (la + lb + 1)


def length_bias(rows: list[dict], system: str, *, alpha: float = 0.05) -> dict:
    """Logistic regression of "system preferred" on the normalised length difference (system
    minus other) over decisive judgments; the length-controlled win rate is the predicted win
    rate at zero length difference. Also: how often the longer answer won."""
    import statsmodels.api as sm
    from scipy.special import expit

    decisive = [r for r in rows if r["choice"] in DECISIVE and "answer_a" in r]
    if not decisive:
        return {"n": 0, "note": "no decisive judgments with answer texts"}
    y, x, longer = [], [], []
    for row in decisive:
        mine, other = ("a", "b") if row["system_a"] == system else ("b", "a")
        diff = length_difference(row[f"answer_{mine}"], row[f"answer_{other}"])
        y.append(1.0 if row["preferred_system"] == system else 0.0)
        x.append(diff)
        if diff != 0:
            winner_diff = diff if row["preferred_system"] == system else -diff
            longer.append(winner_diff > 0)
    result: dict = {"n": len(decisive), "system": system}
    if longer:
        result.update(longer_wins=sum(longer), with_length_difference=len(longer),
                      longer_share=sum(longer) / len(longer), longer_p_value=float(binomtest(sum(longer), len(longer)).pvalue))
    y_arr, x_arr = np.array(y), np.array(x)
    if y_arr.min() == y_arr.max() or np.allclose(x_arr, x_arr[0]):
        result["note"] = "no variation in outcome or length difference: regression not identifiable"
        return result
    import warnings

    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (ConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))
            fit = sm.Logit(y_arr, sm.add_constant(x_arr)).fit(disp=0)
    except (np.linalg.LinAlgError, ValueError) as exc:  # perfect separation and the like
        result["note"] = f"regression failed: {exc}"
        return result
    if not fit.mle_retvals.get("converged", True):
        result["note"] = "regression did not converge (outcome nearly separated by length); estimates not reported"
        return result
    ci = fit.conf_int(alpha=alpha)
    result.update(
        coefficient=float(fit.params[1]), coefficient_p_value=float(fit.pvalues[1]),
        length_controlled_win_rate=float(expit(fit.params[0])),
        lc_ci_low=float(expit(ci[0][0])), lc_ci_high=float(expit(ci[0][1])),
    )
    return result
