"""Evasion detector for the Helpfulness Quotient: a screening aid beside the physicians' flags.

Two methods, one interface (`reasons`, `is_evasive`, `reasons_many`):
- `patterns`: documented, configurable regular expressions for evasion signals (refusal,
  deferral to a doctor, undetermined, hedging) and for a stance (a position on the question:
  an opening yes / no / maybe, or a stated finding; clauses after "whether"/"if" are not
  findings). For question answering a stance outweighs the signals.
- `learned` (the default for question answering): a logistic regression on word and character
  n-grams plus the pattern groups as features, trained when first used on the development sets
  shipped in evaluation/data (`evasion_labelled.jsonl`, written with the patterns, and
  `evasion_dev.jsonl`, the development half of answers written independently of this code).
  The patterns alone caught 3 of 25 evasive answers written by an outside auditor: wording
  varies more than a list can hold.
Validation is on `evasion_test.jsonl`, the other half of the independent answers, split at
random and committed before any tuning; nothing was fitted to it (bench/detector_validation.py).
A task says which signals apply and whether a stance is looked for (TASK_CHECKS); a summary
needs no stance and is only checked for refusals, by the patterns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
LABELLED_SET = DATA / "evasion_labelled.jsonl"
DEVELOPMENT_SETS = (LABELLED_SET, DATA / "evasion_dev.jsonl")
TEST_SET = DATA / "evasion_test.jsonl"
LEARNED_THRESHOLD = 0.6  # probability of "evasive" from which an answer is flagged (chosen by cross-validation on the development sets)
METHODS = ("learned", "patterns")

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


def load_labelled(path: Path = LABELLED_SET) -> list[dict]:
    """Labelled answers ({"text" or "answer", "evasive", ...}) from a JSON Lines file, as {"text", "evasive", ...}."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row.setdefault("text", row.get("answer"))
            rows.append(row)
    return rows


def development_rows() -> list[dict]:
    return [row for path in DEVELOPMENT_SETS if path.is_file() for row in load_labelled(path)]


def _compile(patterns: list[str]) -> re.Pattern:
    # one alternation per group: a single pass over the text per group
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_STANCE = _compile(STANCE_PATTERNS)
_SIGNALS = {name: _compile(patterns) for name, patterns in DEFAULT_PATTERNS.items()}


def _lowercase_twin(regex: re.Pattern) -> re.Pattern | None:
    """The same pattern without IGNORECASE, for ASCII text lowercased first: the same matches when the
    pattern has no capital letter of its own (escapes such as \\S aside), and Python's re runs it ~1.5x
    faster (the model's features on 1,000 answers: 0.36 -> 0.23 s). None when a capital is found."""
    return None if re.search(r"(?<!\\)[A-Z]", regex.pattern) else re.compile(regex.pattern)


_FAST = {id(r): _lowercase_twin(r) for r in (_STANCE, _CONDITIONAL, *_SIGNALS.values())}


def required_literals(items) -> set[str] | None:
    """Strings of which every match of a parsed pattern (re._parser items) contains at least one;
    None when none is known. A run of literal characters is required; a group, or a repeat of at
    least once, requires what its content requires; an alternation, what each branch requires (all
    of them pooled); of a sequence's requirements the one with the longest shortest string is kept.
    Everything else (classes, anchors, optional parts, inline flags) requires nothing here."""
    from re import _constants as sre

    best, run = None, []

    def consider(found):
        nonlocal best
        if found and (best is None or min(map(len, found)) > min(map(len, best))):
            best = found

    for op, av in [*items, (None, None)]:
        if op is sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            consider({"".join(run)})
            run = []
        if op is sre.SUBPATTERN and not av[1] and not av[2]:  # (group, add_flags, del_flags, pattern)
            consider(required_literals(av[3]))
        elif op is sre.BRANCH:
            branches = [required_literals(branch) for branch in av[1]]
            if all(branches):
                consider(set().union(*branches))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            consider(required_literals(av[2]))
    return best


def _prefilter(twin: re.Pattern | None) -> tuple[str, ...] | None:
    """The literals a lowercase twin's matches need, for a check with `in` before the search, when
    all have 4 or more characters (a group of rare words: undetermined and hedge, whose searches
    were 3/4 of the groups' time on the bench's answers, 0.11 -> 0.02 s per 1,000); None otherwise."""
    if twin is None or twin.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser

        found = required_literals(_parser.parse(twin.pattern, twin.flags))
    except (ImportError, AttributeError, re.error):  # a Python whose parser moved: search every text
        return None
    return tuple(sorted(found, key=len, reverse=True)) if found and min(map(len, found)) >= 4 else None


_PREFILTER = {key: _prefilter(twin) for key, twin in _FAST.items()}


def _lowered(texts: list[str]) -> list[str | None]:
    return [t.lower() if t.isascii() else None for t in texts]


def _searched(regex: re.Pattern, texts: list[str], lowered: list[str | None]) -> list[bool]:
    twin, needs = _FAST[id(regex)], _PREFILTER[id(regex)]
    if twin is not None and needs is not None:  # a text without any of the literals cannot match
        return [bool(regex.search(t)) if low is None else any(w in low for w in needs) and bool(twin.search(low))
                for t, low in zip(texts, lowered, strict=True)]
    return [bool(regex.search(t) if low is None or twin is None else twin.search(low))
            for t, low in zip(texts, lowered, strict=True)]


def pattern_features(texts: list[str], findings: list[int] | None = None) -> np.ndarray:
    """One column per signal group and one for a stance: the patterns as features of the learned model.
    `findings`: stated_findings(texts), when the caller has them already."""
    lowered = _lowered(texts)
    columns = [_searched(regex, texts, lowered) for regex in _SIGNALS.values()]
    columns.append([found > 0 for found in (stated_findings(texts) if findings is None else findings)])
    return np.array(columns, dtype=float).T.reshape(len(texts), len(columns))


_NUMBER = re.compile(r"\d")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def stated_findings(texts: list[str]) -> list[int]:
    """How many stance matches each answer holds outside "whether"/"if" clauses (more than 0: it has a stance)."""
    stance, conditional = _FAST[id(_STANCE)], _FAST[id(_CONDITIONAL)]
    if stance is None or conditional is None:
        return [len(_STANCE.findall(_CONDITIONAL.sub(" ", t))) for t in texts]
    return [len(_STANCE.findall(_CONDITIONAL.sub(" ", t)) if low is None else stance.findall(conditional.sub(" ", low)))
            for t, low in zip(texts, _lowered(texts), strict=True)]


def shape_features(texts: list[str], findings: list[int] | None = None) -> np.ndarray:
    """Length, sentences, a number, and how many findings are stated: a real conclusion is rarely short of all four."""
    findings = stated_findings(texts) if findings is None else findings
    rows = [[np.log1p(len(t.split())), np.log1p(max(1, len(_SENTENCE_END.findall(t)))), float(bool(_NUMBER.search(t))),
             np.log1p(found)] for t, found in zip(texts, findings, strict=True)]
    return np.array(rows, dtype=float).reshape(len(texts), 4)


@lru_cache(maxsize=1)
def learned_model():
    """The classifier, trained on the development sets (deterministic: same data, same model)."""
    # scikit-learn costs ~0.5 s to import: only commands that score answers pay it
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from threadpoolctl import threadpool_limits

    rows = development_rows()
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True)),
        ("patterns", FunctionTransformer(pattern_features)),
        ("shape", FunctionTransformer(shape_features)),
    ])
    model = make_pipeline(features, LogisticRegression(C=3.0, class_weight="balanced", max_iter=3000))
    # one BLAS thread: this small fit takes 0.3 s alone and 14 s when its threads wait on a busy core
    with threadpool_limits(1):
        model.fit([r["text"] for r in rows], [bool(r["evasive"]) for r in rows])
    return model


@dataclass
class EvasionDetector:
    patterns: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_PATTERNS.items()})
    require_stance: bool = True  # question answering: a stated position outweighs the evasion signals
    stance_patterns: list[str] = field(default_factory=lambda: list(STANCE_PATTERNS))
    signals: tuple[str, ...] | None = None  # which pattern groups apply (None: all)
    method: str = "patterns"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown detector method {self.method!r}; expected one of {METHODS}")
        chosen = self.signals if self.signals is not None else tuple(self.patterns)
        self._compiled = {k: _compile(v) for k, v in self.patterns.items() if k in chosen and v}
        self._stance = _compile(self.stance_patterns)

    @classmethod
    def for_task(cls, kind: str) -> EvasionDetector:
        """The detector a kind of task asks for (TASK_CHECKS): learned for question answering."""
        if kind not in TASK_CHECKS:
            raise ValueError(f"unknown task kind {kind!r}; expected one of {sorted(TASK_CHECKS)}")
        checks = TASK_CHECKS[kind]
        method = "learned" if checks["require_stance"] else "patterns"
        return cls(require_stance=checks["require_stance"], signals=checks["signals"], method=method)

    def has_stance(self, text: str) -> bool:
        return bool(self._stance.search(_CONDITIONAL.sub(" ", text)))

    def _signals(self, text: str) -> list[str]:
        return [name for name, regex in self._compiled.items() if regex.search(text)]

    def _pattern_reasons(self, text: str) -> list[str]:
        found = self._signals(text)
        if found and self.require_stance and self.has_stance(text):
            return []
        return found

    def reasons_many(self, texts: list[str]) -> list[list[str]]:
        """Why each answer counts as evasive (an empty list: it does not); one model call for all."""
        out: list[list[str] | None] = [["empty"] if not t or not t.strip() else None for t in texts]
        pending = [i for i, r in enumerate(out) if r is None]
        if self.method == "patterns" or not pending:
            return [r if r is not None else self._pattern_reasons(t) for r, t in zip(out, texts, strict=True)]
        from evaluation.evasion_model import probabilities  # the fitted numbers, cached: no refit, no scikit-learn

        probability = probabilities([texts[i] for i in pending])
        for i, p in zip(pending, probability, strict=True):
            out[i] = (self._signals(texts[i]) or ["no_stated_position"]) if p >= LEARNED_THRESHOLD else []
        return out

    def reasons(self, text: str) -> list[str]:
        """Why an answer counts as evasive (empty list: it does not)."""
        return self.reasons_many([text])[0]

    def is_evasive(self, text: str) -> bool:
        return bool(self.reasons(text))


def validate(detector: EvasionDetector, labelled: list[dict]) -> dict:
    """Precision and recall of `detector` on labelled answers ({"text", "evasive"}), with the misses."""
    predicted = [bool(r) for r in detector.reasons_many([row["text"] for row in labelled])]
    truth = [bool(row["evasive"]) for row in labelled]
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return {"evasive": sum(truth), "direct": len(truth) - sum(truth), "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "missed": [r["text"] for r, p in zip(labelled, predicted, strict=True) if r["evasive"] and not p],
            "false_alarms": [r["text"] for r, p in zip(labelled, predicted, strict=True) if p and not r["evasive"]]}


def validation_summary(detector: EvasionDetector | None = None) -> dict:
    """The figures the report prints: the question-answering detector on the held-out test set only."""
    if not TEST_SET.is_file():
        return {"set": TEST_SET.name, "note": "no held-out test set shipped: the detector is not validated"}
    result = validate(detector or EvasionDetector.for_task("question_answering"), load_labelled(TEST_SET))
    return {"set": TEST_SET.name, "held_out": True,
            **{k: v for k, v in result.items() if k not in ("missed", "false_alarms")}}
