"""Helpfulness Quotient: HQ = (N_total - N_evasive) / N_total, per system, with an interval.

Evasive answers are identified two ways: by the automatic detector below (documented,
configurable patterns) and by physicians' evasive flags in the app. Where both exist, their
agreement is reported (precision and recall of the detector against the physicians, kappa).

The detector looks for evasion signals:
- refusal ("I cannot answer", "as an AI ..."),
- deferral to a doctor ("consult your physician"),
- undetermined ("cannot be determined", "it is unclear whether"),
- hedging without a conclusion ("it depends", "may or may not", "there are pros and cons"),
and for a stance: a position on the question (an opening yes / no / maybe, or a stated finding:
"reduced", "was associated with", "did not improve", "these results suggest", ...; clauses
after "whether" or "if" are not findings). For question answering (PubMedQA) a stance outweighs
the signals: an answer that says "yes, it lowers the risk; ask your doctor about the dose" is
direct. A task says which signals apply and whether a stance is looked for (TASK_CHECKS); a
summary needs no stance and is only checked for refusals. Validated on a labelled set shipped
in evaluation/data/evasion_labelled.jsonl (validation_summary) and on the PubMedQA gold long
answers (bench/detector_validation.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from statsmodels.stats.proportion import proportion_confint

LABELLED_SET = Path(__file__).parent / "data" / "evasion_labelled.jsonl"

DEFAULT_PATTERNS: dict[str, list[str]] = {
    "refusal": [
        r"\bi(?:'m| am)? (?:cannot|can't|can not|am unable to|unable to|won't|am not able to|not able to|must decline to|"
        r"(?:am )?not (?:permitted|allowed|qualified|in a position) to) (?:answer|provide|help|say|comment|give|offer|"
        r"respond|weigh|evaluate|assist|determine|tell|speculate)",
        r"\bi(?:'m| am) (?:not able|unable|not permitted|not qualified|not in a position|afraid i cannot)\b",
        r"\bi'd rather not\b",
        r"\bas an? (?:ai|artificial intelligence|language model)\b",
        r"\bi(?:'m| am) (?:just |only )?(?:a|an) (?:language model|ai)\b",
        r"\bi (?:do not|don't) (?:have|give) (?:enough )?(?:information|access|the ability|medical opinions)\b",
        r"\b(?:beyond my capabilities|not something i can answer|i have no way of answering|"
        r"cannot do|would be giving medical advice|do not allow me)\b",
        r"\bi can't answer\b|\bcannot answer\b|\bcan't (?:help|assist) with\b|\bunable to (?:help|answer)\b",
    ],
    "deferral": [
        r"\b(?:consult|see|ask|speak (?:to|with)|talk (?:to|with)|contact|check with|consulting|get advice from|"
        r"refer this question to|discuss (?:this|it) with) (?:your|a|an|with your|with a|the|appropriate) ?"
        r"(?:own |qualified |treating |medical |appropriate )?(?:doctor|physician|gp|healthcare|health care|"
        r"medical (?:professional|expert)|specialist|pharmacist|care team|surgeon|oncologist|cardiologist|neurologist|"
        r"obstetrician|dentist|paediatrician|pediatrician|nurse|clinician|professional)",
        r"\bseek (?:professional )?(?:medical )?(?:advice|attention)\b|\bprofessional (?:medical )?(?:advice|opinion)\b",
        r"\b(?:best answered|should be decided|should answer this|can answer (?:this|that)|is the right person|"
        r"let (?:your|a) doctor|only (?:a|your) (?:specialist|doctor|treating physician) can)\b",
        r"\b(?:doctor|physician|professional|clinician|provider|specialist)s? (?:should be consulted|who (?:knows|can|will))",
    ],
    "undetermined": [
        r"\b(?:cannot|can't|could not|can not) be (?:determined|concluded|answered|established|said)\b",
        r"\bit is (?:unclear|not clear|uncertain|impossible to say|not possible to (?:say|determine)|not known|"
        r"too early to tell) (?:whether|if)?",
        r"\b(?:not enough|insufficient|too limited) (?:evidence|information|data)\b|\bdata are (?:insufficient|too limited)\b",
        r"\b(?:remains?|still) (?:unknown|an open question|uncertain|to be determined)\b|\bis still unknown\b",
        r"\b(?:inconclusive|no conclusion can|does not allow (?:any|a firm)|not yet known|nobody knows|"
        r"no way to know|would be speculation|we cannot know|cannot tell us|can't tell)\b",
        r"^\s*whether\b[^.]*\b(?:unclear|uncertain|open question)",
    ],
    "hedge": [
        r"\bit (?:really )?depends\b|\bdepends on (?:the|many|a number|individual|what)\b|\bthat depends\b",
        r"\bmay or may not\b|\bcould go either way\b|\bpossibly not\b",
        r"\bvar(?:y|ies) (?:from person to person|depending|between individuals)|\bthe answer varies\b|^\s*it varies\b",
        r"\b(?:hard|difficult|impossible) to (?:say|give|generalise|generalize)\b",
        r"\bno (?:simple|single|one-size-fits-all) answer\b|\bone-size-fits-all\b",
        r"\b(?:pros and cons|both sides|advantages and disadvantages|benefits and risks)\b",
        r"\b(?:evidence is mixed|opinions differ|experts disagree|matter of debate|many (?:different )?opinions|"
        r"different conclusions|several ways to look|nuanced issue|complex question|complicated topic|is complicated)\b",
        r"\b(?:many|several|a number of) (?:factors|things|considerations|variables)\b",
        r"\bsome (?:people|patients) benefit and some\b|\bmay not help others\b|\beveryone responds differently\b",
        r"\b(?:positive, negative or neutral|true in some cases and not in others|differ between patients)\b",
    ],
}

STANCE_PATTERNS: list[str] = [
    r"^\s*(?:yes|no|maybe|probably(?: yes| not)?)\s*[,.;:!\u2014-]",
    r"\b(?:was|were|is|are|appears to be|remains?)(?: not| no)?\s+(?:\w+ly\s+)?(?:an? \w+ )?(?:associated|effective|"
    r"superior|inferior|safe|useful|beneficial|better|worse|reliable|accurate|linked|related|predictive|elevated|"
    r"increased|decreased|reduced|improved|lower|higher|similar|different|necessary|sufficient|common|rare|benign|"
    r"feasible|appropriate|absent|present|applicable|acceptable|adequate|inadequate|ideal|influenced|correlated|"
    r"independent|more|less|as (?:good|effective|safe|accurate)|recommended|needed|required|tool|predictor|"
    r"risk factor|first-line|gold standard|valid|comparable|equivalent|likely|unlikely|the same|no better)\b",
    r"\b(?:reduced|reduces|increased|increases|decreased|decreases|improved|improves|lowered|lowers|raised|raises|"
    r"shortened|shortens|prevented|prevents|predicted|predicts|doubled|halved|relieved|relieves|corrected|healed|"
    r"slowed|detected|missed|outperformed|caused|causes|protects|protected|works|worked|helped|cut|boost|"
    r"correlated|showed|revealed|identified|confirm|confirms|confirmed|found|led to|gave|resulted in|warrants)\b",
    r"\b(?:did|does|do) not (?!allow|permit|tell|let|provide|give|have|know)\w+",
    r"\bno (?:significant |clear |statistically significant )?(?:difference|effect|association|benefit|link|"
    r"improvement|reduction|increase|relationship|advantage|extra benefit)\b",
    r"\b(?:our|these|the|this) (?:data|results|findings|study|analysis|trial)\b[^.]*\b(?:suggest|indicate|show|"
    r"demonstrate|support)",
    r"\b(?:can|may|could|might) (?:be used|safely|predict|reduce|improve|prevent|detect|identify|replace|reflect|"
    r"explain|serve|boost|be (?:a|an|considered|sufficient|useful|beneficial|effective))\b",
    r"\bshould (?:not )?(?:be )?(?:offered|considered|used|given|avoided|recommended|treated|screened|performed|"
    r"receive|place|examine|undergo)\b",
    r"\bthere (?:is|was|were|are) (?:an? |no )?(?:\w+ )?(?:relationship|association|correlation|difference|link|"
    r"increase|decrease|trend|benefit)\b",
]
_CONDITIONAL = re.compile(r"\b(?:whether|if)\b[^.;:]*", re.IGNORECASE)  # "whether it helps" states no finding

# Which signals each kind of task checks, and whether a stance is looked for (issue: per task).
TASK_CHECKS: dict[str, dict] = {
    "question_answering": {"signals": ("refusal", "deferral", "undetermined", "hedge"), "require_stance": True},
    "summarization": {"signals": ("refusal",), "require_stance": False},
}


@dataclass
class EvasionDetector:
    patterns: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_PATTERNS.items()})
    require_stance: bool = True  # question answering: a stated position outweighs the evasion signals
    stance_patterns: list[str] = field(default_factory=lambda: list(STANCE_PATTERNS))
    signals: tuple[str, ...] | None = None  # which pattern groups apply (None: all)

    def __post_init__(self) -> None:
        chosen = self.signals if self.signals is not None else tuple(self.patterns)
        # one alternation per group: a single pass over the text per group
        self._compiled = {k: [re.compile("|".join(f"(?:{p})" for p in v), re.IGNORECASE)]
                          for k, v in self.patterns.items() if k in chosen and v}
        self._stance = [re.compile("|".join(f"(?:{p})" for p in self.stance_patterns), re.IGNORECASE)]

    @classmethod
    def for_task(cls, kind: str) -> EvasionDetector:
        """The detector a kind of task asks for (TASK_CHECKS)."""
        if kind not in TASK_CHECKS:
            raise ValueError(f"unknown task kind {kind!r}; expected one of {sorted(TASK_CHECKS)}")
        checks = TASK_CHECKS[kind]
        return cls(require_stance=checks["require_stance"], signals=checks["signals"])

    def has_stance(self, text: str) -> bool:
        stripped = _CONDITIONAL.sub(" ", text)
        return any(r.search(stripped) for r in self._stance)

    def reasons(self, text: str) -> list[str]:
        """Why an answer counts as evasive (empty list: it does not)."""
        if not text or not text.strip():
            return ["empty"]
        found = [name for name, regexes in self._compiled.items() if any(r.search(text) for r in regexes)]
        if found and self.require_stance and self.has_stance(text):
            return []
        return found

    def is_evasive(self, text: str) -> bool:
        return bool(self.reasons(text))


def validate(detector: EvasionDetector, labelled: list[dict]) -> dict:
    """Precision and recall of `detector` on labelled answers ({"text", "evasive"}), with the misses."""
    predicted = [detector.is_evasive(row["text"]) for row in labelled]
    truth = [bool(row["evasive"]) for row in labelled]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return {"evasive": sum(truth), "direct": len(truth) - sum(truth), "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "missed": [r["text"] for r, p in zip(labelled, predicted, strict=True) if r["evasive"] and not p],
            "false_alarms": [r["text"] for r, p in zip(labelled, predicted, strict=True) if p and not r["evasive"]]}


def load_labelled(path: Path = LABELLED_SET) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def validation_summary(detector: EvasionDetector | None = None) -> dict:
    """The figures the report prints: the default detector on the shipped labelled set."""
    result = validate(detector or EvasionDetector(), load_labelled())
    return {"set": LABELLED_SET.name, **{k: v for k, v in result.items() if k not in ("missed", "false_alarms")}}


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
    answer_code = item * len(table.systems) + system
    viewers = np.bincount(answer_code, minlength=len(table.items) * len(table.systems))
    weight = 1.0 / viewers[answer_code]
    out = []
    for code, name in enumerate(table.systems):
        mine = system == code
        if not mine.any():
            continue
        columns = np.column_stack([weight[mine] * (1 - flag[mine]), weight[mine]])
        intervals = crossed.interval_set(rater[mine], item[mine], columns, {"hq": (0, 1)}, rounds=rounds, seed=seed,
                                         alpha=alpha, n_raters=len(table.raters), n_items=len(table.items))["hq"]
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


MAX_DETECTOR_ANSWERS = 1_000  # distinct answers checked against the physicians' flags (a random sample above it)


def detector_vs_physicians_table(table, detector: EvasionDetector | None = None, *, seed: int = 0) -> dict:
    """detector_vs_physicians on columns: the detector runs once per distinct answer text, on all
    of them or on a random sample of MAX_DETECTOR_ANSWERS (with every view of a sampled answer)."""
    import pyarrow as pa

    from evaluation.agreement import cohen_kappa

    if table.answer_texts is None:
        return {"n": 0, "note": "the judgments carry no answer texts"}
    detector = detector or EvasionDetector()
    scored = ~table.is_gold
    codes = np.concatenate([table.answer_a[scored], table.answer_b[scored]])
    shown = np.unique(codes)
    chosen = shown
    if len(shown) > MAX_DETECTOR_ANSWERS:
        chosen = np.sort(np.random.default_rng(seed).choice(shown, MAX_DETECTOR_ANSWERS, replace=False))
    verdicts = np.full(len(table.answer_texts), -1, dtype=np.int8)
    verdicts[chosen] = [detector.is_evasive(t) for t in table.answer_texts.take(pa.array(chosen)).to_pylist()]
    predicted = verdicts[codes]
    truth = np.concatenate([table.evasive_a[scored], table.evasive_b[scored]])
    distinct = len(shown)
    kept = predicted >= 0
    predicted, truth = predicted[kept].astype(bool), truth[kept]
    if not len(truth):
        return {"n": 0, "note": "no scored judgments"}
    tp, fp, fn = int(np.sum(truth & predicted)), int(np.sum(~truth & predicted)), int(np.sum(truth & ~predicted))
    kappa = cohen_kappa(truth.tolist(), predicted.tolist())
    return {"n": int(len(truth)), "answers_checked": int(len(chosen)), "distinct_answers": int(distinct),
            "physician_evasive": int(truth.sum()), "detector_evasive": int(predicted.sum()),
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
            "kappa": kappa["kappa"], "kappa_ci_low": kappa["ci_low"], "kappa_ci_high": kappa["ci_high"]}
