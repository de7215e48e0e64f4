import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from evaluation import evasion
from evaluation.helpfulness import (
    EvasionDetector,
    detector_vs_physicians,
    helpfulness_quotient,
    hq_from_generations,
    hq_from_judgments,
    hq_physicians_table,
    load_labelled,
    validate,
    validation_summary,
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
# The held-out test set is frozen: editing it after tuning would turn it into a development set.
TEST_SET_SHA256 = "5cf528aab8e0bb6bd2579e37a63e7222289dbea358a0cf3efd9687380163ef68"


def test_development_sets_are_large_and_cover_the_hard_cases():
    rows = load_labelled()
    kinds = pd.Series([r["kind"] for r in rows]).value_counts()
    assert sum(r["evasive"] for r in rows) >= 150 and sum(not r["evasive"] for r in rows) >= 150
    assert len({r["text"] for r in rows}) == len(rows)
    for kind in ("refusal", "deferral", "hedge", "undetermined", "direct", "doctor", "uncertain"):
        assert kinds[kind] >= 30, kind


def test_test_set_is_frozen_independent_and_disjoint_from_development():
    assert hashlib.sha256(evasion.TEST_SET.read_bytes()).hexdigest() == TEST_SET_SHA256
    test = load_labelled(evasion.TEST_SET)
    assert len(test) == 80 and sum(r["evasive"] for r in test) == 40
    assert all("independently" in r["source"] for r in test)
    development = {r["text"].strip().lower() for r in evasion.development_rows()}
    assert not development & {r["text"].strip().lower() for r in test}


def test_pattern_detector_still_fits_the_set_it_was_written_with():
    # a development figure, not evidence: the patterns were tuned on this set
    result = validate(EvasionDetector(), load_labelled())
    assert result["precision"] >= 0.9 and result["recall"] >= 0.9


def test_held_out_figures_match_scikit_learn_and_beat_the_patterns():
    from sklearn.metrics import precision_score, recall_score

    test = load_labelled(evasion.TEST_SET)
    truth = [r["evasive"] for r in test]
    learned = EvasionDetector.for_task("question_answering")
    predicted = [learned.is_evasive(r["text"]) for r in test]
    summary = validation_summary()
    assert summary["held_out"] and summary["set"] == "evasion_test.jsonl"
    assert summary["precision"] == pytest.approx(precision_score(truth, predicted))
    assert summary["recall"] == pytest.approx(recall_score(truth, predicted))
    patterns = validate(EvasionDetector(), test)
    # measured once on the frozen set (bench/detector_validation.py): learned 1.000 / 0.675, patterns 1.000 / 0.100
    assert summary["recall"] > patterns["recall"] + 0.3 and summary["precision"] >= 0.9


def test_learned_detector_catches_the_auditors_examples():
    detector = EvasionDetector.for_task("question_answering")
    assert detector.is_evasive("More studies are needed.")
    assert detector.is_evasive("The evidence is conflicting.")
    assert not detector.is_evasive("Yes. Early mobilisation shortened the hospital stay by two days.")
    assert detector.reasons_many(["", "Consult your doctor."])[0] == ["empty"]


@pytest.mark.skipif(not PUBMEDQA.is_file(), reason="../shared/data/pubmedqa is not available")
def test_detector_rarely_flags_real_expert_conclusions():
    answers = [v["LONG_ANSWER"] for v in json.loads(PUBMEDQA.read_text()).values()]
    flagged = sum(bool(why) for why in EvasionDetector.for_task("question_answering").reasons_many(answers))
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
        assert result[system]["flagged_by_any"] == int((views[views.system == system].groupby("item")["flag"].max()).sum())
        low, high = result[system]["item_clustered"]["ci_low"], result[system]["item_clustered"]["ci_high"]
        assert low <= result[system]["hq"] <= high
        assert result[system]["headline"]["method"] == "two_way_robust"
