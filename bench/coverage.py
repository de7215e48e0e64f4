"""Coverage and null rejection of every interval and test the reports print, in simulated crossed
studies with a known truth, computed with the reports' own code.

Judgments: logit P(target preferred) = mu + u_physician + v_item (+ each physician's own taste for
the left answer and for longer answers, mean 0), sd 0.5 for physicians and 1.0 for items by
default; the truth is the population-average probability. Designs give `overlap` distinct
physicians per item, or, for uneven workloads, one physician per item drawn with unequal shares
(one physician doing 40% or 60% of the work).

Tables (each cell >= 500 studies; Monte-Carlo standard error sqrt(c (1 - c) / studies)):
- coverage: the headline interval (evaluation.crossed.interval_set, as the report calls it), the
  same two-way robust interval with t on the head count - 1 (the rule before issue 20), Wilson;
- null: rejection rate at nominal 5% of every printed test at a true null, and of the tests the
  appendix keeps (labelled "assumes independent judgments");
- ratings: the rating report's paired test (evaluation.ratings.paired_comparison) when physicians
  differ in how much they like each system, and the Wilcoxon test beside it.

    .venv/bin/python bench/coverage.py --studies 500 --workers 2 --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluation import bias, crossed, intervals, ratings  # noqa: E402
from evaluation.table import A, B, JudgmentTable  # noqa: E402

# name: (physicians, items, overlap, largest share or None for balanced assignment)
DESIGNS = {"2x50": (2, 50, 2, None), "5x100": (5, 100, 3, None), "20x100": (20, 100, 3, None),
           "50x500": (50, 500, 3, None),
           "5x150 40%": (5, 150, 1, 0.4), "5x150 60%": (5, 150, 1, 0.6),
           "10x150 40%": (10, 150, 1, 0.4), "10x150 60%": (10, 150, 1, 0.6),
           "20x300 60%": (20, 300, 1, 0.6)}
EFFECTS = {"none": (0.0, 0.0), "item": (0.0, 1.0), "physician": (0.5, 0.0), "both": (0.5, 1.0)}
COVERAGE_CELLS = ([(d, e, r) for d in ("2x50", "5x100", "20x100", "50x500") for e in EFFECTS for r in (0.5, 0.63)]
                  + [(d, "both", r) for d in DESIGNS if "%" in d for r in (0.5, 0.63)])
NULL_DESIGNS = ("5x100", "20x100", "5x150 60%", "10x150 60%")
RATING_DESIGNS = {"5x40": (5, 40), "10x40": (10, 40), "20x40": (20, 40)}
TASTE_SD = 0.5  # physicians' own left / length / system preferences (logit or rating points), mean 0
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(60)


def intercept_for(rate: float, sd: float) -> float:
    """Logit-scale intercept whose population-average probability is `rate`."""
    if rate == 0.5:
        return 0.0
    return brentq(lambda mu: float(_WEIGHTS @ expit(mu + sd * _NODES) / _WEIGHTS.sum()) - rate, -10, 10)


def assign(design: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """(physician, item) of every judgment."""
    n_raters, n_items, overlap, heavy = DESIGNS[design]
    if heavy is None:
        judges = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :overlap]  # distinct physicians per item
        return judges.ravel(), np.repeat(np.arange(n_items), overlap)
    shares = np.r_[heavy, np.full(n_raters - 1, (1 - heavy) / (n_raters - 1))]
    return rng.choice(n_raters, size=n_items, p=shares), np.arange(n_items)


def simulate(design: str, effect: str, rate: float, rng, tastes: bool = False) -> dict:
    """One pairwise study of decisive votes; with `tastes`, physicians also differ (mean 0) in how
    much they favour the left and the longer answer, and the sides and lengths are drawn."""
    raters, items = assign(design, rng)
    n_raters, n_items = DESIGNS[design][0], DESIGNS[design][1]
    sd_rater, sd_item = EFFECTS[effect]
    n = len(raters)
    logit = (intercept_for(rate, np.hypot(sd_rater, sd_item)) + sd_rater * rng.standard_normal(n_raters)[raters]
             + sd_item * rng.standard_normal(n_items)[items])
    target_left = rng.random(n) < 0.5
    words_target, words_other = rng.integers(20, 200, n), rng.integers(20, 200, n)
    if tastes:
        side = np.where(target_left, 1.0, -1.0)
        length = (words_target - words_other) / (words_target + words_other + 1)
        logit = (logit + TASTE_SD * rng.standard_normal(n_raters)[raters] * side
                 + 4 * TASTE_SD * rng.standard_normal(n_raters)[raters] * length)
    won = rng.random(n) < expit(logit)
    return {"raters": raters, "items": items, "won": won.astype(float), "target_left": target_left,
            "words_target": words_target, "words_other": words_other, "n_raters": n_raters, "n_items": n_items}


def as_table(study: dict) -> JudgmentTable:
    """The study as the report reads it (systems: 0 = dpo, the target; 1 = sft)."""
    n, left = len(study["won"]), study["target_left"]
    won = study["won"].astype(bool)
    zeros = np.zeros(n, dtype=bool)
    return JudgmentTable(
        raw=pa.table({"n": np.arange(n)}), item=study["items"], items=[str(i) for i in range(study["n_items"])],
        rater=study["raters"], raters=[f"r{i}" for i in range(study["n_raters"])],
        system_a=np.where(left, 0, 1), system_b=np.where(left, 1, 0), systems=["dpo", "sft"],
        choice=np.where(won == left, A, B), is_gold=zeros, gold_better=np.full(n, -1), evasive_a=zeros,
        evasive_b=zeros, simulated=zeros, words_a=np.where(left, study["words_target"], study["words_other"]),
        words_b=np.where(left, study["words_other"], study["words_target"]), order=np.arange(n))


def coverage_study(design: str, effect: str, rate: float, rng, rounds: int) -> dict[str, tuple]:
    s = simulate(design, effect, rate, rng)
    raters, items, won = s["raters"], s["items"], s["won"]
    columns = np.column_stack([won, np.ones_like(won)])
    head = crossed.interval_set(raters, items, columns, {"rate": (0, 1)}, rounds=rounds, seed=0)["rate"]["headline"]
    old = intervals.ratio_interval(raters, items, won, np.ones_like(won), df_rule="physicians")
    wilson = proportion_confint(won.sum(), len(won), method="wilson")
    return {"headline": (head["ci_low"], head["ci_high"]), "t_on_head_count": (old["ci_low"], old["ci_high"]),
            "wilson": tuple(float(x) for x in wilson)}


def null_study(design: str, rng, rounds: int) -> dict[str, float | None]:
    """p-values of every pairwise test at a true null (win rate 0.5, no position or length effect on
    average; physicians differ in their tastes)."""
    s = simulate(design, "both", 0.5, rng, tastes=True)
    table = as_table(s)
    columns = np.column_stack([s["won"], np.ones_like(s["won"])])
    head = crossed.interval_set(s["raters"], s["items"], columns, {"rate": (0, 1)}, rounds=rounds, seed=0,
                                null=0.5)["rate"]["headline"]
    position = bias.position_bias_table(table)
    length = bias.length_bias_table(table, "dpo")
    wins = int(s["won"].sum())
    ind_p, ind_l = position.get("independent", {}), length.get("independent", {})
    return {"win rate vs 0.5 (headline)": head["p_value"], "position: left share": position.get("p_value"),
            "position: regression": position.get("odds_ratio_p_value"),
            "length: longer share": length.get("longer_p_value"), "length: regression": length.get("coefficient_p_value"),
            "appendix: sign test": binomtest(wins, len(s["won"]), 0.5).pvalue,
            "appendix: position binomial": ind_p.get("binomial_p_value"), "appendix: position CMH": ind_p.get("cmh_p_value"),
            "appendix: length binomial": ind_l.get("binomial_p_value")}


def rating_null_study(design: str, rng) -> dict[str, float | None]:
    """Two systems rated 1-5 on every item by every physician; no difference on average, but each
    physician likes one system more than the other (sd TASTE_SD points)."""
    n_raters, n_items = RATING_DESIGNS[design]
    r = np.repeat(np.arange(n_raters), n_items * 2)
    i = np.tile(np.repeat(np.arange(n_items), 2), n_raters)
    second = np.tile([False, True], n_raters * n_items)
    latent = (3 + 0.5 * rng.standard_normal(n_raters)[r] + 0.7 * rng.standard_normal(n_items)[i]
              + np.where(second, TASTE_SD, -TASTE_SD) * rng.standard_normal(n_raters)[r] / 2
              + 0.8 * rng.standard_normal(len(r)))
    values = np.clip(np.rint(latent), 1, 5).astype(int)
    rows = [{"rater": f"r{a}", "item_id": f"i{b}", "system": "dpo" if c else "sft", "value": int(v)}
            for a, b, c, v in zip(r, i, second, values, strict=True)]
    result = ratings.paired_comparison(rows, "sft", "dpo")
    return {"rating difference (two-way robust)": result["p_value"],
            "appendix: Wilcoxon on item means": result["wilcoxon_p_value"]}


def _chunk(task: tuple) -> tuple[tuple, list[dict]]:
    kind, cell, seed, chunk, count, rounds = task
    rng = np.random.default_rng([seed, zlib.crc32(repr(cell).encode()), chunk])  # stable across runs
    if kind == "coverage":
        out = [coverage_study(*cell, rng, rounds) for _ in range(count)]
    elif kind == "null":
        out = [null_study(cell, rng, rounds) for _ in range(count)]
    else:
        out = [rating_null_study(cell, rng) for _ in range(count)]
    return (kind, cell), out


def run(studies: int, rounds: int, seed: int, workers: int, cells=None) -> dict:
    """Every cell's results; cells: {"coverage": [...], "null": [...], "ratings": [...]}."""
    cells = cells or {"coverage": COVERAGE_CELLS, "null": list(NULL_DESIGNS), "ratings": list(RATING_DESIGNS)}
    per_chunk = 50
    tasks = [(kind, cell, seed, c, min(per_chunk, studies - c * per_chunk), rounds) for kind, group in cells.items()
             for cell in group for c in range(-(-studies // per_chunk))]
    results: dict[tuple, list[dict]] = {}
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for key, out in pool.imap_unordered(_chunk, tasks, chunksize=2):
            results.setdefault(key, []).extend(out)
    return results


def _share(values: list[float], n: int) -> str:
    c = float(np.mean(values)) if values else float("nan")
    return f"{c:.3f} ± {np.sqrt(c * (1 - c) / n):.3f}"


def _order(key: tuple) -> tuple:
    """Cells in the order they are listed (pool results arrive in any order)."""
    kind, cell = key
    listed = {"coverage": COVERAGE_CELLS, "null": list(NULL_DESIGNS), "ratings": list(RATING_DESIGNS)}[kind]
    return (kind, listed.index(cell))


def coverage_table(results: dict) -> tuple[str, list[tuple]]:
    methods = ("headline", "t_on_head_count", "wilson")
    lines = ["| design | physicians' effective number | effects | true rate | studies | " + " | ".join(methods) + " |",
             "|---" * (len(methods) + 5) + "|"]
    summary = []
    for (kind, cell), out in sorted(results.items(), key=lambda kv: _order(kv[0])):
        if kind != "coverage":
            continue
        design, effect, rate = cell
        cells = []
        for m in methods:
            hits = [lo is not None and lo <= rate <= hi for lo, hi in (o[m] for o in out)]
            cells.append(_share(hits, len(out)))
            if m == "headline":
                summary.append((design, effect, rate, float(np.mean(hits))))
        n_raters, _items, _overlap, heavy = DESIGNS[design]
        eff = n_raters if heavy is None else 1 / (heavy ** 2 + (1 - heavy) ** 2 / (n_raters - 1))
        lines.append(f"| {design} | {eff:.1f} | {effect} | {rate} | {len(out)} | " + " | ".join(cells) + " |")
    return "\n".join(lines), summary


def null_table(results: dict, kind: str) -> str:
    groups = {cell: out for (k, cell), out in sorted(results.items(), key=lambda kv: _order(kv[0])) if k == kind}
    if not groups:
        return ""
    tests = list(next(iter(groups.values()))[0])
    lines = ["| test | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
    for test in tests:
        cells = []
        for out in groups.values():
            ps = [o[test] for o in out]
            missing = sum(p is None for p in ps)
            cells.append(_share([p is not None and p < 0.05 for p in ps], len(ps))
                         + (f" ({missing} without a test)" if missing else ""))
        label = test.replace("appendix: ", "appendix (assumes independent judgments): ")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap resamples (the headline with < 5 physicians)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, help="replace this benchmark's section of bench/RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args.studies, args.rounds, args.seed, args.workers)
    elapsed = time.perf_counter() - started
    coverage, summary = coverage_table(results)
    five_plus = [s for s in summary if DESIGNS[s[0]][0] >= intervals.MIN_RATERS]
    low, high = min(five_plus, key=lambda s: s[3]), max(five_plus, key=lambda s: s[3])
    verdict = (f"Headline coverage with >= {intervals.MIN_RATERS} physicians: {low[3]:.3f} ({low[0]}, {low[1]}, "
               f"{low[2]}) to {high[3]:.3f} ({high[0]}, {high[1]}, {high[2]}); target 0.93-0.975.")
    text = (f"### Coverage of nominal 95% intervals\n\n{coverage}\n\n{verdict}\n\n"
            f"### Rejection rate at a true null, nominal 5% (pairwise; physicians differ in their left and length "
            f"tastes)\n\n{null_table(results, 'null')}\n\n"
            f"### Rejection rate at a true null, nominal 5% (ratings; physicians differ in how much they like each "
            f"system)\n\n{null_table(results, 'ratings')}\n")
    print(text, f"\n({elapsed:.0f} s)")
    if args.results:
        command = "python bench/coverage.py " + " ".join(argv if argv is not None else sys.argv[1:])
        section = (f"## Interval coverage and null rejection (bench/coverage.py)\n\n"
                   f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n- machine: {platform.machine()}, "
                   f"{multiprocessing.cpu_count()} cores, Python {platform.python_version()}\n"
                   f"- command: `{command}` ({args.workers} worker processes, {elapsed:.0f} s)\n\n"
                   f"Every figure is the share of simulated studies ± its Monte-Carlo standard error. `headline` is "
                   f"what the report shows first: {intervals.HEADLINE_DESCRIPTION} `t_on_head_count` is the same "
                   f"interval with t on physicians - 1 (the rule before issue 20). Effects: logit sd 0.5 for "
                   f"physicians and 1.0 for items.\n\n{text}")
        replace_section(args.results, "## Interval coverage", section)
    return 0


def replace_section(path: Path, title_prefix: str, section: str) -> None:
    """One current section per benchmark: replace the section whose title starts with the prefix
    (up to the next '## '), or append it."""
    text = path.read_text() if path.is_file() else ""
    start = text.find("\n" + title_prefix)
    if start < 0:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = text.find("\n## ", start + 1)
    path.write_text(text[:start + 1] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else ""))


if __name__ == "__main__":
    raise SystemExit(main())
