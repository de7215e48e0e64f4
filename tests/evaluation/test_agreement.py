"""Agreement statistics against published worked examples and statsmodels/krippendorff."""

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa

from evaluation.agreement import agreement, cohen_kappa, fleiss_from_counts
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
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_from_counts(table, "fleiss") == pytest.approx(0.2099, abs=1e-4)
    assert fleiss_from_counts(table, "fleiss") == pytest.approx(fleiss_kappa(table, method="fleiss"))
    assert fleiss_from_counts(table, "randolph") == pytest.approx(fleiss_kappa(table, method="randolph"))
    # weights of 1 for every unit reproduce the plain value; weight 2 on a unit equals duplicating it
    weights = np.ones((2, 10))
    weights[1, 0] = 2
    doubled = np.vstack([table, table[:1]])
    assert fleiss_from_counts(table, "fleiss", weights) == pytest.approx(
        [fleiss_kappa(table), fleiss_kappa(doubled)])


def study_rows(seed=0, items=30, raters=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(items):
        truth = "dpo" if rng.random() < 0.6 else "sft"
        for rater in raters:
            outcome = truth if rng.random() < 0.7 else ["tie", "both_bad", "sft", "dpo"][rng.integers(4)]
            rows.append(judgment(item, rater, outcome, left="sft" if rng.random() < 0.5 else "dpo"))
    return rows


def category(row):  # system terms: dpo < sft alphabetically, so dpo is "first"
    return {"dpo": 0, "sft": 1}.get(row["preferred_system"], 2 if row["choice"] == "tie" else 3)


def test_kappas_and_alpha_against_statsmodels_and_krippendorff():
    rows = study_rows()
    result = agreement(rows, rounds=200)
    raters = ("a", "b", "c")
    matrix = np.array([[category(r) for r in rows if r["rater"] == rater] for rater in raters], dtype=float)
    assert result["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    counts = np.zeros((30, 4))
    for j in range(30):
        for value in matrix[:, j]:
            counts[j, int(value)] += 1
    assert result["fleiss_kappa"]["value"] == pytest.approx(fleiss_kappa(counts, method="fleiss"))
    # Randolph's kappa counts the 4 categories a comparison offers, even when one is never used
    assert result["randolph_kappa"]["value"] == pytest.approx(fleiss_kappa(counts, method="randolph"))
    assert result["categories"] == ["first better", "second better", "tie", "both_bad"]
    for key in ("fleiss_kappa", "randolph_kappa", "krippendorff_alpha"):
        assert result[key]["ci_low"] <= result[key]["value"] <= result[key]["ci_high"]


def test_only_final_judgment_counts():
    rows = study_rows(items=10)
    revised = [dict(r, updated_at="2026-01-01T00:00:00") for r in rows]
    first_try = {**revised[0], "choice": "tie", "preferred_system": "", "updated_at": "2025-12-31T00:00:00"}
    assert agreement(revised + [first_try], rounds=50)["krippendorff_alpha"]["value"] == pytest.approx(
        agreement(revised, rounds=50)["krippendorff_alpha"]["value"])


def test_perfect_agreement_across_sides():
    rows = []
    for item in range(20):
        outcome = "dpo" if item % 3 else "sft"
        for rater, left in (("a", "sft"), ("b", "dpo"), ("c", "sft")):
            rows.append(judgment(item, rater, outcome, left=left))  # same outcome, different sides
    result = agreement(rows, rounds=200)
    assert result["units"] == 20 and result["raters_per_unit"] == 3
    assert result["krippendorff_alpha"]["value"] == pytest.approx(1.0)
    assert result["fleiss_kappa"]["value"] == pytest.approx(1.0)
    assert all(p["kappa"] == pytest.approx(1.0) for p in result["cohen_kappa_pairs"])


def test_no_multi_rated_items():
    assert agreement([judgment(1, "a", "dpo")])["items"] == 0


def test_item_weights_equal_duplicating_each_items_units():
    rng = np.random.default_rng(1)
    counts = rng.multinomial(4, [0.5, 0.2, 0.2, 0.1], size=12).astype(float)
    groups = np.repeat(np.arange(6), 2)  # two comparisons per item
    weights = np.array([[1, 0, 2, 1, 1, 1.0]])
    duplicated = np.vstack([counts[groups == g] for g, w in enumerate(weights[0]) for _ in range(int(w))])
    assert fleiss_from_counts(counts, "fleiss", weights, groups)[0] == pytest.approx(fleiss_kappa(duplicated))
    assert fleiss_from_counts(counts, "randolph", weights, groups)[0] == pytest.approx(
        fleiss_kappa(duplicated, method="randolph"))


def test_cohen_kappa_on_arrays_equals_sklearn_and_the_list_form():
    """The vectorised label coding (issue 26) gives sklearn's kappa on numpy arrays, and the same
    result for the same labels given as lists, text or numbers."""
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    from evaluation.agreement import cohen_kappa

    rng = np.random.default_rng(3)
    first = rng.random(5_000) < 0.2
    second = np.where(rng.random(5_000) < 0.85, first, ~first)
    on_arrays = cohen_kappa(first, second)
    assert abs(on_arrays["kappa"] - cohen_kappa_score(first, second)) < 1e-12
    assert cohen_kappa(first.tolist(), second.tolist()) == on_arrays
    numbers = [1, 2, 10, 2, 10, 1]
    assert abs(cohen_kappa(numbers, [1, 2, 10, 10, 10, 2])["kappa"] - cohen_kappa_score(numbers, [1, 2, 10, 10, 10, 2])) < 1e-12
