"""evaluation/ppi_report.py: the judge's sections from export rows of both rater kinds."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.ppi import ppi_mean
from evaluation.ppi_report import NOT_A_SAMPLE, judge_summary, render_text, win_rate_ppi


def _row(item, rater, preferred, kind="physician"):
    return {"item_id": f"q{item}", "rater": rater, "rater_kind": kind, "system_a": "sft", "system_b": "dpo",
            "choice": {"sft": "a", "dpo": "b", "": "tie"}[preferred], "preferred_system": preferred, "is_gold": False,
            "answer_a": "x", "answer_b": "yy", "rationale": ""}


def _study(seed=0, items=300, sampled=80):
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < 0.65
    rows = [_row(i, "judge", ("dpo" if t else "sft") if rng.random() < 0.9 else "", "model") for i, t in enumerate(truth)]
    for i in rng.permutation(items)[:sampled]:
        for k in rng.permutation(6)[:2]:
            agree = rng.random() < 0.85
            rows.append(_row(i, f"dr{k}", ("dpo" if truth[i] == agree else "sft") if rng.random() < 0.9 else ""))
    return rows


def test_ppi_is_refused_in_words_without_a_declared_sample():
    section = judge_summary(_study(), kind="pairwise", target="dpo", declared_sample=False)
    assert section["ppi"] == {"refused": NOT_A_SAMPLE} and "--physician-sample" in NOT_A_SAMPLE
    assert "PPI refused" in render_text(section)


def test_all_judgments_primary_is_the_ppi_mean_of_wins():
    rows = _study(1)
    physicians = [r for r in rows if r["rater_kind"] == "physician"]
    verdicts = [r for r in rows if r["rater_kind"] == "model"]
    out = win_rate_ppi(physicians, verdicts, "dpo", primary="all", declared_sample=True)
    judge = {r["item_id"]: float(r["preferred_system"] == "dpo") for r in verdicts}
    direct = ppi_mean([float(r["preferred_system"] == "dpo") for r in physicians],
                      [judge[r["item_id"]] for r in physicians], list(judge.values()),
                      raters=[r["rater"] for r in physicians], items=[r["item_id"] for r in physicians],
                      f_items=list(judge))
    assert out["estimate"] == pytest.approx(direct.estimate) and out["ci_low"] == pytest.approx(direct.ci_low)
    assert out["physician_judgments"] == 160 and out["model_judgments"] == 300
    assert set(out) >= {"estimate", "ci_low", "ci_high", "physician_judgments", "model_judgments", "lambda"}


def test_decisive_primary_with_a_good_judge_is_narrower_than_physicians_alone():
    section = judge_summary(_study(2), kind="pairwise", target="dpo", declared_sample=True)
    ppi = section["ppi"]
    alone = ppi["physicians_only"]
    assert ppi["lambda"] > 0
    assert ppi["ci_high"] - ppi["ci_low"] < alone["ci_high"] - alone["ci_low"]
    assert ppi["ci_low"] < ppi["estimate"] < ppi["ci_high"]
    assert 0.4 < ppi["estimate"] < 0.95
    text = render_text(section)
    assert "PPI win rate" in text and "judge vs physicians' majority" in text


def test_a_physician_item_without_a_verdict_is_refused():
    rows = _study(3) + [_row(999, "dr1", "dpo")]
    out = judge_summary(rows, kind="pairwise", target="dpo", declared_sample=True)["ppi"]
    assert "no judge verdict" in out["refused"] and "'q999'" in out["refused"]
