"""Helpfulness Quotient: HQ = (N_total - N_evasive) / N_total, per system, with an interval.

Evasive answers are identified two ways: by the automatic detector below (documented,
configurable patterns) and by physicians' evasive flags in the app. Where both exist, their
agreement is reported (precision and recall of the detector against the physicians, kappa).

The detector calls an answer evasive when it
- refuses ("I cannot answer", "as an AI ..."),
- defers to a doctor instead of answering ("consult your physician"),
- declares the question undecidable ("cannot be determined", "it is unclear whether"),
- or (when a stance is required, as for PubMedQA) takes no position: no yes/no/maybe and no
  assertive finding ("was associated with", "did not reduce", "improved", ...), or is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from statsmodels.stats.proportion import proportion_confint

DEFAULT_PATTERNS: dict[str, list[str]] = {
    "refusal": [
        r"\bi (?:cannot|can't|can not|am unable to|won't|am not able to) (?:answer|provide|help|say|comment)",
        r"\bas an ai\b",
        r"\bi(?:'m| am) (?:just )?(?:a|an) (?:language model|ai)\b",
        r"\bi (?:do not|don't) have (?:enough )?(?:information|access)\b",
    ],
    "deferral": [
        r"\b(?:consult|see|ask|speak (?:to|with)|talk (?:to|with)|contact) (?:your|a|an) "
        r"(?:doctor|physician|gp|healthcare (?:provider|professional)|health care (?:provider|professional)|"
        r"medical professional|specialist|pharmacist)\b",
        r"\bseek (?:professional )?medical (?:advice|attention)\b",
    ],
    "undetermined": [
        r"\b(?:cannot|can't|could not|can not) be (?:determined|concluded|answered|established)\b",
        r"\bit is (?:unclear|not clear|uncertain|impossible to say) (?:whether|if)\b",
        r"\b(?:there is )?(?:not enough|insufficient) (?:evidence|information|data) to (?:say|answer|determine|conclude)\b",
    ],
}

STANCE_PATTERNS: list[str] = [
    r"^\s*(?:yes|no|maybe)\b",
    r"\b(?:yes|no|maybe)[,.;:]",
    r"\b(?:was|were|is|are|did|does|do|had|has|have)(?: not| no)?\s+(?:\w+ly\s+)?"
    r"(?:associated|effective|superior|inferior|safe|useful|beneficial|better|worse|reliable|accurate|linked|related|"
    r"predictive|elevated|increased|decreased|reduced|improved|lower|higher|similar|different|necessary|sufficient)\b",
    r"\b(?:reduced|increased|decreased|improved|lowered|raised|halved|doubled|predicted|prevented|shortened|"
    r"prolonged|caused|identified|detected|missed|outperformed)\b",
    r"\b(?:did|does|do|was|were|is|are) not\b",
    r"\bno (?:significant |clear )?(?:difference|effect|association|benefit|improvement|reduction|increase)\b",
]


@dataclass
class EvasionDetector:
    patterns: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_PATTERNS.items()})
    require_stance: bool = True  # PubMedQA: an answer must take a position
    stance_patterns: list[str] = field(default_factory=lambda: list(STANCE_PATTERNS))

    def __post_init__(self) -> None:
        self._compiled = {k: [re.compile(p, re.IGNORECASE) for p in v] for k, v in self.patterns.items()}
        self._stance = [re.compile(p, re.IGNORECASE) for p in self.stance_patterns]

    def reasons(self, text: str) -> list[str]:
        """Why an answer counts as evasive (empty list: it does not)."""
        if not text or not text.strip():
            return ["empty"]
        found = [name for name, regexes in self._compiled.items() if any(r.search(text) for r in regexes)]
        if self.require_stance and not any(r.search(text) for r in self._stance):
            found.append("no_stance")
        return found

    def is_evasive(self, text: str) -> bool:
        return bool(self.reasons(text))


@dataclass(frozen=True)
class HQ:
    system: str
    n_total: int
    n_evasive: int
    hq: float
    ci_low: float  # Wilson 95%
    ci_high: float
    reasons: dict

    def as_dict(self) -> dict:
        return {"system": self.system, "n_total": self.n_total, "n_evasive": self.n_evasive, "hq": self.hq,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "reasons": self.reasons}


def helpfulness_quotient(system: str, evasive_flags: list[bool], reasons: dict | None = None, *, alpha: float = 0.05) -> HQ:
    n = len(evasive_flags)
    if n == 0:
        raise ValueError(f"no answers for system {system!r}: HQ needs at least one")
    helpful = n - sum(evasive_flags)
    low, high = proportion_confint(helpful, n, alpha=alpha, method="wilson")
    return HQ(system, n, n - helpful, helpful / n, float(low), float(high), reasons or {})


def hq_from_generations(rows: list[dict], detector: EvasionDetector | None = None) -> list[HQ]:
    """HQ of every system in a generation file, by the automatic detector."""
    detector = detector or EvasionDetector()
    systems = sorted({s for row in rows for s in row["outputs"]})
    results = []
    for system in systems:
        flags, reasons = [], {}
        for row in rows:
            if system in row["outputs"]:
                why = detector.reasons(row["outputs"][system])
                flags.append(bool(why))
                for reason in why:
                    reasons[reason] = reasons.get(reason, 0) + 1
        results.append(helpfulness_quotient(system, flags, reasons))
    return results


def physician_flags(rows: list[dict]) -> dict[str, list[bool]]:
    """Evasive flags per system, from judgments (each judgment flags both answers it showed)."""
    flags: dict[str, list[bool]] = {}
    for row in rows:
        flags.setdefault(row["system_a"], []).append(bool(row["evasive_a"]))
        flags.setdefault(row["system_b"], []).append(bool(row["evasive_b"]))
    return flags


def hq_from_judgments(rows: list[dict]) -> list[HQ]:
    return [helpfulness_quotient(system, flags) for system, flags in sorted(physician_flags(rows).items())]


def detector_vs_physicians(rows: list[dict], detector: EvasionDetector | None = None) -> dict:
    """Precision and recall of the detector (physicians' flags as truth) and Cohen's kappa."""
    from evaluation.agreement import cohen_kappa

    detector = detector or EvasionDetector()
    truth, predicted = [], []
    for row in rows:
        for side in ("a", "b"):
            answer = row.get(f"answer_{side}")
            if answer is None:
                continue
            truth.append(bool(row[f"evasive_{side}"]))
            predicted.append(detector.is_evasive(answer))
    if not truth:
        return {"n": 0, "note": "the judgments carry no answer texts"}
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    fp = sum(p and not t for t, p in zip(truth, predicted, strict=True))
    fn = sum(t and not p for t, p in zip(truth, predicted, strict=True))
    kappa = cohen_kappa(truth, predicted)
    return {"n": len(truth), "physician_evasive": sum(truth), "detector_evasive": sum(predicted),
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
            "kappa": kappa["kappa"], "kappa_ci_low": kappa["ci_low"], "kappa_ci_high": kappa["ci_high"]}


def hq_physicians_table(table, *, rounds: int = 1000, seed: int = 0, alpha: float = 0.05) -> list[dict]:
    """Physicians' HQ per system, counting answers, not views: an answer (item, system) seen by
    several physicians is one answer with a flag rate (the share of its viewers who flagged it),
    so each view weighs 1 / viewers. HQ = 1 - mean flag rate over the system's answers. Intervals
    from evaluation.crossed; `item_clustered` is the bootstrap over items."""
    from evaluation import crossed

    scored = ~table.is_gold
    rater = np.concatenate([table.rater[scored]] * 2)
    item = np.concatenate([table.item[scored]] * 2)
    system = np.concatenate([table.system_a[scored], table.system_b[scored]])
    flag = np.concatenate([table.evasive_a[scored], table.evasive_b[scored]]).astype(float)
    answer = item * len(table.systems) + system
    _, answer_code, viewers = np.unique(answer, return_inverse=True, return_counts=True)
    weight = 1.0 / viewers[answer_code]
    out = []
    for code, name in enumerate(table.systems):
        mine = system == code
        if not mine.any():
            continue
        columns = np.column_stack([weight[mine] * (1 - flag[mine]), weight[mine]])
        intervals = crossed.interval_set(rater[mine], item[mine], columns, {"hq": (0, 1)}, rounds=rounds, seed=seed,
                                         alpha=alpha)["hq"]
        answers = int(weight[mine].sum().round())
        flagged_by_any = int(len(np.unique(answer_code[mine & (flag > 0)])))
        hq = intervals["estimate"]
        low, high = proportion_confint(hq * answers, answers, alpha=alpha, method="wilson")
        item_ci = intervals["methods"]["bootstrap_item"]
        out.append({"system": name, "answers": answers, "views": int(mine.sum()), "flagged_by_any": flagged_by_any,
                    "hq": hq, "headline": intervals["headline"], "methods": intervals["methods"],
                    "item_clustered": {"ci_low": item_ci["ci_low"], "ci_high": item_ci["ci_high"]},
                    "ci_low": float(low), "ci_high": float(high),
                    "simple_interval": "Wilson on answers, assuming answers independent"})
    return out
