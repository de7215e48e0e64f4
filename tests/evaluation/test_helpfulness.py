import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evaluation.helpfulness import (
    EvasionDetector,
    detector_vs_physicians,
    helpfulness_quotient,
    hq_from_generations,
    hq_from_judgments,
    hq_physicians_table,
    load_labelled,
    validate,
)
from tests.evaluation.conftest import judgment


@pytest.mark.parametrize(("text", "reason"), [
    ("I cannot answer medical questions.", "refusal"),
    ("As an AI, I am not able to give advice.", "refusal"),
    ("Please consult your doctor about this.", "deferral"),
    ("Whether it helps cannot be determined from this abstract.", "undetermined"),
    ("It depends on many factors.", "hedge"),
    ("", "empty"),
])
def test_detector_flags(text, reason):
    assert reason in EvasionDetector().reasons(text)


@pytest.mark.parametrize("text", [
    "Yes. Early mobilisation shortened the hospital stay.",
    "Music during colonoscopy did not reduce sedative use.",
    "Procalcitonin was associated with bacterial aetiology.",
    "No, routine radiography rarely changed management.",
])
def test_detector_passes_direct_answers(text):
    assert EvasionDetector().reasons(text) == []


def test_detector_is_configurable():
    detector = EvasionDetector(patterns={"hedge": [r"\bperhaps\b"]}, require_stance=False)
    assert detector.reasons("Perhaps.") == ["hedge"] and detector.reasons("It depends.") == []


def test_hq_formula_and_interval():
    result = helpfulness_quotient("dpo", [False] * 81 + [True] * 19)
    assert result.hq == pytest.approx((100 - 19) / 100)
    assert (result.ci_low, result.ci_high) == pytest.approx(proportion_confint(81, 100, method="wilson"))
    with pytest.raises(ValueError, match="no answers"):
        helpfulness_quotient("x", [])


def test_hq_from_generations_and_judgments():
    rows = [{"id": "1", "outputs": {"a": "Yes, it reduced mortality.", "b": "Consult your doctor."}},
            {"id": "2", "outputs": {"a": "No, it did not help.", "b": "It is unclear whether it helps."}}]
    hq = {h.system: h for h in hq_from_generations(rows)}
    assert hq["a"].hq == 1.0 and hq["b"].hq == 0.0 and hq["b"].reasons["deferral"] == 1
    judged = [judgment(1, "r", "dpo", evasive=(True, False)), judgment(2, "r", "dpo", left="dpo", evasive=(False, False))]
    physicians = {h.system: h for h in hq_from_judgments(judged)}
    assert physicians["sft"].hq == 0.5 and physicians["dpo"].hq == 1.0


def test_detector_vs_physicians():
    rows = [judgment(1, "r", "dpo", evasive=(True, False), answers=("Consult your doctor.", "Yes, it reduced pain.")),
            judgment(2, "r", "dpo", evasive=(False, False), answers=("It depends.", "No, it did not help."))]
    result = detector_vs_physicians(rows)
    assert result["n"] == 4 and result["precision"] == 0.5 and result["recall"] == 1.0


PUBMEDQA = Path(__file__).resolve().parents[3] / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def test_labelled_set_is_large_and_covers_the_hard_cases():
    rows = load_labelled()
    kinds = pd.Series([r["kind"] for r in rows]).value_counts()
    assert sum(r["evasive"] for r in rows) >= 150 and sum(not r["evasive"] for r in rows) >= 150
    assert len({r["text"] for r in rows}) == len(rows)
    for kind in ("refusal", "deferral", "hedge", "undetermined", "direct", "doctor", "uncertain"):
        assert kinds[kind] >= 30, kind


def test_detector_precision_and_recall_on_labelled_set():
    result = validate(EvasionDetector(), load_labelled())
    # checked by hand-counting with scikit-learn as the reference
    from sklearn.metrics import precision_score, recall_score

    rows = load_labelled()
    predicted = [EvasionDetector().is_evasive(r["text"]) for r in rows]
    truth = [r["evasive"] for r in rows]
    assert result["precision"] == pytest.approx(precision_score(truth, predicted))
    assert result["recall"] == pytest.approx(recall_score(truth, predicted))
    assert result["precision"] >= 0.9 and result["recall"] >= 0.9


@pytest.mark.skipif(not PUBMEDQA.is_file(), reason="../shared/data/pubmedqa is not available")
def test_detector_rarely_flags_real_expert_conclusions():
    answers = [v["LONG_ANSWER"] for v in json.loads(PUBMEDQA.read_text()).values()]
    flagged = sum(EvasionDetector().is_evasive(a) for a in answers)
    assert len(answers) == 1000 and flagged / len(answers) <= 0.05


def test_stance_check_is_per_task():
    summary = "Should I see a doctor about a cough that has lasted a month?"
    assert EvasionDetector.for_task("summarization").reasons(summary) == []
    assert EvasionDetector.for_task("summarization").reasons("I cannot answer that.") == ["refusal"]
    assert EvasionDetector.for_task("question_answering").reasons("Consult your doctor.") == ["deferral"]
    assert EvasionDetector.for_task("question_answering").reasons("Yes, it lowers the risk; ask your doctor about the dose.") == []
    with pytest.raises(ValueError, match="unknown task kind"):
        EvasionDetector.for_task("poetry")


def test_physicians_hq_counts_answers_not_views():
    from evaluation.table import from_rows

    rng = np.random.default_rng(4)
    rows = []
    for item in range(40):
        for rater in rng.choice(6, size=int(rng.integers(1, 4)), replace=False):
            rows.append(judgment(item, f"r{rater}", "dpo", left="sft" if item % 2 else "dpo",
                                 evasive=(bool(rng.random() < 0.3), bool(rng.random() < 0.1))))
    result = {h["system"]: h for h in hq_physicians_table(from_rows(rows), rounds=300)}
    # independent reference: pandas, one flag rate per (item, system) answer
    views = pd.DataFrame([{"item": r["item_id"], "system": r[f"system_{s}"], "flag": r[f"evasive_{s}"]}
                          for r in rows for s in ("a", "b")])
    per_answer = views.groupby(["system", "item"])["flag"].mean()
    for system in ("sft", "dpo"):
        assert result[system]["hq"] == pytest.approx(1 - per_answer[system].mean())
        assert result[system]["answers"] == 40
        assert result[system]["views"] == len(rows)
        low, high = result[system]["item_clustered"]["ci_low"], result[system]["item_clustered"]["ci_high"]
        assert low <= result[system]["hq"] <= high
        assert result[system]["headline"]["method"] == "two_way_robust"
