"""Metrics and tasks declared as data. Each metric says whether higher is better; a plain dict
is the whole registry. Published reference numbers live here too, to be shown side by side
with measured ones (never used as results)."""

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
        Metric("win_rate", "judgments preferring the system / all judgments (the paper's definition; its published "
               "0.63 is a share of decisive votes)", True, "judgments"),
        Metric("win_rate_ties_half", "(wins + ties/2) / all judgments; both bad counts as a tie", True, "judgments"),
        Metric("win_rate_decisive", "wins / (wins + losses): ties and both bad excluded", True, "judgments"),
        Metric("hq", "Helpfulness Quotient: share of answers that are not evasive (automatic detector)", True,
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


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    metrics: tuple[str, ...]


TASKS: dict[str, Task] = {
    "pubmedqa": Task("pubmedqa", "PubMedQA long-answer question answering, judged pairwise by physicians",
                     ("win_rate", "win_rate_ties_half", "win_rate_decisive", "hq", "hq_physicians", "reward_margin")),
    "meqsum": Task("meqsum", "MeQSum consumer health question summarization",
                   tuple(f"{t}_{p}" for t in ("rouge1", "rouge2", "rougeL") for p in ("fmeasure", "precision", "recall"))),
}

#: "Efficient Alignment of Medical Language Models using Direct Preference Optimization".
PUBLISHED = {
    "pubmedqa": {
        "base": {"label": "Unmodified BioMistral-7B", "win_rate": None, "hq": 0.81, "reward_margin": None},
        "sft": {"label": "SFT Model", "win_rate": 0.37, "hq": 0.78, "reward_margin": None},
        "dpo": {"label": "DPO Model", "win_rate": 0.63, "hq": 1.00, "reward_margin": 11},
    },
    "meqsum": {
        "sft": {"rouge1": (0.12, 0.46, 0.08), "rouge2": (0.03, 0.12, 0.02), "rougeL": (0.10, 0.36, 0.06)},
        "dpo": {"rouge1": (0.36, 0.37, 0.38), "rouge2": (0.23, 0.23, 0.24), "rougeL": (0.34, 0.35, 0.36)},
    },
}
