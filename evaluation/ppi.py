"""Prediction-powered intervals (PPI++, Angelopoulos, Duchi and Zrnic 2023) for a mean of physician
outcomes (the primary win rate, a rating mean) from a model judge's verdict on every item and
physician judgments on a random sample of the items.

    estimate = ybar + lambda * (fbar_all - fbar_phys)

ybar: mean physician outcome over physician judgments; fbar_phys: mean judge verdict on the item
of each physician judgment; fbar_all: mean judge verdict over all judged items. lambda = 0 is
"physicians alone"; lambda = 1 is plain PPI; PPI++ picks the lambda that minimises the estimated
variance, clipped to [0, 1], so its estimated variance is never above the physicians-only one.

Variance: the estimate is a sum of per-observation influences, each linear in lambda (u + lambda v).
Judgments are crossed (a physician judges many items, an item has several physicians), so the
variance is the two-way cluster-robust one (Cameron, Gelbach and Miller 2011) on those influences:
V = V_item + V_physician - V_cell, each with the G/(G-1) factor, and a t quantile on physicians - 1
degrees of freedom, the physicians counted as effective physicians (1 / sum of squared shares, the
rule of evaluation.intervals for the physicians-only headline). The judge's own
term belongs to item clusters only, so when the physician items are among the judged items the
covariance between the two terms is counted. Without physician labels (every judgment its own
cluster) and without the small-sample corrections, this is exactly the ppi-python package's
`ppi_mean_ci` (tested to 1e-6).

Everything is computed for B replicate studies at once (`rep` labels), so bench/ppi_coverage.py
simulates thousands of studies with the same code the report uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist

ASSUMES = ("the physician-judged items are a uniform random sample of the judged items; physicians and items are "
           "random samples (two-way cluster-robust variance of the physician part, clustered by physician and item; "
           "t on effective physicians - 1 df); valid whatever the judge's errors")


class PPIError(ValueError):
    """Raised with a sentence when PPI cannot be computed from the data given."""


@dataclass(frozen=True)
class PPIResult:
    estimate: float
    ci_low: float
    ci_high: float
    se: float
    lam: float
    df: float | None  # None: normal quantile
    physician_judgments: int
    model_judgments: int
    physicians: int | None
    classical: dict  # physicians alone (lambda = 0), same variance machinery

    def as_dict(self) -> dict:
        out = asdict(self)
        out["lambda"] = out.pop("lam")
        return out


def _codes(labels, rep, n_reps):
    """Cluster codes unique across replicates, how many codes, and the replicate of each code
    (codes of absent clusters may exist: _quadratic counts only clusters present)."""
    labels = np.asarray(labels)
    rep = rep.astype(np.int64)
    if labels.dtype.kind in "iu" and len(labels) and labels.min() >= 0 and n_reps * (int(labels.max()) + 1) <= 20_000_000:
        k = int(labels.max()) + 1  # small integer labels: no sort needed
        return rep * k + labels.astype(np.int64), n_reps * k, np.arange(n_reps * k) // k
    _, inverse = np.unique(labels, return_inverse=True)
    k = int(inverse.max()) + 1 if len(inverse) else 1
    keys, codes = np.unique(rep * k + inverse, return_inverse=True)
    return codes.astype(np.int64), len(keys), keys // k


def _item_codes(items, f_items, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer item codes of the physician judgments and of the judge verdicts; items=None: each
    judgment its own item; f_items=None: judge items distinct from the physicians' (ppi-python)."""
    if items is None:
        item_codes = np.arange(m, dtype=np.int64)
        judge = np.arange(m, m + n, dtype=np.int64) if f_items is None else None
        if judge is None:
            raise PPIError("judge item labels need physician item labels")
        return item_codes, judge
    if f_items is None:
        _, item_codes = np.unique(np.asarray(items), return_inverse=True)
        return item_codes.astype(np.int64), int(item_codes.max()) + 1 + np.arange(n, dtype=np.int64)
    _, both = np.unique(np.concatenate([np.asarray(items), np.asarray(f_items)]), return_inverse=True)
    return both[:m].astype(np.int64), both[m:].astype(np.int64)


def _quadratic(u, v, labels, size, rep_of_label, n_reps, small_sample):
    """Per replicate: sums over clusters of u^2, uv, v^2 (cluster sums), times G/(G-1)."""
    su = np.bincount(labels, weights=u, minlength=size)
    sv = np.bincount(labels, weights=v, minlength=size)
    present = np.bincount(labels, minlength=size) > 0
    g = np.bincount(rep_of_label, weights=present, minlength=n_reps)
    factor = np.where(g > 1, g / np.maximum(g - 1, 1), 0.0) if small_sample else np.ones(n_reps)
    parts = [np.bincount(rep_of_label, weights=w, minlength=n_reps) for w in (su * su, su * sv, sv * sv)]
    return np.stack(parts) * factor, g


def ppi_batch(y, yhat, rep, raters, items, f_all, f_rep, f_items, *, n_reps: int, lam=None, alpha: float = 0.05,
              small_sample: bool = True, clip: bool = True) -> dict[str, np.ndarray]:
    """PPI++ for n_reps studies at once. Physician judgments: outcome y, the judge's verdict on
    the same item yhat, replicate rep, physician and item labels (raters=None: every judgment its
    own physician). Judge verdicts: f_all with replicate f_rep and item labels f_items (None:
    items distinct from the physicians' items, as in ppi-python). lam: None to tune, else fixed.
    Returns arrays (n_reps,) estimate, se, ci_low, ci_high, lam, df, classical_*."""
    y, yhat, f_all = (np.asarray(a, dtype=np.float64) for a in (y, yhat, f_all))
    rep, f_rep = np.asarray(rep, dtype=np.int64), np.asarray(f_rep, dtype=np.int64)
    m = np.bincount(rep, minlength=n_reps).astype(float)
    n = np.bincount(f_rep, minlength=n_reps).astype(float)
    if (m == 0).any() or (n == 0).any():
        raise PPIError("every study needs physician judgments and judge verdicts")
    ybar = np.bincount(rep, weights=y, minlength=n_reps) / m
    fbar_phys = np.bincount(rep, weights=yhat, minlength=n_reps) / m
    fbar_all = np.bincount(f_rep, weights=f_all, minlength=n_reps) / n
    # influences: physician judgment k: (y - ybar)/m + lam * (-(yhat - fbar_phys)/m); judge item i: lam * (f - fbar)/n
    u_k, v_k = (y - ybar[rep]) / m[rep], -(yhat - fbar_phys[rep]) / m[rep]
    v_i = (f_all - fbar_all[f_rep]) / n[f_rep]

    # item clusters hold both parts; a shared label ties a physician item to its judge verdict
    item_codes, judge_item_codes = _item_codes(items, f_items, len(y), len(f_all))
    labels, size, rep_of_label = _codes(np.concatenate([item_codes, judge_item_codes]), np.concatenate([rep, f_rep]),
                                        n_reps)
    u_all = np.concatenate([u_k, np.zeros(len(f_all))])
    v_all = np.concatenate([v_k, v_i])
    total, _ = _quadratic(u_all, v_all, labels, size, rep_of_label, n_reps, small_sample)
    n_raters = None
    if raters is not None:
        r_labels, r_size, r_rep = _codes(raters, rep, n_reps)
        q_r, n_raters = _quadratic(u_k, v_k, r_labels, r_size, r_rep, n_reps, small_sample)
        _, rater_codes = np.unique(np.asarray(raters), return_inverse=True)
        c_labels, c_size, c_rep = _codes(rater_codes.astype(np.int64) * (int(item_codes.max()) + 1) + item_codes,
                                         rep, n_reps)
        q_c, _ = _quadratic(u_k, v_k, c_labels, c_size, c_rep, n_reps, small_sample)
        item_only = total.copy()
        total = total + q_r - q_c
    c_uu, c_uv, c_vv = total

    if lam is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            lam_arr = np.where(c_vv > 0, -c_uv / np.where(c_vv > 0, c_vv, 1), 0.0)
        if clip:
            lam_arr = np.clip(lam_arr, 0.0, 1.0)
    else:
        lam_arr = np.full(n_reps, float(lam))
    variance = c_uu + 2 * lam_arr * c_uv + lam_arr ** 2 * c_vv
    # physicians alone: the same variance over the physicians' items only (their count sets G/(G-1))
    phys_items, p_size, p_rep = _codes(item_codes, rep, n_reps)
    q_i, _ = _quadratic(u_k, v_k, phys_items, p_size, p_rep, n_reps, small_sample)
    variance_0 = q_i[0] + (q_r[0] - q_c[0] if raters is not None else 0.0)
    if raters is not None:  # a two-way variance that is not positive falls back to the larger one-way one
        one_way = np.maximum(item_only[0] + 2 * lam_arr * item_only[1] + lam_arr ** 2 * item_only[2],
                             q_r[0] + 2 * lam_arr * q_r[1] + lam_arr ** 2 * q_r[2])
        variance = np.where(variance > 0, variance, one_way)
        variance_0 = np.where(variance_0 > 0, variance_0, np.maximum(q_i[0], q_r[0]))
    if lam is None:  # PPI++ is never worse than physicians alone: where it would be, lambda = 0
        worse = (variance >= variance_0) | (lam_arr == 0)
        lam_arr = np.where(worse, 0.0, lam_arr)
        variance = np.where(worse, variance_0, variance)
    elif float(lam) == 0.0:
        variance = variance_0
    df = None
    if raters is not None and small_sample:  # t on effective physicians - 1, evaluation.intervals' rule
        counts = np.bincount(r_labels, minlength=r_size).astype(float)
        shares_sq = np.bincount(r_rep, weights=counts ** 2, minlength=n_reps)
        df = np.maximum(m ** 2 / shares_sq - 1, 1.0)
    quantile = t_dist.ppf(1 - alpha / 2, df) if df is not None else np.full(n_reps, norm.ppf(1 - alpha / 2))
    estimate = ybar + lam_arr * (fbar_all - fbar_phys)
    se, se_0 = np.sqrt(np.maximum(variance, 0)), np.sqrt(np.maximum(variance_0, 0))
    return {"estimate": estimate, "se": se, "ci_low": estimate - quantile * se, "ci_high": estimate + quantile * se,
            "lam": lam_arr, "df": df, "physicians": n_raters, "classical_estimate": ybar,
            "classical_ci_low": ybar - quantile * se_0, "classical_ci_high": ybar + quantile * se_0,
            "physician_judgments": m, "model_judgments": n}


def ppi_mean(y, yhat, f_all, *, raters=None, items=None, f_items=None, lam=None, alpha: float = 0.05,
             small_sample: bool = True) -> PPIResult:
    """One study (see ppi_batch). With raters, items and f_items given, the physician items must be
    among the judged items."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2 or len(np.asarray(f_all)) < 2:
        raise PPIError("PPI needs at least two physician judgments and two judge verdicts")
    if len(np.asarray(yhat)) != len(y):
        raise PPIError("every physician judgment needs the judge's verdict on its item")
    if f_items is not None and items is not None:
        missing = sorted(set(map(str, items)) - set(map(str, f_items)))
        if missing:
            raise PPIError(f"{len(missing)} physician-judged item(s) have no judge verdict (first: {missing[0]!r})")
    out = ppi_batch(y, yhat, np.zeros(len(y)), raters, items, f_all, np.zeros(len(f_all)), f_items, n_reps=1,
                    lam=lam, alpha=alpha, small_sample=small_sample)
    first = {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in out.items()}
    return PPIResult(estimate=float(first["estimate"]), ci_low=float(first["ci_low"]), ci_high=float(first["ci_high"]),
                     se=float(first["se"]), lam=float(first["lam"]),
                     df=None if first["df"] is None else float(first["df"]),
                     physician_judgments=len(y), model_judgments=len(np.asarray(f_all)),
                     physicians=None if first["physicians"] is None else int(first["physicians"]),
                     classical={"estimate": float(first["classical_estimate"]),
                                "ci_low": float(first["classical_ci_low"]),
                                "ci_high": float(first["classical_ci_high"])})


def ppi_from_rows(physician: list[tuple[str, str, float]], judge: dict[str, float], *, alpha: float = 0.05,
                  lam=None) -> PPIResult:
    """physician: (physician, item, outcome) per judgment; judge: {item: verdict} for every item."""
    if not physician:
        raise PPIError("no physician judgments: PPI corrects the judge with physicians, and there are none")
    raters, items, y = zip(*physician, strict=True)
    missing = sorted({i for i in items if i not in judge})
    if missing:
        raise PPIError(f"{len(missing)} physician-judged item(s) have no judge verdict (first: {missing[0]!r}); "
                       f"run the judge on every item first")
    judged = list(judge)
    return ppi_mean(np.asarray(y, float), np.asarray([judge[i] for i in items], float),
                    np.asarray([judge[i] for i in judged], float), raters=list(raters), items=list(items),
                    f_items=judged, lam=lam, alpha=alpha)
