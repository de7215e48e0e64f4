import numpy as np
import pytest
import statsmodels.api as sm
from rouge_score import rouge_scorer

from evaluation.bradley_terry import bradley_terry, win_matrix
from evaluation.rouge import paired_comparison, rouge_by_system
from tests.evaluation.reference import fit_bradley_terry

ROWS = [
    {"id": "1", "reference": "What causes a chronic cough?", "outputs": {"sft": "cough", "dpo": "What causes chronic cough?"}},
    {
        "id": "2",
        "reference": "Is grapefruit safe with amlodipine?",
        "outputs": {"sft": "grapefruit juice question", "dpo": "Does grapefruit interact with amlodipine?"},
    },
    {
        "id": "3",
        "reference": "How are nosebleeds in children treated?",
        "outputs": {"sft": "nosebleeds", "dpo": "How to treat nosebleeds in children?"},
    },
]


def test_rouge_matches_rouge_score_directly():
    result = rouge_by_system(ROWS, rounds=200)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for system in ("sft", "dpo"):
        for t in ("rouge1", "rouge2", "rougeL"):
            for part in ("fmeasure", "precision", "recall"):
                direct = np.mean([getattr(scorer.score(r["reference"], r["outputs"][system])[t], part) for r in ROWS])
                assert result[system][f"{t}_{part}"]["mean"] == pytest.approx(direct)
    paired = paired_comparison(ROWS, "sft", "dpo", rounds=200)
    assert paired["n"] == 3 and paired["rouge1"]["mean_difference"] > 0


def bt_rows():
    rows = []
    for a, b, wins_a, wins_b, ties in (("base", "sft", 3, 7, 2), ("sft", "dpo", 4, 8, 2), ("base", "dpo", 2, 9, 1)):
        for _ in range(wins_a):
            rows.append({"system_a": a, "system_b": b, "preferred_system": a})
        for _ in range(wins_b):
            rows.append({"system_a": a, "system_b": b, "preferred_system": b})
        for _ in range(ties):
            rows.append({"system_a": a, "system_b": b, "preferred_system": ""})
    return rows


def test_bradley_terry_against_weighted_glm():
    rows = bt_rows()
    scores = fit_bradley_terry(rows)
    systems = sorted(scores)
    X, y, w = [], [], []
    for row in rows:  # a tie is half a win each way: two rows of weight 0.5
        x = np.zeros(len(systems))
        x[systems.index(row["system_a"])], x[systems.index(row["system_b"])] = 1, -1
        outcomes = (
            [(1.0, 1.0)]
            if row["preferred_system"] == row["system_a"]
            else [(0.0, 1.0)]
            if row["preferred_system"] == row["system_b"]
            else [(1.0, 0.5), (0.0, 0.5)]
        )
        for target, weight in outcomes:
            X.append(x[1:])  # first system anchored at 0
            y.append(target)
            w.append(weight)
    fit = sm.GLM(np.array(y), np.array(X), family=sm.families.Binomial(), freq_weights=np.array(w)).fit()
    reference = np.concatenate([[0.0], fit.params])
    reference -= reference.mean()
    assert [scores[s] for s in systems] == pytest.approx(list(reference), abs=1e-3)
    assert scores["dpo"] > scores["sft"] > scores["base"]


def test_bradley_terry_bootstrap_and_matrix():
    rows = [{**r, "item_id": str(i), "rater": f"r{i % 6}",
             "choice": "a" if r["preferred_system"] == r["system_a"] else "b" if r["preferred_system"] else "tie"}
            for i, r in enumerate(bt_rows())]
    result = bradley_terry(rows, rounds=100)
    reference = fit_bradley_terry(rows)  # L-BFGS on rows; the report fits aggregated tables by Newton
    assert result["scores"] == pytest.approx(reference, abs=1e-4)
    low, high = result["intervals"]["dpo"]
    assert low <= result["scores"]["dpo"] <= high
    matrix = win_matrix(bt_rows())
    assert matrix["dpo"]["sft"] == pytest.approx((8 + 1) / 14) and matrix["sft"]["dpo"] == pytest.approx((4 + 1) / 14)
    assert matrix["dpo"]["dpo"] is None
