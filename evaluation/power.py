"""How many physicians, items and judgments a study needs to show a win rate different from 0.5.

Two planners:
- `headline_power` / `plan_design`: the power of the report's own headline (evaluation.crossed.
  interval_set, the test that inverts it) for a design of physicians x items x overlap, simulated
  with physicians and items as random samples (logit-scale sd from a pilot, or defaults). With
  physicians that differ, the number of physicians is the real sample size.
- `sample_size`: the plain binomial n, which holds for ONE physician judging independent items.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, ndtr

from evaluation import crossed
from evaluation.distributions import binom_cdf, binom_ppf, binom_sf, norm_isf, norm_ppf
from evaluation.winrate import target_mask

# Logit-scale standard deviations used when no pilot is given (bench/coverage.py's "both" effects).
DEFAULT_SD_PHYSICIAN, DEFAULT_SD_ITEM = 0.5, 1.0
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)


def normal_approximation_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """One-sample test of a proportion against 0.5, two-sided, normal approximation."""
    _check(expected, alpha, power)
    z_a, z_b = norm_ppf(1 - alpha / 2), norm_ppf(power)
    n = ((z_a * 0.5 + z_b * math.sqrt(expected * (1 - expected))) / (expected - 0.5)) ** 2
    return math.ceil(n)


def arcsine_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """statsmodels' planner (Cohen's h effect size, one sample): NormalIndPower().solve_power(h,
    alpha=alpha, power=power, ratio=0), by its own steps (the normal power function, its search
    bracket from 2 and 50, Brent's method with xtol 1e-5), so the n is statsmodels' (tests compare).
    statsmodels with pandas and scipy.stats costs ~0.4 s of import; it is used only where its
    solver leaves the bracket (a power already reached below n = 2)."""
    _check(expected, alpha, power)
    effect = abs(2 * (np.arcsin(np.sqrt(expected)) - np.arcsin(np.sqrt(0.5))))  # proportion_effectsize
    crit_upper, crit_lower = norm_isf(alpha / 2.0), norm_ppf(alpha / 2.0)

    def shortfall(nobs: float) -> float:  # statsmodels' normal_power(effect, nobs, alpha) - power
        shift = effect * np.sqrt(nobs) / 1.0
        return float(ndtr(-(crit_upper - shift)) + ndtr(crit_lower - shift) - power)

    low, high = 2.0, 50.0
    if not shortfall(low) < 0:
        from statsmodels.stats.power import NormalIndPower

        return math.ceil(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=0))
    for _ in range(101):  # statsmodels' brentq_expanding: widen the bracket tenfold until the power is reached
        if not shortfall(high) < 0:
            break
        low, high = high, high * 10
    return math.ceil(_brentq(shortfall, low, high, xtol=1e-5))


def _brentq(f, xa: float, xb: float, *, xtol: float, rtol: float = 4 * np.finfo(float).eps, maxiter: int = 100):
    """scipy.optimize.brentq (its C code, step for step, so the root is scipy's to the last bit);
    f(xa) and f(xb) of opposite signs. scipy.optimize costs ~0.15 s of import."""
    xpre, xcur = float(xa), float(xb)
    xblk = fblk = spre = scur = 0.0
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if math.copysign(1, fpre) == math.copysign(1, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and math.copysign(1, fpre) != math.copysign(1, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            spre, scur = (scur, stry) if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta) else (sbis, sbis)
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    raise ValueError(f"Brent's method did not converge in {maxiter} iterations")


def exact_power(n, expected: float, alpha: float = 0.05):
    """Power of the exact two-sided sign test (binomial, p0 = 0.5) with n decisive votes (n may be
    an array). The test rejects at k or fewer wins, or n - k or more, with k the largest count
    whose two-sided p-value 2 P(X <= k) is at most alpha."""
    n_values = np.atleast_1d(np.asarray(n, dtype=np.int64))
    k = binom_ppf(alpha / 2, n_values, 0.5).astype(np.int64)
    k = np.where(2 * binom_cdf(k, n_values, 0.5) > alpha, k - 1, k)  # ppf may land one above the critical count
    power = np.where(k >= 0, binom_cdf(k, n_values, expected) + binom_sf(n_values - k - 1, n_values, expected), 0.0)
    return float(power[0]) if np.ndim(n) == 0 else power


def exact_n(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Smallest n from which the exact sign test keeps at least the power for every larger n.

    Power is saw-toothed in n, so the first n that reaches it is not enough: 0.55 first reaches
    0.8 at 807 but dips below again until 820. Power is computed up to a horizon well past the
    normal approximation, where its lowest value over the last stretch clears the target; the
    answer is one more than the last n below the target."""
    _check(expected, alpha, power)
    approx = normal_approximation_n(expected, alpha=alpha, power=power)
    horizon = max(4 * approx, approx + 400)
    values = exact_power(np.arange(1, horizon + 1), expected, alpha)
    if values[-max(50, horizon // 4):].min() < power:
        return None  # the tail has not settled above the target: no honest answer in range
    below = np.nonzero(values < power)[0]
    return int(below[-1] + 2) if len(below) else 1


def sample_size(expected: float, *, alpha: float = 0.05, power: float = 0.8) -> dict:
    return {"expected_win_rate": expected, "alpha": alpha, "power": power,
            "normal_approximation": normal_approximation_n(expected, alpha=alpha, power=power),
            "arcsine_statsmodels": arcsine_n(expected, alpha=alpha, power=power),
            "exact_sign_test": exact_n(expected, alpha=alpha, power=power)}


def _check(expected: float, alpha: float, power: float) -> None:
    if not 0 < expected < 1 or expected == 0.5:
        raise ValueError("the expected win rate must be between 0 and 1 and not 0.5")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")


def intercept_for(rate: float, sd: float) -> float:
    """Logit-scale intercept whose population-average probability (over physicians and items with
    total sd `sd`) is `rate`."""
    from scipy.optimize import brentq  # the planner's only: ~0.15 s of import a report does not need

    return brentq(lambda mu: float(_WEIGHTS @ expit(mu + sd * _NODES) / _WEIGHTS.sum()) - rate, -15, 15)


def check_largest_share(largest_share: float | None, physicians: int, overlap: int) -> None:
    if largest_share is None:
        return
    if physicians <= overlap:
        raise ValueError("one physician doing more than the others needs more physicians than the overlap")
    if not 1 / physicians <= largest_share <= 1 / overlap:
        raise ValueError(f"the largest physician's share must be between 1/physicians ({1 / physicians:.3f}) and "
                         f"1/overlap ({1 / overlap:.3f}: one physician judges an item at most once); got {largest_share}")


def draw_raters(rng: np.random.Generator, shape: tuple, physicians: int, overlap: int,
                largest_share: float | None = None) -> np.ndarray:
    """shape + (overlap,) distinct physicians per item. largest_share None: every physician equally
    likely; else physician 0 is on each item with probability largest_share x overlap (so does that
    share of all judgments) and the other slots go evenly to the others."""
    if largest_share is None:
        return np.argsort(rng.random((*shape, physicians)), axis=-1)[..., :overlap]
    others = np.argsort(rng.random((*shape, physicians - 1)), axis=-1)[..., :overlap] + 1
    heavy = rng.random(shape) < largest_share * overlap
    others[..., 0] = np.where(heavy, 0, others[..., 0])
    return others


def simulate_study(rng: np.random.Generator, expected: float, physicians: int, items: int, overlap: int, *,
                   sd_physician: float, sd_item: float, tie_share: float = 0.0, largest_share: float | None = None):
    """(physician, item, won, decisive) per judgment: each item judged by `overlap` distinct
    physicians drawn at random (evenly, or one doing `largest_share` of the judgments); a tie with
    probability tie_share, else the target wins with logit mu + u_physician + v_item
    (population-average win rate among decisive votes: expected)."""
    judges = draw_raters(rng, (items,), physicians, overlap, largest_share)
    raters, item_codes = judges.ravel(), np.repeat(np.arange(items), overlap)
    mu = intercept_for(expected, float(np.hypot(sd_physician, sd_item)))
    logit = mu + sd_physician * rng.standard_normal(physicians)[raters] + sd_item * rng.standard_normal(items)[item_codes]
    decisive = rng.random(len(raters)) >= tie_share
    won = decisive & (rng.random(len(raters)) < expit(logit))
    return raters, item_codes, won.astype(float), decisive.astype(float)


def headline_power(expected: float, physicians: int, items: int, overlap: int, *, sd_physician: float = DEFAULT_SD_PHYSICIAN,
                   sd_item: float = DEFAULT_SD_ITEM, tie_share: float = 0.0, primary: str = "decisive",
                   alpha: float = 0.05, studies: int = 1000, seed: int = 0, rounds: int = 500,
                   largest_share: float | None = None) -> dict:
    """Share of simulated studies whose headline test against 0.5 (the report's code) rejects at
    alpha, with its Monte-Carlo standard error."""
    _check(expected, alpha, 0.5)
    if not 1 <= overlap <= physicians:
        raise ValueError(f"overlap must be between 1 and the number of physicians ({physicians}), got {overlap}")
    if items < 1 or physicians < 1:
        raise ValueError("a design needs at least one physician and one item")
    check_largest_share(largest_share, physicians, overlap)
    rng = np.random.default_rng([seed, physicians, items, overlap])
    ratio = {"rate": (0, 1)} if primary == "decisive" else {"rate": (0, 2)}
    rejected = 0
    for _ in range(studies):
        raters, item_codes, won, decisive = simulate_study(rng, expected, physicians, items, overlap,
                                                           sd_physician=sd_physician, sd_item=sd_item,
                                                           tie_share=tie_share, largest_share=largest_share)
        columns = np.column_stack([won, decisive, np.ones_like(won)])
        head = crossed.interval_set(raters, item_codes, columns, ratio, rounds=rounds, seed=0, alpha=alpha, null=0.5,
                                    headline_only=True)["rate"]["headline"]
        rejected += head["p_value"] is not None and head["p_value"] < alpha
    power = rejected / studies
    return {"power": power, "mc_se": float(np.sqrt(power * (1 - power) / studies)), "studies": studies, "seed": seed,
            "physicians": physicians, "items": items, "overlap": overlap, "judgments": items * overlap,
            "expected": expected, "primary": primary, "alpha": alpha, "sd_physician": sd_physician,
            "sd_item": sd_item, "tie_share": tie_share, "largest_share": largest_share}


PHYSICIAN_GRID = (5, 8, 10, 15, 20, 30, 40, 60, 100)
ITEM_GRID = (50, 100, 200, 400, 800, 1600, 3200)


def plan_design(expected: float, target_power: float = 0.8, *, overlap: int = 3, physicians: int | None = None,
                studies: int = 1000, search_studies: int = 300, **kwargs) -> dict:
    """The fewest items reaching target_power for each number of physicians (or the one given),
    searched on ITEM_GRID with `search_studies` per design and the answer confirmed with
    `studies`; says in words when no number of items reaches the target with that many physicians."""
    counts = [physicians] if physicians else list(PHYSICIAN_GRID)
    rows = []
    for n_phys in counts:
        found = None
        for n_items in ITEM_GRID:
            trial = headline_power(expected, n_phys, n_items, min(overlap, n_phys), studies=search_studies, **kwargs)
            if trial["power"] >= target_power:
                found = headline_power(expected, n_phys, n_items, min(overlap, n_phys), studies=studies, **kwargs)
                break
        if found is None:
            rows.append({"physicians": n_phys, "items": None, "power_at_most_items": trial["power"],
                         "text": f"with {n_phys} physicians no number of items up to {ITEM_GRID[-1]} reaches power "
                                 f"{target_power} (power {trial['power']:.2f} at {ITEM_GRID[-1]} items): add physicians"})
        else:
            rows.append({**found, "text": f"{n_phys} physicians x {found['items']} items (overlap "
                                          f"{found['overlap']}): power {found['power']:.2f}"})
        if found is not None and physicians is None:
            break  # the fewest physicians that can reach it; more physicians need fewer items
    return {"expected": expected, "target_power": target_power, "rows": rows}


def variance_components(raters, items, won) -> dict:
    """Physician and item standard deviations on the logit scale from a pilot's decisive votes
    (crossed random-effects logistic model, statsmodels BinomialBayesMixedGLM, variational Bayes),
    and the intraclass correlations on the latent scale (residual variance pi^2 / 3)."""
    import pandas as pd
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    frame = pd.DataFrame({"y": np.asarray(won, float), "rater": np.asarray(raters).astype(str),
                          "item": np.asarray(items).astype(str)})
    if frame.rater.nunique() < 2 or frame.item.nunique() < 2:
        raise ValueError("a pilot needs at least two physicians and two items to estimate their variation")
    model = BinomialBayesMixedGLM.from_formula("y ~ 1", {"rater": "0 + C(rater)", "item": "0 + C(item)"}, frame)
    fit = model.fit_vb()
    sd = dict(zip(model.vcp_names, np.exp(fit.vcp_mean), strict=True))
    sd_physician, sd_item = float(sd["rater"]), float(sd["item"])
    total = sd_physician ** 2 + sd_item ** 2 + np.pi ** 2 / 3
    return {"sd_physician": sd_physician, "sd_item": sd_item, "icc_physician": sd_physician ** 2 / total,
            "icc_item": sd_item ** 2 / total, "judgments": len(frame), "physicians": int(frame.rater.nunique()),
            "items": int(frame.item.nunique()), "method": "crossed random-effects logit, statsmodels "
                                                          "BinomialBayesMixedGLM (variational Bayes)"}


def pilot_components(table, target: str | None = None) -> dict:
    """variance_components of a pilot study's decisive votes on the target system (evaluation.table
    JudgmentTable; default target dpo, else the last system)."""
    target = target or ("dpo" if "dpo" in table.systems else table.systems[-1])
    keep = target_mask(table, target) & (table.preferred >= 0)
    if not keep.any():
        raise ValueError(f"the pilot has no decisive judgment involving {target!r}")
    won = (table.preferred[keep] == table.system_code(target)).astype(float)
    return {**variance_components(table.rater[keep], table.item[keep], won), "target": target}
