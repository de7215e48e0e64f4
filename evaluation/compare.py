"""The comparative study's table: one task, several systems (base, SFT, DPO) on the same examples.

Input: the task as a plain dict (its public fields), each system's predictions (rows written by
`medalign eval run`), optionally each training stage's run.json and a rating export. Output: one
summary dict (what summary.json holds) with, per metric, each system's value and 95% interval;
paired tests between systems on the primary metric (McNemar for accuracy, paired permutation with
a paired bootstrap interval for F1 and ROUGE, Wilcoxon for Likert ratings), Holm-adjusted across
those comparisons; compute per training stage with the DPO/SFT ratios; published numbers beside;
optionally the same split by a per-item field (`--by step`, evaluation/compare_by.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evaluation.classification import CLASSIFICATION_METRICS, classification_summary, encode, macro_f1_rows
from evaluation.metrics import METRICS
from evaluation.paired import holm, mcnemar, mean_rows, paired_bootstrap, paired_permutation
from evaluation.parsing import answer_set
from evaluation.rouge import per_example as rouge_by_example

ALL_METRICS = {**METRICS, **CLASSIFICATION_METRICS}
PREDICTION_METRICS = {"accuracy", "macro_f1", "per_class_f1"} | {
    f"{t}_{p}" for t in ("rouge1", "rouge2", "rougeL") for p in ("fmeasure", "precision", "recall")}


def _aligned(predictions: Mapping[str, Sequence[dict]]) -> tuple[list[str], dict[str, dict[str, dict]]]:
    """Example ids common to every system, checked to be the same set with the same gold answers."""
    by_system = {system: {row["id"]: row for row in rows} for system, rows in predictions.items()}
    systems = list(by_system)
    first = by_system[systems[0]]
    for system in systems[1:]:
        other = by_system[system]
        if set(other) != set(first):
            missing, extra = len(set(first) - set(other)), len(set(other) - set(first))
            raise ValueError(f"system {system!r} answered a different set of examples than {systems[0]!r} "
                             f"({missing} missing, {extra} extra): paired tests need the same examples")
        differing = [i for i in first if first[i]["gold"] != other[i]["gold"]]
        if differing:
            raise ValueError(f"gold answer of example {differing[0]!r} differs between {systems[0]!r} and {system!r}")
    return sorted(first), by_system


def system_metrics(task: dict, ids: list[str], rows: dict[str, dict], *, rounds: int = 10000, seed: int = 0) -> dict:
    """One system's metrics with 95% intervals over the examples `ids` (rows keyed by id)."""
    gold = [rows[i]["gold"] for i in ids]
    if task["output"] == "free-text":
        scores = rouge_by_example([rows[i]["raw_output"] for i in ids], gold)
        out = {"n": len(ids)}
        for name in task["metrics"]:
            if name in scores:
                values = scores[name]
                interval = paired_bootstrap(mean_rows, np.zeros_like(values), values, rounds=rounds, seed=seed)
                out[name] = {"value": float(values.mean()), "ci_low": interval["ci_low"], "ci_high": interval["ci_high"],
                             "interval": "percentile bootstrap over examples"}
        return out
    summary = classification_summary(gold, [rows[i]["parsed"] for i in ids], answer_set(task), rounds=rounds, seed=seed)
    return {k: v for k, v in summary.items() if k in task["metrics"] or k in ("n", "unparsed", "confusion")}


def _paired(task: dict, metric: str, ids: list[str], first: dict[str, dict], second: dict[str, dict], *,
            rounds: int, seed: int) -> dict:
    """One comparison on `metric`, second minus first."""
    if metric == "accuracy":
        a = [first[i]["parsed"] == first[i]["gold"] for i in ids]
        b = [second[i]["parsed"] == second[i]["gold"] for i in ids]
        out = mcnemar(a, b)
        out["difference"] = float(np.mean(b) - np.mean(a))
        out.update(paired_bootstrap(mean_rows, np.array(a, float), np.array(b, float), rounds=rounds, seed=seed))
        return out
    if metric in ("macro_f1", "per_class_f1"):
        labels = answer_set(task)
        gold = encode([first[i]["gold"] for i in ids], labels)
        a = encode([first[i]["parsed"] for i in ids], labels)
        b = encode([second[i]["parsed"] for i in ids], labels)

        def statistic(pred, g):
            return macro_f1_rows(g, pred, len(labels))
    else:  # ROUGE: a mean of per-example scores
        gold = None
        a = rouge_by_example([first[i]["raw_output"] for i in ids], [first[i]["gold"] for i in ids])[metric]
        b = rouge_by_example([second[i]["raw_output"] for i in ids], [second[i]["gold"] for i in ids])[metric]
        statistic = mean_rows
    out = paired_permutation(statistic, a, b, gold, rounds=rounds, seed=seed)
    out.update(paired_bootstrap(statistic, a, b, gold, rounds=rounds, seed=seed))
    return out


def comparison_pairs(systems: Sequence[str]) -> list[tuple[str, str]]:
    """Each stage against the one before it, and the last against the first (base -> SFT -> DPO)."""
    pairs = list(zip(systems, systems[1:], strict=False))
    if len(systems) > 2:
        pairs.append((systems[0], systems[-1]))
    return pairs


def _with_holm(comparisons: list[dict]) -> list[dict]:
    adjusted = holm([c["p_value"] for c in comparisons]) if comparisons else []
    for comparison, p in zip(comparisons, adjusted, strict=True):
        comparison["p_holm"] = p
    return comparisons


def compare_systems(task: dict, predictions: Mapping[str, Sequence[dict]], *, runs: Mapping[str, dict] | None = None,
                    ratings: Sequence[dict] | None = None, rating_criterion: str | None = None,
                    by: str | None = None, min_group: int | None = None, rounds: int = 10000, seed: int = 0) -> dict:
    """The whole comparison; `predictions` in stage order (e.g. base, sft, dpo); `by`: a per-item
    field the predictions carry (the task's `fields`), to split the table by (evaluation/compare_by.py)."""
    if len(predictions) < 2:
        raise ValueError("a comparison needs at least two systems")
    ids, rows = _aligned(predictions)
    systems = list(predictions)
    for system in systems:
        other_task = {r.get("task") for r in rows[system].values()} - {task["name"]}
        if other_task:
            raise ValueError(f"predictions of {system!r} belong to task {sorted(other_task)[0]!r}, not {task['name']!r}")
    metrics = [m for m in task["metrics"] if m in PREDICTION_METRICS]
    if not metrics:
        raise ValueError(f"task {task['name']!r} is measured by {task['metrics']}, none of them from predictions: "
                         "its systems are compared by physicians (`medalign report --study`)")
    primary = task["primary_metric"] if task["primary_metric"] in PREDICTION_METRICS else metrics[0]
    per_system = {s: system_metrics(task, ids, rows[s], rounds=rounds, seed=seed) for s in systems}
    comparisons = [{"first": a, "second": b, "metric": primary,
                    **_paired(task, primary, ids, rows[a], rows[b], rounds=rounds, seed=seed)}
                   for a, b in comparison_pairs(systems)]
    summary = {
        "task": {"name": task["name"], "version": task["version"], "output": task["output"]},
        "systems": systems,
        "n_examples": len(ids),
        "metrics": {m: {"description": ALL_METRICS[m].description, "higher_is_better": ALL_METRICS[m].higher_is_better}
                    for m in metrics},
        "primary_metric": primary,
        "per_system": per_system,
        "comparisons": _with_holm(comparisons),
        "multiplicity": f"Holm step-down over the {len(comparisons)} comparisons on {primary}",
        "not_from_predictions": [m for m in task["metrics"] if m not in PREDICTION_METRICS],
        "published": task.get("published", []),
        "compute": compute_table(runs or {}),
        "assumptions": "examples are independent draws; intervals are 95% (Wilson for accuracy, percentile "
                       "bootstrap over examples otherwise); every system answered the same examples",
    }
    if by is not None:
        from evaluation.compare_by import MIN_GROUP, split_by

        summary["by"] = split_by(task, by, ids, rows, systems, primary, metric_fn=system_metrics, paired_fn=_paired,
                                 pairs=comparison_pairs(systems), holm_fn=holm,
                                 min_group=MIN_GROUP if min_group is None else min_group, rounds=rounds, seed=seed)
    if ratings:
        summary["ratings"] = _ratings_section(systems, ratings, criterion=rating_criterion, rounds=rounds, seed=seed)
    return summary


def _ratings_section(systems: Sequence[str], ratings: Sequence[dict], *, criterion: str | None, rounds: int,
                     seed: int) -> dict:
    """Physicians' Likert grades on one criterion, from evaluation/ratings.py (its headline interval
    per system; its Wilcoxon signed-rank on per-item means), for this comparison's stage pairs,
    Holm-adjusted across them."""
    from evaluation.ratings import paired_comparison, summarise_ratings

    summary = summarise_ratings(list(ratings), systems=list(systems), rounds=rounds, seed=seed)
    likert = sorted(c for c, entry in summary["criteria"].items() if str(entry["scale"]).startswith("likert-"))
    if criterion is None and len(likert) == 1:
        criterion = likert[0]
    if criterion not in likert:
        raise ValueError(f"choose the Likert criterion to compare (one of {likert}), got {criterion!r}")
    entry = summary["criteria"][criterion]
    per_system = {s: {"likert_mean": {"value": v["mean"], "ci_low": v["interval"]["ci_low"],
                                      "ci_high": v["interval"]["ci_high"], "interval": v["interval"]["method"]},
                      "items": v["items"], "grades": v["n"], "raters": v["raters"]}
                  for s, v in entry["per_system"].items()}
    rows = [r for r in ratings if r["criterion"] == criterion]
    comparisons = []
    for a, b in comparison_pairs(list(per_system)):
        result = paired_comparison(rows, a, b)
        comparisons.append({"first": a, "second": b, "metric": "likert_mean", **result,
                            "difference": result["mean_difference"],
                            "p_value": 1.0 if result["p_value"] is None else result["p_value"]})
    return {"criterion": criterion, "per_system": per_system, "comparisons": _with_holm(comparisons),
            "interval_assumes": summary["interval"]["assumes"]}


def compute_table(runs: Mapping[str, dict]) -> dict:
    """Per stage: wall time, device, device-hours (GPU hours on CUDA, wall-clock hours on CPU), tokens,
    FLOPs where the run recorded them; and DPO/SFT ratios when both stages are present."""
    stages = {}
    for stage, record in runs.items():
        device = record.get("device") or {}
        wall = record.get("wall_time_s")
        # one GPU per training process (run.json "processes"); older records: the GPUs visible
        count = (record.get("processes") or {}).get("num_processes") or device.get("count", 1)
        stages[stage] = {
            "wall_time_s": wall,
            "device": device.get("device"),
            "device_name": device.get("name"),
            "gpu_hours": round(wall * count / 3600, 6) if wall is not None and device.get("device") == "cuda" else None,
            "cpu_hours": round(wall / 3600, 6) if wall is not None and device.get("device") != "cuda" else None,
            "tokens_processed": record.get("tokens_processed"),
            "flops": record.get("total_flos"),
        }
    ratios = {}
    if "sft" in stages and "dpo" in stages:
        for key in ("wall_time_s", "gpu_hours", "cpu_hours", "tokens_processed", "flops"):
            s, d = stages["sft"][key], stages["dpo"][key]
            ratios[key] = round(d / s, 3) if s and d is not None else None
    return {"stages": stages, "dpo_over_sft": ratios,
            "notes": "gpu_hours = wall time x training processes (one GPU each); cpu_hours = wall time; flops = "
                     "the trainer's own estimate (total_flos), which need not count the DPO reference model's "
                     "forward passes"}
