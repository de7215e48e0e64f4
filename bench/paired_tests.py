"""Speed of the paired tests behind `medalign report compare`, side by side with a baseline.

Macro-F1 paired permutation test and paired bootstrap on the size of the Medical Abstracts test
set (2,770 unique abstracts, 5 classes): evaluation/paired.py (all resamples' confusion matrices
from one bincount) against the plain approach, scikit-learn's f1_score called once per resample.
Per-resample times, median of `--repeats` runs, and their ratio.

    .venv/bin/python -m bench.paired_tests [--n 2770] [--rounds 2000] [--baseline-rounds 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 5, n)
    first = np.where(rng.random(n) < 0.7, gold, rng.integers(0, 5, n))
    second = np.where(rng.random(n) < 0.8, gold, rng.integers(0, 5, n))
    return gold, first, second


def ours(gold, first, second, rounds: int) -> float:
    from evaluation.classification import macro_f1_rows
    from evaluation.paired import paired_bootstrap, paired_permutation

    def statistic(pred, g):
        return macro_f1_rows(g, pred, 5)

    start = time.perf_counter()
    paired_permutation(statistic, first, second, gold, rounds=rounds, seed=1)
    paired_bootstrap(statistic, first, second, gold, rounds=rounds, seed=1)
    return (time.perf_counter() - start) / rounds


def baseline(gold, first, second, rounds: int) -> float:
    from sklearn.metrics import f1_score

    def f1(g, p):
        return f1_score(g, p, labels=list(range(5)), average="macro", zero_division=0)

    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(rounds):  # one permutation and one bootstrap resample per round, like ours
        swap = rng.random(gold.size) < 0.5
        f1(gold, np.where(swap, first, second)) - f1(gold, np.where(swap, second, first))
        idx = rng.integers(0, gold.size, gold.size)
        f1(gold[idx], second[idx]) - f1(gold[idx], first[idx])
    return (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2770)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--baseline-rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gold, first, second = _data(args.n)
    ours_times, base_times = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        ours_times.append(ours(gold, first, second, args.rounds))
        base_times.append(baseline(gold, first, second, args.baseline_rounds))
    ours_ms, base_ms = statistics.median(ours_times) * 1e3, statistics.median(base_times) * 1e3
    print(json.dumps({"n": args.n, "rounds": args.rounds, "baseline_rounds": args.baseline_rounds,
                      "repeats": args.repeats, "ours_ms_per_resample": round(ours_ms, 4),
                      "sklearn_loop_ms_per_resample": round(base_ms, 4),
                      "speedup": round(base_ms / ours_ms, 1),
                      "ours_seconds_for_10000": round(ours_ms * 10, 2),
                      "sklearn_loop_seconds_for_10000": round(base_ms * 10, 1)}, indent=2))


if __name__ == "__main__":
    main()
