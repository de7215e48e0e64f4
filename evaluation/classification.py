"""Accuracy, macro F1 and per-class F1 for label and option tasks, with intervals.

Predictions are label names (or option letters), or None when the answer could not be parsed:
None is never dropped, it counts as a wrong answer (a false negative of the gold class, a false
positive of no class). F1 of a class is 2TP / (2TP + FP + FN), 0 when that is 0/0, and macro F1
averages over the task's full label set (scikit-learn's `f1_score(labels=..., average="macro",
zero_division=0)`).

Intervals: accuracy, Wilson (examples independent); macro F1, percentile bootstrap over examples
(examples independent and exchangeable; F1 is not a mean, so no closed form).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation.metrics import Metric

#: The metrics of label and option tasks; each knows whether higher is better.
CLASSIFICATION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "share of examples answered correctly; unparseable answers count as wrong", True,
               "predictions"),
        Metric("macro_f1", "unweighted mean of the per-class F1 over the task's label set", True, "predictions"),
        Metric("per_class_f1", "F1 of each class (one-vs-rest)", True, "predictions"),
    )
}

UNPARSED = -1


def encode(values: Sequence[str | None], labels: Sequence[str]) -> np.ndarray:
    """Label names to indices into `labels`; None (unparseable) to -1. Unknown names are an error."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if value is None:
            out[i] = UNPARSED
        elif value in index:
            out[i] = index[value]
        else:
            raise ValueError(f"value {value!r} at position {i} is not one of the labels {list(labels)}")
    return out


def f1_rows(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Per-class F1 for each row of (B, n) gold and prediction matrices: shape (B, n_labels).

    One bincount over (row, gold, prediction) codes gives every row's confusion matrix at once
    (predictions shifted by one so that unparsed, -1, has a column of its own)."""
    gold, pred = np.atleast_2d(gold), np.atleast_2d(pred)
    gold, pred = np.broadcast_arrays(gold, pred)
    rows, width = pred.shape[0], n_labels * (n_labels + 1)
    codes = gold * (n_labels + 1) + (pred + 1) + (np.arange(rows) * width)[:, None]
    confusion = np.bincount(codes.ravel(), minlength=rows * width).reshape(rows, n_labels, n_labels + 1)
    classes = np.arange(n_labels)
    tp = confusion[:, classes, classes + 1]
    gold_count = confusion.sum(axis=2)
    pred_count = confusion[:, :, 1:].sum(axis=1)
    denominator = gold_count + pred_count  # 2TP + FP + FN
    return np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)


def macro_f1_rows(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> np.ndarray:
    return f1_rows(gold, pred, n_labels).mean(axis=1)


def bootstrap_rows(rounds: int, n: int, seed: int, chunk: int = 1000):
    """Yield (chunk, n) index matrices of resampled examples, `rounds` rows in all (bounded memory)."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < rounds:
        size = min(chunk, rounds - done)
        yield rng.integers(0, n, (size, n))
        done += size


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def classification_summary(gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str], *,
                           rounds: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict:
    """Accuracy (Wilson), macro F1 (bootstrap), per-class F1, unparsed count, confusion counts."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    if not gold:
        raise ValueError("no examples to score")
    g, p = encode(gold, labels), encode(predicted, labels)
    if (g == UNPARSED).any():
        raise ValueError("a gold answer is missing")
    n, correct = len(g), int((g == p).sum())
    acc_low, acc_high = wilson_interval(correct, n, alpha)
    macro = float(macro_f1_rows(g, p, len(labels))[0])
    boot = np.concatenate([macro_f1_rows(g[idx], p[idx], len(labels)) for idx in bootstrap_rows(rounds, n, seed)])
    per_class = f1_rows(g, p, len(labels))[0]
    confusion = {gl: {pl: int(((g == i) & (p == j)).sum()) for j, pl in enumerate([*labels, None])}
                 for i, gl in enumerate(labels)}
    return {
        "n": n,
        "unparsed": int((p == UNPARSED).sum()),
        "accuracy": {"value": correct / n, "ci_low": acc_low, "ci_high": acc_high, "interval": "wilson"},
        "macro_f1": {"value": macro, "ci_low": float(np.quantile(boot, alpha / 2)),
                     "ci_high": float(np.quantile(boot, 1 - alpha / 2)),
                     "interval": f"percentile bootstrap over examples, {rounds} resamples, seed {seed}"},
        "per_class_f1": {label: float(v) for label, v in zip(labels, per_class, strict=True)},
        "confusion": {gl: {("unparsed" if pl is None else pl): c for pl, c in row.items()} for gl, row in confusion.items()},
    }
