"""Answer parsing and classification metrics, checked against scikit-learn and statsmodels."""

import numpy as np
import pytest

from evaluation.classification import CLASSIFICATION_METRICS, classification_summary, encode, macro_f1_rows
from evaluation.parsing import parse_label, parse_option

sklearn_metrics = pytest.importorskip("sklearn.metrics")

OPTIONS = {"A": "Gentamicin", "B": "Ciprofloxacin", "C": "Ceftriaxone", "D": "Trimethoprim"}
URGENCY = [("emergent", ["emergency"]), ("urgent", ["same day"]), ("non-urgent", ["routine", "not urgent"])]


@pytest.mark.parametrize("text,expected", [
    ("C", "C"), ("C. Ceftriaxone", "C"), ("The answer is (C)", "C"), ("Answer: D", "D"), ("(B) because", "B"),
    ("Option A.", "A"), ("ceftriaxone, not gentamicin", "C"), ("A 21-year-old man needs Trimethoprim", "D"),
    ("the answer is a rash", None), ("I do not know", None), ("", None), ("E.", None),
])
def test_option_parsing(text, expected):
    assert parse_option(text, OPTIONS) == expected


@pytest.mark.parametrize("text,expected", [
    ("Non-urgent", "non-urgent"), ("This is not urgent.", "non-urgent"), ("URGENT", "urgent"),
    ("Emergency: call 911", "emergent"), ("urgent, not emergent", "urgent"), ("routine visit", "non-urgent"),
    ("cannot tell", None), ("   ", None),
])
def test_label_parsing(text, expected):
    assert parse_label(text, URGENCY) == expected


def test_every_metric_knows_its_direction():
    assert all(m.higher_is_better for m in CLASSIFICATION_METRICS.values())


def random_case(seed, n=200, labels=("a", "b", "c", "d", "e"), unparsed=0.1):
    rng = np.random.default_rng(seed)
    gold = rng.choice(labels, n).tolist()
    pred = [g if rng.random() < 0.6 else rng.choice(labels) for g in gold]
    pred = [None if rng.random() < unparsed else p for p in pred]
    return gold, pred, list(labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn(seed):
    gold, pred, labels = random_case(seed)
    summary = classification_summary(gold, pred, labels, rounds=200)
    as_str = ["<unparsed>" if p is None else p for p in pred]
    assert summary["accuracy"]["value"] == pytest.approx(sklearn_metrics.accuracy_score(gold, as_str))
    assert summary["macro_f1"]["value"] == pytest.approx(
        sklearn_metrics.f1_score(gold, as_str, labels=labels, average="macro", zero_division=0))
    per_class = sklearn_metrics.f1_score(gold, as_str, labels=labels, average=None, zero_division=0)
    assert list(summary["per_class_f1"].values()) == pytest.approx(per_class.tolist())
    assert summary["unparsed"] == sum(p is None for p in pred)


def test_class_never_predicted_nor_present_scores_zero_like_sklearn():
    gold, pred, labels = ["a", "a", "b"], ["a", None, "b"], ["a", "b", "c"]
    ours = classification_summary(gold, pred, labels, rounds=50)["macro_f1"]["value"]
    theirs = sklearn_metrics.f1_score(gold, ["a", "x", "b"], labels=labels, average="macro", zero_division=0)
    assert ours == pytest.approx(theirs)


def test_accuracy_interval_is_statsmodels_wilson():
    from statsmodels.stats.proportion import proportion_confint

    gold, pred, labels = random_case(3, n=57)
    summary = classification_summary(gold, pred, labels, rounds=50)
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    low, high = proportion_confint(correct, 57, method="wilson")
    assert (summary["accuracy"]["ci_low"], summary["accuracy"]["ci_high"]) == pytest.approx((low, high))


def test_macro_f1_bootstrap_interval_agrees_with_scipy_bootstrap():
    from scipy.stats import bootstrap

    gold, pred, labels = random_case(4, n=300, unparsed=0.05)
    g, p = encode(gold, labels), encode(pred, labels)
    ours = classification_summary(gold, pred, labels, rounds=4000, seed=1)["macro_f1"]
    ref = bootstrap((g, p), lambda a, b, axis=-1: macro_f1_rows(a, b, len(labels)), paired=True, vectorized=True,
                    n_resamples=4000, method="percentile", random_state=2).confidence_interval
    assert ours["ci_low"] == pytest.approx(ref.low, abs=0.012)
    assert ours["ci_high"] == pytest.approx(ref.high, abs=0.012)
    assert ours["ci_low"] < ours["value"] < ours["ci_high"]


def test_unknown_predicted_label_is_an_error():
    with pytest.raises(ValueError, match="not one of the labels"):
        classification_summary(["a"], ["z"], ["a", "b"])
