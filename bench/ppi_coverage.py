"""Coverage and width of the prediction-powered win-rate interval (evaluation/ppi.py) in simulated
crossed studies, against physicians alone on the same physician judgments.

A study: N items, each with a model-judge verdict; physicians judge a uniform random sample of
`share` x N items, each sampled item by 3 distinct physicians drawn at random (as the app assigns
with --overlap 3). Physician j on item i prefers the target with probability
expit(mu + a_j + b_i), a_j ~ N(0, 0.5^2) (lenient or strict physicians), b_i ~ N(0, 2^2) (items
differ); the truth is the population-average win rate (a random physician on a random item).
The judge's accuracy is its agreement with the physician population's majority on the item
(P(target wins on item i) > 1/2); judges: `acc` (errors at random), `system` (every error
favours the target system: a judge biased toward one system), `length` (errors follow the
answers' length difference, which also nudges physicians: a judge biased toward longer answers).

Reported per cell: coverage of the PPI++ 95% interval and of physicians alone (± Monte-Carlo
standard error), mean widths and their ratio, the mean tuned lambda, and the physician judgments
saved at equal width: the smallest physician share (from SHARES) at which PPI's mean width is no
wider than physicians alone with the full share, as a saving in physician judgments. Every study of
a cell is computed at once (evaluation.ppi.ppi_batch).

    .venv/bin/python bench/ppi_coverage.py --studies 1000 --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation.ppi import ppi_batch  # noqa: E402

SD_PHYSICIAN, SD_ITEM, OVERLAP, TRUE_RATE = 0.5, 2.0, 3, 0.6
LENGTH_EFFECT = 0.5  # logit change per sd of (target - other) answer length, for physicians
PHYSICIANS = (5, 10, 20)
ITEMS = (100, 500, 2000)
JUDGES = {"acc 0.6": (0.6, "acc"), "acc 0.75": (0.75, "acc"), "acc 0.9": (0.9, "acc"),
          "system-biased 0.75": (0.75, "system"), "length-biased 0.75": (0.75, "length")}
FULL_SHARE = 0.5  # physicians judge half of the items in the full design
SHARES = (0.5, 0.4, 0.3, 0.25)  # physician shares tried for "saved at equal width"
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)


def intercept() -> float:
    """mu whose population-average win probability is TRUE_RATE (lengths are standard normal)."""
    sd = np.sqrt(SD_PHYSICIAN ** 2 + SD_ITEM ** 2 + LENGTH_EFFECT ** 2)
    return brentq(lambda mu: float(_WEIGHTS @ expit(mu + sd * _NODES) / _WEIGHTS.sum()) - TRUE_RATE, -10, 10)


def distinct_physicians(rng, shape, n_physicians: int) -> np.ndarray:
    """shape x OVERLAP: 3 distinct physicians per item, uniformly (drawn one after another without
    replacement: each later draw skips the ones taken)."""
    first = rng.integers(0, n_physicians, shape)
    second = rng.integers(0, n_physicians - 1, shape)
    second += second >= first
    third = rng.integers(0, n_physicians - 2, shape)
    low, high = np.minimum(first, second), np.maximum(first, second)
    third += third >= low
    third += third >= high
    return np.stack([first, second, third], axis=-1)


def simulate(rng, studies: int, n_physicians: int, n_items: int, judge: tuple[float, str], shares, mu: float):
    """Draw `studies` studies; for each physician share, the arrays ppi_batch takes."""
    accuracy, kind = judge
    b = SD_ITEM * rng.standard_normal((studies, n_items))
    length = rng.standard_normal((studies, n_items))
    a = SD_PHYSICIAN * rng.standard_normal((studies, n_physicians))
    item_logit = mu + b + LENGTH_EFFECT * length
    # population majority on the item: average over physicians' a, which is symmetric around 0
    majority = (item_logit > 0).astype(float)
    wrong = rng.random((studies, n_items)) > accuracy
    if kind == "acc":
        err = 1 - majority
    elif kind == "system":
        err = np.ones_like(majority)  # errors say "target better"
    else:
        err = (length > 0).astype(float)  # errors say "the longer answer is better"
    # an error that agrees with the majority is no error: flip those to the other verdict
    err = np.where(err == majority, 1 - majority, err)
    verdict = np.where(wrong, err, majority)
    order = np.argsort(rng.random((studies, n_items)), axis=1)  # the random sample: first share x N items
    physicians = distinct_physicians(rng, (studies, n_items), n_physicians)
    noise = rng.random((studies, n_items, OVERLAP))
    out = {}
    for share in shares:
        n = max(2, int(round(share * n_items)))
        items = order[:, :n]  # studies x n
        rows = np.arange(studies)[:, None]
        raters = physicians[rows, items]  # studies x n x OVERLAP
        p = expit(item_logit[rows, items][..., None] + a[rows[..., None], raters])
        won = (noise[rows, items] < p).astype(float)
        rep = np.broadcast_to(rows[..., None], won.shape).ravel()
        item_labels = np.broadcast_to(items[..., None], won.shape).ravel()
        out[share] = dict(y=won.ravel(), yhat=verdict[rows, items][..., None].repeat(OVERLAP, 2).ravel(), rep=rep,
                          raters=raters.ravel(), items=item_labels, f_all=verdict.ravel(),
                          f_rep=np.repeat(np.arange(studies), n_items), f_items=np.tile(np.arange(n_items), studies))
    p_target = expit(item_logit)  # ignoring the physician effect: the judge's agreement with a typical physician
    agreement = float(np.mean(np.where(verdict == 1, p_target, 1 - p_target)))
    return out, agreement


def cell(rng, studies, n_physicians, n_items, judge, mu, shares) -> dict:
    data, physician_agreement = simulate(rng, studies, n_physicians, n_items, judge, shares, mu)
    results = {share: ppi_batch(**d, n_reps=studies) for share, d in data.items()}
    full = results[shares[0]]
    covered = (full["ci_low"] <= TRUE_RATE) & (TRUE_RATE <= full["ci_high"])
    classical = (full["classical_ci_low"] <= TRUE_RATE) & (TRUE_RATE <= full["classical_ci_high"])
    width = float(np.mean(full["ci_high"] - full["ci_low"]))
    classical_width = float(np.mean(full["classical_ci_high"] - full["classical_ci_low"]))
    equal = [s for s in shares if np.mean(results[s]["ci_high"] - results[s]["ci_low"]) <= classical_width]
    saved = 1 - min(equal) / shares[0] if equal else 0.0
    return {"coverage": float(covered.mean()), "classical_coverage": float(classical.mean()), "width": width,
            "classical_width": classical_width, "lam": float(np.mean(full["lam"])), "saved": saved,
            "physician_judgments": float(np.mean(full["physician_judgments"])),
            "judge_vs_physician": physician_agreement, "results": results}


def run(studies: int, seed: int) -> list[dict]:
    mu = intercept()
    rows = []
    for p_i, n_physicians in enumerate(PHYSICIANS):
        for n_i, n_items in enumerate(ITEMS):
            for j_i, (name, judge) in enumerate(JUDGES.items()):
                rng = np.random.default_rng([seed, p_i, n_i, j_i])
                shares = SHARES
                out = cell(rng, studies, n_physicians, n_items, judge, mu, shares)
                half = out["results"][FULL_SHARE / 2]
                out["half_width"] = float(np.mean(half["ci_high"] - half["ci_low"]))
                out["half_coverage"] = float(np.mean((half["ci_low"] <= TRUE_RATE) & (TRUE_RATE <= half["ci_high"])))
                del out["results"]
                rows.append({"physicians": n_physicians, "items": n_items, "judge": name, **out})
                print(f"{n_physicians:>3} x {n_items:<5} {name:<20} coverage {out['coverage']:.3f} "
                      f"width {out['width']:.3f} / {out['classical_width']:.3f}", flush=True)
    return rows


def table(rows: list[dict], studies: int) -> str:
    lines = ["| physicians | items | judge | judge = a physician | PPI coverage | physicians-only coverage | PPI width | physicians-only "
             "width | ratio | lambda | judgments saved at equal width | half judgments: PPI width (coverage) |",
             "|---" * 12 + "|"]
    for r in rows:
        se = np.sqrt(r["coverage"] * (1 - r["coverage"]) / studies)
        lines.append(f"| {r['physicians']} | {r['items']} | {r['judge']} | {r['judge_vs_physician']:.2f} | "
                     f"{r['coverage']:.3f} ± {se:.3f} | "
                     f"{r['classical_coverage']:.3f} | {r['width']:.3f} | {r['classical_width']:.3f} | "
                     f"{r['width'] / r['classical_width']:.2f} | {r['lam']:.2f} | {r['saved']:.0%} | "
                     f"{r['half_width']:.3f} ({r['half_coverage']:.3f}) |")
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[str]:
    low, high = min(rows, key=lambda r: r["coverage"]), max(rows, key=lambda r: r["coverage"])
    out = [f"PPI coverage with 5+ physicians: {low['coverage']:.3f} ({low['physicians']} x {low['items']}, {low['judge']}) "
           f"to {high['coverage']:.3f} ({high['physicians']} x {high['items']}, {high['judge']}); target 0.93-0.975; "
           f"{sum(0.93 <= r['coverage'] <= 0.975 for r in rows)} of {len(rows)} cells inside."]
    half = [r for r in rows if r["judge"] == "acc 0.9"]
    met = [r for r in half if r["half_width"] <= r["classical_width"]]
    out.append(f"Half the physician judgments + judge of accuracy 0.9 vs physicians alone with all of theirs: PPI at "
               f"most as wide in {len(met)} of {len(half)} designs (" + "; ".join(
                   f"{r['physicians']}x{r['items']}: {r['half_width']:.3f} vs {r['classical_width']:.3f}" for r in half)
               + ").")
    return out


def main(argv: list[str] | None = None) -> int:
    global SD_ITEM, JUDGES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--results", type=Path, help="append the section to this RESULTS.md")
    parser.add_argument("--sd-item", type=float, default=SD_ITEM, help="item effect sd (logit); larger: physicians agree more")
    parser.add_argument("--judges", default=",".join(JUDGES), help="comma-separated judges to run")
    args = parser.parse_args(argv)
    SD_ITEM = args.sd_item
    JUDGES = {name: JUDGES[name] for name in args.judges.split(",")}
    started = time.perf_counter()
    rows = run(args.studies, args.seed)
    elapsed = time.perf_counter() - started
    text, notes = table(rows, args.studies), verdicts(rows)
    print(text, *notes, f"({elapsed:.0f} s)", sep="\n")
    if args.results:
        command = "python bench/ppi_coverage.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(f"\n## Prediction-powered intervals: coverage and physician judgments saved (bench/ppi_coverage.py, "
                         f"issue 21)\n\n{date.today().isoformat()}, {platform.machine()} CPU, 2 cores; `{command}`; "
                         f"{args.studies} studies per cell, {elapsed:.0f} s. Nominal 95%; truth {TRUE_RATE}; physicians "
                         f"judge {FULL_SHARE:.0%} of the items (uniform random sample), {OVERLAP} physicians per item; "
                         f"sd physician {SD_PHYSICIAN}, sd item {SD_ITEM} (logit).\n\n"
                         f"{text}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
