"""Coverage of the win-rate intervals in simulated crossed studies with a known true win rate.

Designs (physicians x items, overlap as the app assigns it: every non-gold item goes to
`overlap` distinct physicians, drawn at random) 2x50, 5x100, 20x100, 50x500; effects none /
item only / physician only / both (logit scale, sd 0.5 for physicians, 1.0 for items); true
win rates 0.5 and 0.63, where the truth is the population-average probability that a random
physician prefers the target on a random item. Each study gives each method one 95%
interval; coverage is the share of studies whose interval holds the truth, with its
Monte-Carlo standard error sqrt(c (1 - c) / studies).

    .venv/bin/python bench/coverage.py --studies 500 --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation import crossed  # noqa: E402

DESIGNS = {"2x50": (2, 50, 2), "5x100": (5, 100, 3), "20x100": (20, 100, 3), "50x500": (50, 500, 3)}
EFFECTS = {"none": (0.0, 0.0), "item": (0.0, 1.0), "physician": (0.5, 0.0), "both": (0.5, 1.0)}
RATES = (0.5, 0.63)
METHODS = ("headline", "two_way_robust", "two_way_bootstrap", "bootstrap_item", "bootstrap_rater", "wilson")
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)  # for E[expit(mu + sd Z)]


def intercept_for(rate: float, sd_rater: float, sd_item: float) -> float:
    """Logit-scale intercept whose population-average win probability is `rate`."""
    sd = np.hypot(sd_rater, sd_item)
    average = lambda mu: float(_WEIGHTS @ expit(mu + sd * _NODES) / _WEIGHTS.sum()) - rate  # noqa: E731
    return brentq(average, -10, 10)


def simulate(design: str, effect: str, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One study: (physician, item, 1 if the target won) per judgment."""
    n_raters, n_items, overlap = DESIGNS[design]
    sd_rater, sd_item = EFFECTS[effect]
    judges = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :overlap]  # distinct physicians per item
    raters = judges.ravel()
    items = np.repeat(np.arange(n_items), overlap)
    logit = (intercept_for(rate, sd_rater, sd_item) + sd_rater * rng.standard_normal(n_raters)[raters]
             + sd_item * rng.standard_normal(n_items)[items])
    return raters, items, (rng.random(len(raters)) < expit(logit)).astype(float)


def intervals(raters, items, won, *, rounds: int, seed: int) -> dict[str, tuple]:
    ones = np.ones_like(won)
    values = np.column_stack([won, ones])
    out = {}
    for name, factors in (("two_way_bootstrap", ("rater", "item")), ("bootstrap_item", ("item",)),
                          ("bootstrap_rater", ("rater",))):
        sums = crossed.bootstrap_sums(raters, items, values, factors=factors, rounds=rounds, seed=seed)
        out[name] = crossed.percentile_interval(crossed.ratio_draws(sums, 0, 1))[:2]
    robust = crossed.cluster_robust_two_way(raters, items, won, ones)
    out["two_way_robust"] = (robust["ci_low"], robust["ci_high"])
    out["wilson"] = tuple(float(x) for x in proportion_confint(won.sum(), len(won), method="wilson"))
    headline = crossed.headline_choice(len(set(raters.tolist())))
    out["headline"] = out[headline]
    return out


def run(studies: int, rounds: int, seed: int, designs=DESIGNS, effects=EFFECTS, rates=RATES) -> list[dict]:
    rows = []
    for design in designs:
        for effect in effects:
            for rate in rates:
                rng = np.random.default_rng([seed, list(DESIGNS).index(design), list(EFFECTS).index(effect), int(rate * 100)])
                hits = dict.fromkeys(METHODS, 0)
                missing = dict.fromkeys(METHODS, 0)
                for study in range(studies):
                    found = intervals(*simulate(design, effect, rate, rng), rounds=rounds, seed=study)
                    for method, (low, high) in found.items():
                        if low is None:
                            missing[method] += 1
                        elif low <= rate <= high:
                            hits[method] += 1
                rows.append({"design": design, "effect": effect, "rate": rate, "studies": studies,
                             **{m: hits[m] / studies for m in METHODS}, "missing": missing})
    return rows


def table(rows: list[dict]) -> str:
    head = "| design | effects | true rate | " + " | ".join(METHODS) + " |"
    lines = [head, "|---" * (len(METHODS) + 3) + "|"]
    for row in rows:
        n = row["studies"]
        cells = [f"{row[m]:.3f} ± {np.sqrt(row[m] * (1 - row[m]) / n):.3f}" for m in METHODS]
        lines.append(f"| {row['design']} | {row['effect']} | {row['rate']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.studies, args.rounds, args.seed)
    elapsed = time.perf_counter() - started
    text = table(rows)
    print(text)
    targets = [r for r in rows if DESIGNS[r["design"]][0] >= crossed.MIN_RATERS]
    worst = min(targets, key=lambda r: r["headline"])
    high = max(targets, key=lambda r: r["headline"])
    verdict = (f"Headline coverage with >= {crossed.MIN_RATERS} physicians: {worst['headline']:.3f} "
               f"({worst['design']}, {worst['effect']}, {worst['rate']}) to {high['headline']:.3f} "
               f"({high['design']}, {high['effect']}, {high['rate']}); target 0.93-0.975.")
    print(verdict, f"({elapsed:.0f} s)")
    if args.results:
        command = "python bench/coverage.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(f"\n## Interval coverage in crossed studies (bench/coverage.py)\n\n"
                         f"2026-11-22, 2-core CPU, 24 GiB; `{command}`; {args.studies} studies per cell, "
                         f"{args.rounds} bootstrap resamples, {elapsed:.0f} s.\n"
                         f"Coverage of nominal 95% intervals ± Monte-Carlo standard error. `headline` is what the report "
                         f"shows first: {crossed.HEADLINE_DESCRIPTION}\n\n{text}\n\n{verdict}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
