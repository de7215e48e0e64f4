"""Helpfulness Quotient: HQ = (N_total - N_evasive) / N_total, per system, with an interval.

Evasive answers are identified two ways: by the automatic detector below (documented,
configurable patterns) and by physicians' evasive flags in the app. Where both exist, their
agreement is reported (precision and recall of the detector against the physicians, kappa).

The detector (evaluation/evasion.py) is a screening aid: the primary HQ of a system is the
physicians' evasive flags, per answer, with an interval clustered by physician and item
(hq_physicians_table). The detector's figures are reported on its held-out test set only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.distributions import proportion_confint
from evaluation.evasion import (  # noqa: F401 (the detector's names, re-exported for callers of this module)
    LABELLED_SET,
    EvasionDetector,
    load_labelled,
    validate,
    validation_summary,
)


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
    """HQ of every system in a generation file, by the automatic detector (a screening figure)."""
    detector = detector or EvasionDetector.for_task("question_answering")
    systems = sorted({s for row in rows for s in row["outputs"]})
    results = []
    for system in systems:
        texts = [row["outputs"][system] for row in rows if system in row["outputs"]]
        verdicts = detector.reasons_many(texts)
        reasons: dict[str, int] = {}
        for why in verdicts:
            for reason in why:
                reasons[reason] = reasons.get(reason, 0) + 1
        results.append(helpfulness_quotient(system, [bool(why) for why in verdicts], reasons))
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

    detector = detector or EvasionDetector.for_task("question_answering")
    truth, texts = [], []
    for row in rows:
        for side in ("a", "b"):
            answer = row.get(f"answer_{side}")
            if answer is None:
                continue
            truth.append(bool(row[f"evasive_{side}"]))
            texts.append(answer)
    predicted = [bool(why) for why in detector.reasons_many(texts)]
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
    n_systems = len(table.systems)
    # every view of an answer: left and right answers of the scored judgments, counted per (item, system)
    viewers = (np.bincount(table.item[scored] * n_systems + table.system_a[scored], minlength=len(table.items) * n_systems)
               + np.bincount(table.item[scored] * n_systems + table.system_b[scored], minlength=len(table.items) * n_systems))
    out = []
    for code, name in enumerate(table.systems):
        # this system's views, its left answers then its right ones (one system's share of the views
        # is selected from each side rather than from both sides joined: a third of the copying)
        left, right = scored & (table.system_a == code), scored & (table.system_b == code)
        item = np.concatenate([table.item[left], table.item[right]])
        if not len(item):
            continue
        rater = np.concatenate([table.rater[left], table.rater[right]])
        flags = np.concatenate([table.evasive_a[left], table.evasive_b[right]]).astype(float)
        views = 1.0 / viewers[item * n_systems + code]
        columns = np.column_stack([views * (1 - flags), views])
        intervals = crossed.interval_set(rater, item, columns, {"hq": (0, 1)}, rounds=rounds, seed=seed,
                                         alpha=alpha, n_raters=len(table.raters), n_items=len(table.items))["hq"]
        answers = int(views.sum().round())
        flagged_by_any = int(np.count_nonzero(np.bincount(item, weights=flags, minlength=len(table.items))))
        hq = intervals["estimate"]
        low, high = proportion_confint(hq * answers, answers, alpha=alpha, method="wilson")
        item_ci = intervals["methods"]["bootstrap_item"]
        out.append({"system": name, "answers": answers, "views": len(item), "flagged_by_any": flagged_by_any,
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
    detector = detector or EvasionDetector.for_task("question_answering")
    scored = ~table.is_gold
    codes = np.concatenate([table.answer_a[scored], table.answer_b[scored]])
    marked = np.zeros(len(table.answer_texts), dtype=bool)  # the answers shown, sorted (np.unique, by marking)
    marked[codes] = True
    shown = np.flatnonzero(marked).astype(codes.dtype)
    chosen = shown
    if len(shown) > MAX_DETECTOR_ANSWERS:
        chosen = np.sort(np.random.default_rng(seed).choice(shown, MAX_DETECTOR_ANSWERS, replace=False))
    verdicts = np.full(len(table.answer_texts), -1, dtype=np.int8)
    verdicts[chosen] = [bool(why) for why in detector.reasons_many(table.answer_texts.take(pa.array(chosen)).to_pylist())]
    predicted = verdicts[codes]
    truth = np.concatenate([table.evasive_a[scored], table.evasive_b[scored]])
    distinct = len(shown)
    kept = predicted >= 0
    predicted, truth = predicted[kept].astype(bool), truth[kept]
    if not len(truth):
        return {"n": 0, "note": "no scored judgments"}
    tp, fp, fn = int(np.sum(truth & predicted)), int(np.sum(~truth & predicted)), int(np.sum(truth & ~predicted))
    kappa = cohen_kappa(truth, predicted)  # the bool arrays themselves: as lists, 2M views cost ~0.2 s more
    return {"n": int(len(truth)), "answers_checked": int(len(chosen)), "distinct_answers": int(distinct),
            "physician_evasive": int(truth.sum()), "detector_evasive": int(predicted.sum()),
            "precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
            "kappa": kappa["kappa"], "kappa_ci_low": kappa["ci_low"], "kappa_ci_high": kappa["ci_high"]}
