"""Peeking at the live dashboard: false positives at a true win rate of 0.5 when a researcher looks
10 times while a study fills up and stops at the first look whose interval excludes 0.5.

Judgments of a planned design (physicians x items x overlap; logit sd 0.5 for physicians and 1.0
for items, true population win rate 0.5) arrive in a random order; the looks are at 10%, 20%, ...,
100% of them. Rules compared:
- `wilson, first of 10`: the dashboard before issue 20 (Wilson on decisive votes, independence);
- `headline, first of 10`: the report's headline interval (evaluation.crossed.interval_set, what
  the dashboard now shows), by a researcher who ignores the INTERIM label;
- `as shipped: planned size only`: the dashboard marks every look before the planned size
  INTERIM and offers no stopping; the decision is the one look at the planned size.

    .venv/bin/python bench/interim_looks.py --studies 1000 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation import crossed, power  # noqa: E402

DESIGNS = {"5x100 overlap 3": (5, 100, 3), "20x100 overlap 3": (20, 100, 3)}
LOOKS = 10


def one_study(design: str, rng, rounds: int) -> dict[str, bool]:
    physicians, items, overlap = DESIGNS[design]
    raters, item_codes, won, _decisive = power.simulate_study(rng, 0.5, physicians, items, overlap,
                                                              sd_physician=power.DEFAULT_SD_PHYSICIAN,
                                                              sd_item=power.DEFAULT_SD_ITEM)
    order = rng.permutation(len(won))
    wilson_hit = headline_hit = False
    final = False
    for look in range(1, LOOKS + 1):
        seen = order[: round(len(order) * look / LOOKS)]
        y = won[seen]
        low, high = proportion_confint(y.sum(), len(y), method="wilson")
        wilson_hit = wilson_hit or not low <= 0.5 <= high
        head = crossed.interval_set(raters[seen], item_codes[seen], np.column_stack([y, np.ones_like(y)]),
                                    {"rate": (0, 1)}, rounds=rounds, seed=0, null=0.5,
                                    headline_only=True)["rate"]["headline"]
        excluded = head["ci_low"] is not None and not head["ci_low"] <= 0.5 <= head["ci_high"]
        headline_hit = headline_hit or excluded
        final = excluded if look == LOOKS else final
    return {"wilson, first of 10": wilson_hit, "headline, first of 10": headline_hit,
            "as shipped: planned size only": final}


def _chunk(task):
    design, seed, chunk, count, rounds = task
    rng = np.random.default_rng([seed, list(DESIGNS).index(design), chunk])
    return design, [one_study(design, rng, rounds) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=500, help="bootstrap resamples (headline with < 5 physicians)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    per = 50
    tasks = [(d, args.seed, c, min(per, args.studies - c * per), args.rounds) for d in DESIGNS
             for c in range(-(-args.studies // per))]
    results: dict[str, list[dict]] = {}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for design, out in pool.imap_unordered(_chunk, tasks):
            results.setdefault(design, []).extend(out)
    rules = list(next(iter(results.values()))[0])
    lines = ["| rule | " + " | ".join(DESIGNS) + " |", "|---" * (len(DESIGNS) + 1) + "|"]
    for rule in rules:
        cells = []
        for design in DESIGNS:
            hits = [o[rule] for o in results[design]]
            share = float(np.mean(hits))
            cells.append(f"{share:.3f} ± {np.sqrt(share * (1 - share) / len(hits)):.3f}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    print(f"\n({args.studies} studies per design, {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
