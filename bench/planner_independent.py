"""An independent check of `medalign report power --judge-agreement` (the judge planner): studies
simulated here, from the planner's description only, are run through the report's own PPI
(evaluation.ppi_report.win_rate_ppi on export-like rows), and the observed mean width, power and
coverage are set beside what the planner predicts for the same nominal design.

The planner's stated model: physicians and items random samples (logit sd 0.5 and 1.0 unless a
pilot says otherwise), each judged item gets K distinct physicians, a judge on every item agrees
with one physician's decisive vote with probability A. Here it is varied where the planner cannot
follow: the judge's errors depend on the item (close items, or one system favoured), one physician
does half the judgments, ties, and physician/item sd 1.0/2.0 (given to the planner as a pilot export
simulated here). The truth is the population decisive-vote win rate (a random physician on a random
item), `--expected` by construction.

    .venv/bin/python bench/planner_independent.py --studies 200 --planner-studies 1000
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.ppi_report import win_rate_ppi  # noqa: E402

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(60)
WEIGHTS = WEIGHTS / WEIGHTS.sum()  # E[f(Z)], Z ~ N(0, 1)


class World:
    """Population quantities for one (expected, sd_physician, sd_item): intercept, the item's
    probability q(b) that a random physician prefers the target, and the majority's ceiling."""

    def __init__(self, expected: float, sd_p: float, sd_i: float):
        self.sd_p, self.sd_i = sd_p, sd_i
        total = np.hypot(sd_p, sd_i)
        self.mu = brentq(lambda m: WEIGHTS @ expit(m + total * NODES) - expected, -15, 15)
        self.b_star = brentq(lambda b: self.q(np.array([b]))[0] - 0.5, -30, 30)  # q(b*) = 1/2
        self.qb = self.q(sd_i * NODES)  # q at the item quadrature nodes
        self.ceiling = float(WEIGHTS @ np.maximum(self.qb, 1 - self.qb))

    def q(self, b):
        return expit(self.mu + b[:, None] + self.sd_p * NODES[None, :]) @ WEIGHTS

    def agreement(self, p_target_given_b):
        """Agreement of a judge voting target with probability p(b) with a random physician."""
        p = p_target_given_b
        return float(WEIGHTS @ (self.qb * p + (1 - self.qb) * (1 - p)))


def judge_probability(world: World, kind: str, agreement: float):
    """p(b): probability the judge votes the target on an item with effect b, tuned to `agreement`."""
    majority = lambda b: (b > world.b_star).astype(float)  # noqa: E731
    if agreement > world.ceiling + 1e-9:
        raise ValueError(f"agreement {agreement} above the ceiling {world.ceiling:.3f}")
    if kind == "flip":  # the planner's judge: the majority, flipped at random independently of the item
        e = (world.ceiling - agreement) / (2 * world.ceiling - 1)
        return lambda b: majority(b) * (1 - e) + (1 - majority(b)) * e
    if kind == "close":  # errs on close items: a noisy threshold on the item effect
        f = lambda s: world.agreement(norm.cdf((world.sd_i * NODES - world.b_star) / s)) - agreement  # noqa: E731
        s = brentq(f, 1e-4, 100.0)
        return lambda b: norm.cdf((b - world.b_star) / s)
    if kind == "biased":  # every error in favour of the target system
        loss = float(WEIGHTS @ ((1 - 2 * world.qb) * (world.qb < 0.5)))
        e = (world.ceiling - agreement) / loss
        if e > 1:
            raise ValueError("a judge favouring the target cannot be that poor")
        return lambda b: majority(b) + (1 - majority(b)) * e
    raise ValueError(kind)


def assign(rng, n: int, physicians: int, overlap: int, heavy: float | None):
    """Physician codes per judged item (n x overlap): K distinct physicians at random, or physician 0
    on a share of the judgments `heavy` (rest spread at random over the others)."""
    if heavy is None:
        return np.argsort(rng.random((n, physicians)), axis=1)[:, :overlap]
    with_zero = round(heavy * overlap * n)
    if with_zero > n:
        raise ValueError("physician 0 cannot do that share with distinct physicians per item")
    others = 1 + np.argsort(rng.random((n, physicians - 1)), axis=1)[:, :overlap]
    others[:with_zero, 0] = 0
    return others[rng.permutation(n)]


def one_study(rng, d: dict, world: World, p_judge, share: float):
    items, physicians, overlap = d["items"], d["physicians"], d["overlap"]
    b = world.sd_i * rng.standard_normal(items)
    a = world.sd_p * rng.standard_normal(physicians)
    judge_win = rng.random(items) < p_judge(b)
    judge_tie = rng.random(items) < d.get("judge_ties", 0.0)
    sample = np.sort(rng.choice(items, size=round(share * items), replace=False))
    raters = assign(rng, len(sample), physicians, overlap, d.get("heavy"))
    item_of = np.repeat(sample, overlap)
    raters = raters.ravel()
    tie = rng.random(len(raters)) < d.get("ties", 0.0)
    win = rng.random(len(raters)) < expit(world.mu + a[raters] + b[item_of])
    pref = np.where(tie, "", np.where(win, "dpo", "sft"))
    phys = [{"item_id": f"i{i}", "system_a": "sft", "system_b": "dpo", "preferred_system": p, "rater": f"p{r}",
             "is_gold": False} for i, r, p in zip(item_of.tolist(), raters.tolist(), pref.tolist(), strict=True)]
    jpref = np.where(judge_tie, "", np.where(judge_win, "dpo", "sft"))
    verdicts = [{"item_id": f"i{i}", "system_a": "sft", "system_b": "dpo", "preferred_system": p, "rater": "judge",
                 "is_gold": False} for i, p in enumerate(jpref.tolist())]
    return win_rate_ppi(phys, verdicts, "dpo", primary="decisive", declared_sample=True)


def observe(d: dict, shares, studies: int, seed: int) -> dict:
    world = World(d["expected"], d["sd_p"], d["sd_i"])
    p_judge = judge_probability(world, d["judge"], d["agreement"])
    rng = np.random.default_rng(seed)
    out = {}
    for share in shares:
        rows = []
        for _ in range(studies):
            r = one_study(rng, d, world, p_judge, share)
            if "refused" in r:
                continue
            po = r["physicians_only"]
            rows.append([r["ci_high"] - r["ci_low"], not r["ci_low"] <= 0.5 <= r["ci_high"],
                         r["ci_low"] <= d["expected"] <= r["ci_high"], po["ci_high"] - po["ci_low"],
                         not po["ci_low"] <= 0.5 <= po["ci_high"], po["ci_low"] <= d["expected"] <= po["ci_high"]])
        m = np.array(rows, float)
        out[share] = {"n": len(m), "width": m[:, 0].mean(), "width_sd": m[:, 0].std(ddof=1), "power": m[:, 1].mean(),
                      "coverage": m[:, 2].mean(), "po_width": m[:, 3].mean(), "po_power": m[:, 4].mean(),
                      "po_coverage": m[:, 5].mean()}
    return out


def write_pilot(path: Path, d: dict, seed: int, physicians=30, items=600, overlap=3) -> None:
    """A pilot export (csv, the columns of `medalign export`) drawn from the design's world."""
    world = World(d["expected"], d["sd_p"], d["sd_i"])
    rng = np.random.default_rng(seed)
    # standardised draws: the pilot's own physicians and items have exactly the design's sd, so a gap
    # between prediction and observation is the planner's, not one unlucky pilot's
    a, b = rng.standard_normal(physicians), rng.standard_normal(items)
    a, b = world.sd_p * (a - a.mean()) / a.std(ddof=1), world.sd_i * (b - b.mean()) / b.std(ddof=1)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "rater", "system_a", "system_b", "choice", "preferred_system", "is_gold",
                    "gold_better", "evasive_a", "evasive_b", "rater_simulated", "answer_a", "answer_b", "question",
                    "context"])
        for i in range(items):
            for r in rng.choice(physicians, overlap, replace=False):
                won = rng.random() < expit(world.mu + a[r] + b[i])
                w.writerow([i, f"r{r}", "sft", "dpo", "b" if won else "a", "dpo" if won else "sft", "false", "",
                            "false", "false", "false", "x", "y", f"Q{i}", ""])


def pilot_fits(fits: int, sd_p=1.0, sd_i=2.0, seed: int = 500) -> None:
    """The sds the planner's pilot estimator (evaluation.power.variance_components, the method its
    header names) reads from standardised pilots of 30 physicians x 600 items x 3 of a known world."""
    import warnings

    from evaluation.power import variance_components

    d = {**BASE, "sd_p": sd_p, "sd_i": sd_i}
    got = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in range(fits):
            path = Path(tmp) / f"pilot{f}.csv"
            write_pilot(path, d, seed + f)
            with path.open() as fh:
                rows = list(csv.DictReader(fh))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = variance_components([r["rater"] for r in rows], [r["item_id"] for r in rows],
                                        [float(r["preferred_system"] == "dpo") for r in rows])
            got.append((v["sd_physician"], v["sd_item"]))
    g = np.array(got)
    print(f"pilot estimator on {fits} pilots with sd exactly {sd_p} / {sd_i}: physicians mean {g[:, 0].mean():.3f} "
          f"(sd {g[:, 0].std(ddof=1):.3f}, range {g[:, 0].min():.2f}-{g[:, 0].max():.2f}), items mean "
          f"{g[:, 1].mean():.3f} (sd {g[:, 1].std(ddof=1):.3f})")


def predict(d: dict, shares, studies: int, seed: int, pilot: Path | None):
    cmd = [str(ROOT / ".venv/bin/medalign"), "report", "power", "--expected", str(d["expected"]), "--physicians",
           str(d["physicians"]), "--items", str(d["items"]), "--overlap", str(d["overlap"]), "--judge-agreement",
           str(d["agreement"]), "--shares", ",".join(map(str, shares)), "--studies", str(studies), "--seed", str(seed)]
    if d.get("ties"):
        cmd += ["--ties", str(d["ties"])]
    if pilot:
        cmd += ["--pilot", str(pilot)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT,
                          env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"}).stdout
    pat = re.compile(r"^([\d.]+) \| (\d+) \| ([\d.]+), ([\d.]+), ([\d.]+) \| ([\d.]+), ([\d.]+) \| ([-\d.]+)", re.M)
    out = {float(m[1]): {"width": float(m[3]), "power": float(m[4]), "coverage": float(m[5]),
                         "po_width": float(m[6]), "po_power": float(m[7])} for m in pat.finditer(text)}
    if not out:
        raise RuntimeError(f"could not read the planner's table:\n{text}")
    return out, text


BASE = {"expected": 0.63, "physicians": 10, "items": 400, "overlap": 3, "agreement": 0.68, "sd_p": 0.5, "sd_i": 1.0,
        "judge": "flip"}
DESIGNS = {
    "a1 planner's model": {},
    "a2 planner's model, 20 x 200, K2, A 0.62, 0.58": {"physicians": 20, "items": 200, "overlap": 2, "agreement": 0.62,
                                                         "expected": 0.58},
    "a3 planner's model, judge at the ceiling 0.695": {"agreement": 0.695},
    "b1 judge errs on close items": {"judge": "close"},
    "b2 judge's errors all favour target": {"judge": "biased"},
    "c1 one physician 50% (K1)": {"overlap": 1, "heavy": 0.5},
    "c2 one physician 50% (K2, on every item)": {"overlap": 2, "heavy": 0.5},
    "d1 ties 0.3 (judge decisive)": {"ties": 0.3},
    "d2 ties 0.3, judge ties 0.3 too": {"ties": 0.3, "judge_ties": 0.3},
    "e sd 1.0 / 2.0 (planner: --pilot)": {"sd_p": 1.0, "sd_i": 2.0, "pilot": True},
}
PILOT_SD = re.compile(r"logit sd physicians ([\d.]+), items ([\d.]+)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=200)
    ap.add_argument("--planner-studies", type=int, default=1000)
    ap.add_argument("--shares", default="1,0.5,0.25")
    ap.add_argument("--only", default="", help="comma-separated design prefixes (a1,b1,...)")
    ap.add_argument("--pilot-fits", type=int, default=0, help="also fit this many pilots (about 15 s CPU each)")
    args = ap.parse_args()
    if args.pilot_fits:
        pilot_fits(args.pilot_fits)
        pilot_fits(args.pilot_fits, 0.5, 1.0)
        return
    shares = [float(s) for s in args.shares.split(",")]
    wanted = [p for p in args.only.split(",") if p]
    print("| design | share | width pred / obs | power pred / obs | coverage pred / obs | alone width pred / obs "
          "| alone coverage obs | flags |")
    print("|---|---|---|---|---|---|---|---|")
    for k, (name, change) in enumerate(DESIGNS.items()):
        if wanted and not any(name.startswith(p) for p in wanted):
            continue
        d = {**BASE, **change}
        t0 = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            pilot = Path(tmp) / "pilot.csv" if d.get("pilot") else None
            if pilot:
                write_pilot(pilot, d, seed=100 + k)
            pred, text = predict(d, shares, args.planner_studies, 7 + k, pilot)
        obs = observe(d, shares, args.studies, 1000 + k)
        report(name, shares, pred, obs, args.planner_studies)
        if pilot:  # the same studies simulated here at the sds the planner read from the pilot
            m = PILOT_SD.search(" ".join(text.split()))
            read = {**d, "sd_p": float(m[1]), "sd_i": float(m[2])}
            report(f"{name}: here at the planner's pilot sd {m[1]} / {m[2]}", shares, pred,
                   observe(read, shares, args.studies, 2000 + k), args.planner_studies)
        print(f"  [{name}: {time.process_time() - t0:.1f} s CPU here]", file=sys.stderr)


def report(name, shares, pred, obs, planner_studies) -> None:
    """One table row per share: predicted / observed, flagged where they differ by over 3 Monte-Carlo se."""
    for s in shares:
        p, o = pred[s], obs[s]
        se_w = o["width_sd"] * np.sqrt(1 / o["n"] + 1 / planner_studies)
        z = {"width": (o["width"] - p["width"]) / se_w}
        for key in ("power", "coverage"):
            se = np.sqrt(max(p[key] * (1 - p[key]), 0.01) * (1 / o["n"] + 1 / planner_studies))
            z[key] = (o[key] - p[key]) / se
        flags = ", ".join(f"{key} z={v:+.1f}" for key, v in z.items() if abs(v) > 3) or "holds"
        print(f"| {name} | {s:g} | {p['width']:.3f} / {o['width']:.3f} | {p['power']:.2f} / {o['power']:.2f} "
              f"| {p['coverage']:.3f} / {o['coverage']:.3f} | {p['po_width']:.3f} / {o['po_width']:.3f} "
              f"| {o['po_coverage']:.3f} | {flags} |", flush=True)


if __name__ == "__main__":
    main()
