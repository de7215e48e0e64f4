"""Synthetic judgment rows in the export format."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.contract import Choice


def judgment(item, rater, outcome, *, left="sft", gold=False, gold_better="", evasive=(False, False),
             answers=("short answer", "a somewhat longer answer")):
    """outcome: the preferred system, or a tie / both_bad code."""
    right = "dpo" if left == "sft" else "sft"
    if outcome in (Choice.tie, Choice.both_bad):
        choice = Choice(outcome).value
    else:
        choice = Choice.a.value if outcome == left else Choice.b.value
    return {"item_id": str(item), "rater": rater, "system_a": left, "system_b": right, "choice": choice,
            "preferred_system": outcome if outcome in ("sft", "dpo") else "", "is_gold": gold,
            "gold_better": gold_better, "evasive_a": evasive[0], "evasive_b": evasive[1], "rater_simulated": False,
            "answer_a": answers[0], "answer_b": answers[1], "question": f"Q{item}", "context": ""}


@pytest.fixture
def make_judgment():
    return judgment


def synthetic_study(true_rate: float, *, items: int = 300, raters: int = 3, overlap: int = 1, seed: int = 0,
                    tie_share: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for item in range(items):
        for k in range(overlap):
            rater = f"r{(item + k) % raters}"
            u = rng.random()
            outcome = "tie" if u < tie_share else ("dpo" if rng.random() < true_rate else "sft")
            rows.append(judgment(item, rater, outcome, left="sft" if rng.random() < 0.5 else "dpo"))
    return rows
