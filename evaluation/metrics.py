"""Metrics declared as data. Each metric says whether higher is better; a plain dict is the whole
registry. Tasks and their published reference numbers live in configs/tasks/*.yaml (data/tasks.py),
one file per task."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    higher_is_better: bool
    source: str  # which kind of data it needs: "judgments", "generations", "run"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("win_rate", "judgments preferring the system / all judgments (ties and both bad count as not winning; "
               "the paper's published 0.63 is a share of decisive votes: win_rate_decisive)", True, "judgments"),
        Metric("win_rate_ties_half", "(wins + ties/2) / all judgments; both bad counts as a tie", True, "judgments"),
        Metric("win_rate_decisive", "wins / (wins + losses): ties and both bad excluded", True, "judgments"),
        Metric("hq", "Helpfulness Quotient by the automatic detector (a screening aid; hq_physicians is primary)", True,
               "generations"),
        Metric("hq_physicians", "Helpfulness Quotient from physicians' evasive flags, per answer (1 - mean flag rate)",
               True, "judgments"),
        Metric("reward_margin", "DPO reward margin (chosen minus rejected reward) at the end of training", True, "run"),
        Metric("position_bias", "share of decisive judgments won by the left answer (0.5 = none)", False, "judgments"),
        Metric("krippendorff_alpha", "inter-rater agreement on multi-rated items", True, "judgments"),
        *(Metric(f"{t}_{p}", f"{t.upper()} {p} against the reference", True, "generations")
          for t in ("rouge1", "rouge2", "rougeL") for p in ("fmeasure", "precision", "recall")),
    )
}
