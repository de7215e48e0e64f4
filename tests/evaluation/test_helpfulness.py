import pytest
from statsmodels.stats.proportion import proportion_confint

from evaluation.helpfulness import EvasionDetector, detector_vs_physicians, helpfulness_quotient, hq_from_generations, hq_from_judgments
from tests.evaluation.conftest import judgment


@pytest.mark.parametrize(("text", "reason"), [
    ("I cannot answer medical questions.", "refusal"),
    ("As an AI, I am not able to give advice.", "refusal"),
    ("Please consult your doctor about this.", "deferral"),
    ("Whether it helps cannot be determined from this abstract.", "undetermined"),
    ("It depends on many factors.", "no_stance"),
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
