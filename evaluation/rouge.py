"""ROUGE-1/2/L (F1, precision, recall) per system against references, computed with the
rouge-score package, with bootstrap intervals and a paired comparison of two systems."""

from __future__ import annotations

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
PARTS = ("fmeasure", "precision", "recall")


def per_example(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """{'rouge1_fmeasure': array, ...} with one value per example."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    out = {f"{t}_{p}": [] for t in ROUGE_TYPES for p in PARTS}
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for t in ROUGE_TYPES:
            for p in PARTS:
                out[f"{t}_{p}"].append(getattr(scores[t], p))
    return {k: np.array(v) for k, v in out.items()}


def _bootstrap_mean(values: np.ndarray, rounds: int, rng, alpha: float) -> tuple[float, float]:
    means = values[rng.integers(0, len(values), (rounds, len(values)))].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def rouge_by_system(rows: list[dict], *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Mean ROUGE per system over the rows that have a reference and that system's output."""
    systems = sorted({s for r in rows for s in r["outputs"]})
    result = {}
    for system in systems:
        usable = [r for r in rows if r.get("reference") and system in r["outputs"]]
        if not usable:
            continue
        scores = per_example([r["outputs"][system] for r in usable], [r["reference"] for r in usable])
        rng = np.random.default_rng(seed)
        result[system] = {"n": len(usable)}
        for key, values in scores.items():
            low, high = _bootstrap_mean(values, rounds, rng, alpha)
            result[system][key] = {"mean": float(values.mean()), "ci_low": low, "ci_high": high}
    return result


def paired_comparison(rows: list[dict], first: str, second: str, *, rounds: int = 1000, seed: int = 0,
                      alpha: float = 0.05) -> dict:
    """second minus first, on the examples both answered: mean difference of each F1 with a
    paired bootstrap interval and the Wilcoxon signed-rank test."""
    from scipy.stats import wilcoxon

    usable = [r for r in rows if r.get("reference") and first in r["outputs"] and second in r["outputs"]]
    if not usable:
        return {"n": 0, "note": f"no examples with references answered by both {first} and {second}"}
    references = [r["reference"] for r in usable]
    a = per_example([r["outputs"][first] for r in usable], references)
    b = per_example([r["outputs"][second] for r in usable], references)
    rng = np.random.default_rng(seed)
    out = {"n": len(usable), "first": first, "second": second}
    for t in ROUGE_TYPES:
        diff = b[f"{t}_fmeasure"] - a[f"{t}_fmeasure"]
        low, high = _bootstrap_mean(diff, rounds, rng, alpha)
        p_value = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
        out[t] = {"mean_difference": float(diff.mean()), "ci_low": low, "ci_high": high, "wilcoxon_p": p_value}
    return out
