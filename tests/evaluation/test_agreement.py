"""Agreement statistics against published worked examples and statsmodels/krippendorff."""

import numpy as np
import pytest

from evaluation.agreement import agreement, cohen_kappa
from tests.evaluation.conftest import judgment


def test_cohen_kappa_hand_computed():
    # 2x2 table [[20, 5], [10, 15]]: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4
    first = ["y"] * 25 + ["n"] * 25
    second = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    result = cohen_kappa(first, second)
    assert result["kappa"] == pytest.approx(0.4)
    assert result["ci_low"] < 0.4 < result["ci_high"]


def test_fleiss_wikipedia_example():
    """Fleiss' worked example (10 subjects, 14 raters, 5 categories): kappa = 0.210."""
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    from evaluation.agreement import _fleiss

    categories = ["c0", "c1", "c2", "c3", "c4"]
    items = {}
    for i, counts in enumerate(table):
        votes, r = {}, 0
        for c, n in zip(categories, counts, strict=True):
            for _ in range(n):
                votes[f"r{r}"] = c
                r += 1
        items[str(i)] = votes
    assert _fleiss(items, categories, "fleiss") == pytest.approx(0.2099, abs=1e-4)
    # Randolph's free-marginal kappa: (Po - 1/k) / (1 - 1/k)
    n = 14
    po = np.mean([(sum(c * c for c in row) - n) / (n * (n - 1)) for row in table])
    assert _fleiss(items, categories, "randolph") == pytest.approx((po - 0.2) / 0.8)


def test_krippendorff_alpha_perfect_and_study_rows():
    rows = []
    for item in range(20):
        outcome = "dpo" if item % 3 else "sft"
        for rater, left in (("a", "sft"), ("b", "dpo"), ("c", "sft")):
            rows.append(judgment(item, rater, outcome, left=left))  # same outcome, different sides
    result = agreement(rows, rounds=200)
    assert result["items"] == 20 and result["raters_per_item"] == 3
    assert result["krippendorff_alpha"]["value"] == pytest.approx(1.0)
    assert result["fleiss_kappa"]["value"] == pytest.approx(1.0)
    assert all(p["kappa"] == pytest.approx(1.0) for p in result["cohen_kappa_pairs"])


def test_krippendorff_against_package_on_noisy_data():
    import krippendorff

    rng = np.random.default_rng(0)
    rows = []
    for item in range(30):
        truth = "dpo" if rng.random() < 0.6 else "sft"
        for rater in ("a", "b"):
            outcome = truth if rng.random() < 0.8 else ("tie" if rng.random() < 0.5 else "sft")
            rows.append(judgment(item, rater, outcome))
    result = agreement(rows, rounds=200)
    codes = {"dpo better": 0, "sft better": 1, "tie": 2, "both_bad": 3}
    from evaluation.agreement import outcome

    matrix = np.array([[codes[outcome(r)] for r in rows if r["rater"] == rater] for rater in ("a", "b")], dtype=float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert result["krippendorff_alpha"]["value"] == pytest.approx(expected)
    low, high = result["krippendorff_alpha"]["ci_low"], result["krippendorff_alpha"]["ci_high"]
    assert low <= expected <= high


def test_no_multi_rated_items():
    assert agreement([judgment(1, "a", "dpo")])["items"] == 0
