"""Coverage of the report's headline on study designs written by someone who never read the code.

bench/designs_independent.json holds 20 designs written from the issue text alone by a helper who
had not seen evaluation/ (uneven workloads, few physicians, extreme rates, many ties, strong
physician or item effects). Each study is simulated here with its own simulator (not the one in
bench/coverage.py) and analysed with the report's own code (evaluation.winrate.win_rate_table on
the export rows); we count how often the 95% headline interval of the primary (decisive) win rate
covers the population value, and at a true 0.5 how often its p-value rejects.

Conventions (the designs' author's): true_win_rate is the decisive-vote win probability of an
average physician on an average item (logit intercept); tie_rate is the probability of a tie or
both-bad, independent of the effects; physician and item effects are normal on the logit scale.
The estimand is the population value E[expit(intercept + physician + item)] (physicians and items
as random samples), computed by Monte Carlo with 4 million draws.

    .venv/bin/python bench/coverage_independent.py --studies 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.table import from_rows  # noqa: E402
from evaluation.winrate import win_rate_table  # noqa: E402

DESIGNS = Path(__file__).with_name("designs_independent.json")


def population_rate(design: dict, draws: int = 4_000_000) -> float:
    rng = np.random.default_rng(12345)
    effects = rng.normal(0, design["physician_sd_logit"], draws) + rng.normal(0, design["item_sd_logit"], draws)
    return float(expit(logit(design["true_win_rate"]) + effects).mean())


def simulate_rows(design: dict, rng: np.random.Generator) -> list[dict]:
    physicians, items, overlap = design["physicians"], design["items"], design["overlap"]
    shares = np.array(design["workload_shares"] or [1 / physicians] * physicians, dtype=float)
    shares = shares / shares.sum()
    physician_effect = rng.normal(0, design["physician_sd_logit"], physicians)
    intercept = logit(design["true_win_rate"])
    rows = []
    for item in range(items):
        item_effect = rng.normal(0, design["item_sd_logit"])
        judges = rng.choice(physicians, size=overlap, replace=False, p=shares)
        for judge in judges:
            left = "sft" if rng.random() < 0.5 else "dpo"
            right = "dpo" if left == "sft" else "sft"
            if rng.random() < design["tie_rate"]:
                choice, preferred = ("tie" if rng.random() < 0.5 else "both_bad"), ""
            else:
                preferred = "dpo" if rng.random() < expit(intercept + physician_effect[judge] + item_effect) else "sft"
                choice = "a" if preferred == left else "b"
            rows.append({"item_id": f"i{item}", "rater": f"p{judge}", "system_a": left, "system_b": right,
                         "choice": choice, "preferred_system": preferred, "is_gold": False, "gold_better": "",
                         "evasive_a": False, "evasive_b": False, "rater_simulated": True})
    return rows


def run_design(args: tuple[dict, int, int]) -> dict:
    design, studies, seed = args
    truth = population_rate(design)
    rng = np.random.default_rng(seed)
    covered = rejected = missing = 0
    for _ in range(studies):
        head = win_rate_table(from_rows(simulate_rows(design, rng)), "dpo", rounds=20)["headline"]
        if head.get("ci_low") is None:
            missing += 1
            continue
        covered += head["ci_low"] <= truth <= head["ci_high"]
        rejected += (head.get("p_value") is not None) and head["p_value"] < 0.05
    done = studies - missing
    return {"name": design["name"], "truth": truth, "studies": done, "no_interval": missing,
            "coverage": covered / done if done else None, "rejection": rejected / done if done else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    designs = json.loads(DESIGNS.read_text())
    started = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run_design, [(d, args.studies, 1000 + i) for i, d in enumerate(designs)]))
    print("| design | physicians x items, overlap | largest share | population rate | studies | coverage (MC se) |"
          " rejects 0.5 |")
    print("|---|---|---|---|---|---|---|")
    for design, r in zip(designs, results, strict=True):
        shares = design["workload_shares"]
        largest = f"{max(shares):.2f}" if shares else "balanced"
        se = np.sqrt(r["coverage"] * (1 - r["coverage"]) / r["studies"]) if r["coverage"] is not None else float("nan")
        note = f" ({r['no_interval']} without interval)" if r["no_interval"] else ""
        null = " (null)" if design["true_win_rate"] == 0.5 else ""
        print(f"| {design['name']} | {design['physicians']} x {design['items']}, {design['overlap']} | {largest} | "
              f"{r['truth']:.3f} | {r['studies']}{note} | {r['coverage']:.3f} ({se:.3f}) | {r['rejection']:.3f}{null} |")
    print(f"\n{args.studies} studies per design, {time.time() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
