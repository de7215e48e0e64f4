"""evaluation/judge_validation.py: kappas against scikit-learn, agreement counted by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evaluation.judge_validation import kappa, split_raters, validate_pairwise, validate_ratings


@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_kappa_equals_scikit_learn(weights):
    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 300)
    b = np.clip(a + rng.integers(-1, 2, 300), 1, 5)
    ours = kappa(a.tolist(), b.tolist(), [1, 2, 3, 4, 5], weights)
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights, labels=[1, 2, 3, 4, 5]), abs=1e-12)


def _row(item, rater, preferred, kind="physician", replies=None, left="sft", answers=("short", "a longer answer")):
    right = "dpo" if left == "sft" else "sft"
    choice = "tie" if not preferred else ("a" if preferred == left else "b")
    row = {"item_id": str(item), "rater": rater, "rater_kind": kind, "system_a": left, "system_b": right,
           "choice": choice, "preferred_system": preferred, "is_gold": False, "answer_a": answers[0],
           "answer_b": answers[1], "rationale": ""}
    if replies is not None:
        row["rationale"] = json.dumps({"replies": replies, "order_consistent": bool(preferred) or replies[0] == "tie"})
    return row


def test_pairwise_validation_counts_agreement_by_hand():
    rows = []
    # 4 items, 2 physicians each; the judge agrees with both on items 0-1, with one on item 2, none on 3
    plan = {0: ("dpo", "dpo", "dpo"), 1: ("sft", "sft", "sft"), 2: ("dpo", "dpo", "sft"), 3: ("dpo", "sft", "sft")}
    for item, (judge, first, second) in plan.items():
        rows.append(_row(item, "judge", judge, "model", replies=["1", "2"] if judge == "sft" else ["2", "1"]))
        rows += [_row(item, "dr1", first), _row(item, "dr2", second)]
    out = validate_pairwise(rows, "dpo", seed=1)
    # majority: item 2 has dr1 dpo / dr2 sft -> tie; item 3 both sft -> loss
    assert out["judge_vs_majority"]["agreement"] == pytest.approx(2 / 4)
    assert out["judge_vs_each_physician"]["agreement"] == pytest.approx(5 / 8)
    assert out["per_physician"]["dr1"]["agreement"] == pytest.approx(3 / 4)
    assert out["per_physician"]["dr2"]["agreement"] == pytest.approx(2 / 4)
    assert out["physician_vs_other_physicians"]["agreement"] == pytest.approx(6 / 8)
    assert sum(map(sum, out["confusion"]["table"])) == 4
    judge_each = [("win" if j == "dpo" else "loss") for j, *_ in plan.values() for _ in range(2)]
    phys_each = [("win" if p == "dpo" else "loss") for _, *ps in plan.values() for p in ps]
    assert out["judge_vs_each_physician"]["kappa"] == pytest.approx(
        cohen_kappa_score(judge_each, phys_each, labels=["win", "loss", "tie"]), abs=1e-12)
    low, high = out["judge_vs_each_physician"]["agreement_ci"]
    assert low <= 5 / 8 <= high
    bias = out["bias"]
    assert bias["position"]["decisive_replies"] == 8 and bias["position"]["first_shown_share"] == pytest.approx(0.5)
    # answer b is longer in every row; the judge's decisive verdicts: dpo, sft, dpo, dpo (b = dpo)
    assert bias["length"]["judge_longer_wins"] == pytest.approx(3 / 4)
    assert bias["system"]["judge_win_rate"] == pytest.approx(3 / 4)
    assert bias["system"]["physician_win_rate"] == pytest.approx(3 / 8)


def test_model_rows_never_count_as_physicians():
    rows = [_row(0, "dr1", "dpo"), _row(0, "judge", "dpo", "model"), {**_row(1, "dr2", "sft"), "rater_kind": ""}]
    physicians, models = split_raters(rows)
    assert [r["rater"] for r in physicians] == ["dr1", "dr2"] and [r["rater"] for r in models] == ["judge"]
    assert "note" in validate_pairwise([r for r in rows if r["rater_kind"] != "model"], "dpo")


def test_rating_validation_uses_quadratic_kappa_for_likert():
    rng = np.random.default_rng(3)
    rows, judge_vals, phys_vals = [], [], []
    for item in range(60):
        truth = int(rng.integers(1, 6))
        judge = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
        rows.append({"item_id": str(item), "rater": "judge", "rater_kind": "model", "system": "dpo",
                     "criterion": "quality", "scale": "likert-5", "value": judge})
        for rater in ("dr1", "dr2"):
            value = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
            rows.append({"item_id": str(item), "rater": rater, "rater_kind": "physician", "system": "dpo",
                         "criterion": "quality", "scale": "likert-5", "value": value})
            judge_vals.append(judge)
            phys_vals.append(value)
    out = validate_ratings(rows)["quality"]
    assert out["weights"] == "quadratic"
    assert out["judge_vs_each_physician"]["kappa"] == pytest.approx(
        cohen_kappa_score(judge_vals, phys_vals, weights="quadratic", labels=[1, 2, 3, 4, 5]), abs=1e-12)
    assert out["physician_vs_physician"]["n"] == 120
