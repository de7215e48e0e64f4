"""Planning a study with a model judge: how many physician judgments prediction-powered inference
(evaluation/ppi.py) saves for a judge of a given quality, before the study is run.

The design: a model judge judges every one of `items` pairs; physicians judge a uniform random share
of them, `overlap` distinct physicians per judged item, drawn from `physicians` evenly or with one
physician doing `largest_share` of the judgments (an uneven workload widens every interval: planned
evenly, a study where one physician does half the work is planned a third too narrow, as
bench/planner_independent.py found). Physicians and items
are random samples (logit-scale standard deviations, as in evaluation/power.py); a physician's vote is
a tie with probability `tie_share`, else the target wins with logit mu + physician + item. The judge
is always decisive and, on each item, agrees with the physicians' population majority with a fixed
probability, chosen so that it agrees with one physician's decisive vote with the probability the
researcher gives (`judge_agreement`: the "judge vs each physician" agreement of `medalign judge
validate` on a pilot). Every simulated study goes through the report's own PPI code (ppi_batch, the
decisive-vote rate linearised as in evaluation/ppi_report.py), so the widths, power and coverage
below are those of the interval the report would print.

A judge can agree with one physician at most as often as the physicians' majority does (physicians
disagree among themselves): a higher agreement is refused with the ceiling in the message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from evaluation.power import _NODES, _WEIGHTS, check_largest_share, draw_raters, intercept_for
from evaluation.ppi import ppi_batch

DEFAULT_SHARES = (1.0, 0.75, 0.5, 0.35, 0.25)
_CHUNK_ROWS = 4_000_000  # physician judgments simulated per batch: bounds memory at any design size


@dataclass(frozen=True)
class Design:
    expected: float
    physicians: int
    items: int
    overlap: int
    judge_agreement: float
    sd_physician: float
    sd_item: float
    tie_share: float = 0.0
    alpha: float = 0.05
    largest_share: float | None = None  # None: physicians share the work evenly

    def check(self) -> None:
        if not 0 < self.expected < 1 or self.expected == 0.5:
            raise ValueError("the expected win rate must be between 0 and 1 and not 0.5")
        if not 1 <= self.overlap <= self.physicians:
            raise ValueError(f"overlap must be between 1 and the number of physicians ({self.physicians}), "
                             f"got {self.overlap}")
        if self.items < 4:
            raise ValueError("a judge study needs at least 4 items")
        if not 0 <= self.tie_share < 1:
            raise ValueError("the share of ties must be at least 0 and below 1")
        check_largest_share(self.largest_share, self.physicians, self.overlap)
        if not 0.5 <= self.judge_agreement <= 1:
            raise ValueError("the judge's agreement with a physician must be between 0.5 (chance) and 1")


def mu_of(design: Design) -> float:
    return intercept_for(design.expected, float(np.hypot(design.sd_physician, design.sd_item)))


def majority_agreement(design: Design) -> float:
    """Probability that one physician's decisive vote agrees with the physicians' population majority
    on a random item (Gauss-Hermite over item and physician effects): the ceiling of any judge's
    agreement with a physician."""
    mu = mu_of(design)
    weights = _WEIGHTS / _WEIGHTS.sum()
    p_bar = expit(mu + design.sd_item * _NODES[:, None] + design.sd_physician * _NODES[None, :]) @ weights
    return float(weights @ np.maximum(p_bar, 1 - p_bar))


def judge_accuracy(design: Design) -> float:
    """The judge's agreement with the majority that gives `judge_agreement` with one physician:
    agreement = acc * q + (1 - acc) * (1 - q), q = majority_agreement."""
    q = majority_agreement(design)
    if design.judge_agreement > q + 1e-12:
        raise ValueError(f"a judge cannot agree with one physician more often than the physicians' majority does: "
                         f"at most {q:.3f} for this design (physicians and items differ; logit sd physicians "
                         f"{design.sd_physician:.2f}, items {design.sd_item:.2f}); got {design.judge_agreement}")
    return float(np.clip((design.judge_agreement - (1 - q)) / (2 * q - 1), 0.0, 1.0))


def _study_chunk(rng, design: Design, studies: int, share: float, accuracy: float, mu: float):
    """Arrays for ppi_batch for `studies` simulated studies at one physician share, plus the
    realised judge-vs-physician agreement on decisive votes (a check of judge_accuracy)."""
    n_items, n_phys = design.items, design.physicians
    item_logit = mu + design.sd_item * rng.standard_normal((studies, n_items))
    effect = design.sd_physician * rng.standard_normal((studies, n_phys))
    majority = (item_logit > 0).astype(float)  # the physician effect is symmetric around 0
    verdict = np.where(rng.random((studies, n_items)) < accuracy, majority, 1 - majority)
    judged = max(2, int(round(share * n_items)))
    items = np.argsort(rng.random((studies, n_items)), axis=1)[:, :judged]
    raters = draw_raters(rng, (studies, judged), n_phys, design.overlap, design.largest_share)
    rows = np.arange(studies)[:, None, None]
    item_of = np.broadcast_to(items[:, :, None], raters.shape)
    decisive = rng.random(raters.shape) >= design.tie_share
    won = decisive & (rng.random(raters.shape) < expit(item_logit[rows, item_of] + effect[rows, raters]))
    f_phys = verdict[rows, item_of]
    agree = (won == (f_phys == 1))[decisive]
    rep = np.broadcast_to(rows, raters.shape).ravel()
    return (dict(win=won.ravel().astype(float), dec=decisive.ravel().astype(float), f_win=f_phys.ravel(), rep=rep,
                 raters=raters.ravel(), items=item_of.ravel(), f_all=verdict.ravel(),
                 f_rep=np.repeat(np.arange(studies), n_items), f_items=np.tile(np.arange(n_items), studies)),
            float(agree.sum()), int(agree.size))


def _intervals(data: dict, studies: int, alpha: float) -> dict:
    """PPI and physicians-only intervals of the decisive-vote rate per study (the report's
    linearisation: PPI of win - r0 * decisive, scaled by the decisive share)."""
    dec_sum = np.bincount(data["rep"], weights=data["dec"], minlength=studies)
    m = np.bincount(data["rep"], minlength=studies)
    r0 = np.bincount(data["rep"], weights=data["win"], minlength=studies) / np.maximum(dec_sum, 1)
    d_bar = np.maximum(dec_sum, 1) / m
    y = data["win"] - r0[data["rep"]] * data["dec"]
    yhat = data["f_win"] - r0[data["rep"]]  # the judge is always decisive
    f_all = data["f_all"] - r0[data["f_rep"]]
    out = ppi_batch(y, yhat, data["rep"], data["raters"], data["items"], f_all, data["f_rep"], data["f_items"],
                    n_reps=studies, alpha=alpha)
    estimate = r0 + out["estimate"] / d_bar
    half, half_0 = (out["ci_high"] - out["ci_low"]) / 2 / d_bar, (out["classical_ci_high"] - out["classical_ci_low"]) / 2 / d_bar
    return {"low": estimate - half, "high": estimate + half, "low_0": r0 - half_0, "high_0": r0 + half_0,
            "lam": out["lam"], "physician_judgments": m}


def simulate_share(design: Design, share: float, *, studies: int, seed: int) -> dict:
    """Mean widths, power against 0.5 and coverage of the PPI and physicians-only intervals."""
    # the same seed at every share: items, physicians and verdicts are drawn first, so shares are
    # compared on largely the same simulated studies (common random numbers)
    rng = np.random.default_rng([seed, design.physicians, design.items])
    mu, accuracy = mu_of(design), judge_accuracy(design)
    per_study = max(1, int(round(share * design.items)) * design.overlap * max(design.physicians, 1))
    chunk = max(1, min(studies, _CHUNK_ROWS // per_study))
    parts, agree, votes, done = [], 0.0, 0, 0
    while done < studies:
        size = min(chunk, studies - done)
        data, a, v = _study_chunk(rng, design, size, share, accuracy, mu)
        parts.append(_intervals(data, size, design.alpha))
        agree, votes, done = agree + a, votes + v, done + size
    joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    truth = design.expected

    def summary(low, high):
        width = high - low
        return {"width": float(np.mean(width)), "width_mc_se": float(np.std(width) / np.sqrt(len(width))),
                "power": float(np.mean((low > 0.5) | (high < 0.5))),
                "coverage": float(np.mean((low <= truth) & (truth <= high)))}

    return {"share": share, "physician_judgments": float(np.mean(joined["physician_judgments"])),
            "ppi": summary(joined["low"], joined["high"]), "physicians_only": summary(joined["low_0"], joined["high_0"]),
            "lambda": float(np.mean(joined["lam"])), "realised_agreement": agree / votes if votes else None}


def plan_judge(design: Design, shares=DEFAULT_SHARES, *, studies: int = 500, seed: int = 0) -> dict:
    """For each physician share: PPI width and power beside physicians alone on the same share and
    on every item; the smallest share whose PPI interval is no wider than physicians judging every
    item (the physician judgments the judge saves), said in words."""
    design.check()
    if not shares or any(not 0 < s <= 1 for s in shares):
        raise ValueError("physician shares must be between 0 (excluded) and 1")
    shares = sorted(set(shares), reverse=True)
    rows = [simulate_share(design, s, studies=studies, seed=seed) for s in shares]
    full = rows[0] if shares[0] == 1.0 else simulate_share(design, 1.0, studies=studies, seed=seed)
    reference = full["physicians_only"]["width"]
    # widths are compared as simulated means; their Monte-Carlo error is printed beside them
    enough = [r for r in rows if r["ppi"]["width"] <= reference]
    best = min(enough, key=lambda r: r["share"]) if enough else None
    if best is None or best["share"] == 1.0:
        verdict = (f"with this judge no smaller physician share tried gives an interval as narrow as physicians "
                   f"judging every item (width {reference:.3f}): the judge saves no physician time here")
    else:
        verdict = (f"physicians judging {best['share']:.0%} of the items ({best['physician_judgments']:.0f} "
                   f"judgments instead of {full['physician_judgments']:.0f}) plus the judge give an interval no wider "
                   f"than physicians alone on every item (width {best['ppi']['width']:.3f} vs {reference:.3f}, "
                   f"Monte-Carlo error {best['ppi']['width_mc_se']:.3f}): "
                   f"{1 - best['share']:.0%} of physician judgments saved")
        if reference - best["ppi"]["width"] < 2 * best["ppi"]["width_mc_se"]:
            verdict += " (the difference is within Monte-Carlo error: more --studies would tell)"
    return {"design": design.__dict__ | {"judge_accuracy_vs_majority": judge_accuracy(design),
                                          "majority_agreement_ceiling": majority_agreement(design)},
            "studies": studies, "seed": seed, "rows": rows, "all_items_physicians_only": full["physicians_only"],
            "verdict": verdict}
