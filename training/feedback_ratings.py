"""Rating studies -> DPO pairs, in the direction the rubric gives.

A criterion's direction comes from the rubric (`higher_is_better`; the study's rubric, or
`--rubric FILE` beside an export file) or from a direction column the export carries; a
criterion with no known direction is refused, so a harm grade can never pull training toward
harm. Several criteria combine only through an explicit rule, `harm_extent:-1,accuracy:+1`
(score = sum of weight x grade), checked against the rubric's directions when one is known. A
rater who graded both answers of an item casts a vote (the answer they scored higher; equal
scores are a tie); the pair's direction is the difference of mean scores.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from data.tasks import Task
from training.feedback import (
    FeedbackResult,
    default_min_votes,
    evidence_shortfall,
    feedback_task,
    make_pair,
    study_overlap,
)

_RULE_PART = re.compile(r"^\s*([a-z0-9_]+)\s*:\s*([+-]?\d+(?:\.\d+)?)\s*$")


def parse_criteria_rule(text: str) -> dict[str, float]:
    """`harm_extent:-1,accuracy:+1` -> {"harm_extent": -1.0, "accuracy": 1.0}; ValueError says what is wrong."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        match = _RULE_PART.match(part)
        if not match:
            raise ValueError(f"--criteria: {part.strip()!r} is not CRITERION:WEIGHT (e.g. harm_extent:-1,accuracy:+1)")
        name, weight = match.group(1), float(match.group(2))
        if weight == 0 or name in weights:
            raise ValueError(f"--criteria: {name!r} is repeated or has weight 0")
        weights[name] = weight
    return weights


def _row_direction(rows: list[dict], criterion: str) -> bool | None:
    for row in rows:
        if row.get("criterion") == criterion and str(row.get("higher_is_better", "")).strip() != "":
            return str(row["higher_is_better"]).strip().lower() in ("true", "1", "yes")
    return None


def criterion_weights(rows: list[dict], *, criterion: str | None, criteria: str | None, rubric) -> tuple[dict, str]:
    """The weight of each criterion in the score, and where the direction came from."""
    if bool(criterion) == bool(criteria):
        raise ValueError("a rating study makes pairs on one criterion (--criterion C) or an explicit rule of several "
                         "(--criteria harm_extent:-1,accuracy:+1): give exactly one")
    known = {c.id: c for c in rubric.criteria} if rubric is not None else {}
    if criteria:
        weights = parse_criteria_rule(criteria)
        for name, weight in weights.items():
            if rubric is not None and name not in known:
                raise ValueError(f"--criteria: the rubric {rubric.name!r} has no criterion {name!r}")
            if name in known and (weight > 0) != known[name].higher_is_better:
                better = "higher" if known[name].higher_is_better else "lower"
                raise ValueError(f"--criteria: {name}:{weight:+g} contradicts the rubric {rubric.name!r}, "
                                 f"where a {better} {name} is better")
        return weights, "explicit rule" + (f", checked against rubric {rubric.name!r}" if rubric is not None else "")
    if criterion in known:
        return {criterion: 1.0 if known[criterion].higher_is_better else -1.0}, f"rubric {rubric.name!r}"
    if rubric is not None:
        raise ValueError(f"the rubric {rubric.name!r} has no criterion {criterion!r}")
    carried = _row_direction(rows, criterion)
    if carried is None:
        raise ValueError(f"criterion {criterion!r} has no known direction (is a higher grade better or worse?): give the "
                         f"study's rubric (--rubric FILE) or an explicit rule (--criteria {criterion}:-1 or :+1)")
    return {criterion: 1.0 if carried else -1.0}, "the export's higher_is_better column"


def _scores(rows: list[dict], weights: dict[str, float]) -> tuple[dict, dict, Counter]:
    """(item, system) -> {rater: weighted score}, the first row of each answer, and counts."""
    grades: dict[tuple, dict[str, float]] = defaultdict(dict)
    first_row: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row["criterion"] not in weights:
            continue
        if not str(row.get("scale", "likert")).startswith(("likert", "binary")):
            raise ValueError(f"criterion {row['criterion']!r} is not graded on a number scale")
        grades[row["item_id"], row["system"], row["rater"]][row["criterion"]] = float(row["value"])
        first_row.setdefault((row["item_id"], row["system"]), row)
    scores: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    counts = Counter()
    for (item, system, rater), graded in grades.items():
        if set(graded) != set(weights):
            counts["incomplete_grades"] += 1  # a rater who skipped a criterion of the rule
            continue
        scores[item, system][rater] = sum(weights[c] * v for c, v in graded.items())
    return scores, first_row, counts


def _evidence(better: dict[str, float], worse: dict[str, float], margin_value: float) -> dict:
    shared = sorted(set(better) & set(worse))
    votes = Counter("better" if better[r] > worse[r] else "worse" if better[r] < worse[r] else "tie" for r in shared)
    return {"raters": len(set(better) | set(worse)), "decisive_votes": votes["better"] + votes["worse"],
            "margin": round(margin_value, 4), "agreement": round(votes["better"] / len(shared), 4) if shared else 0.0,
            "votes": dict(sorted(votes.items()))}


def pairs_from_ratings(rows: list[dict], *, criterion: str | None = None, criteria: str | None = None, rubric=None,
                       margin: float = 1.0, min_agreement: float = 0.5, min_votes: int | None = None,
                       overlap: int | None = None, task: Task | None = None) -> FeedbackResult:
    """Per item, every two systems whose mean score differs by at least `margin` make a pair (better
    chosen), kept when enough physicians who graded both answers agree (see training/feedback.py)."""
    task = feedback_task(task)
    weights, direction_from = criterion_weights(rows, criterion=criterion, criteria=criteria, rubric=rubric)
    scores, first_row, counts = _scores(rows, weights)
    if not scores:
        raise ValueError(f"no complete ratings on {', '.join(weights)}")
    overlap = overlap or study_overlap({key: [{"rater": r} for r in raters] for key, raters in scores.items()})
    min_votes = default_min_votes(overlap) if min_votes is None else min_votes
    items = sorted({item for item, _ in scores})
    counts.update(items=len(items))
    pairs, dropped = [], defaultdict(list)
    for item in items:
        means = {s: sum(v.values()) / len(v) for (i, s), v in scores.items() if i == item}
        ranked = sorted(means, key=lambda s: (-means[s], s))
        for i, better in enumerate(ranked):
            for worse in ranked[i + 1:]:
                unit = f"{item}:{better}/{worse}"
                if means[better] - means[worse] < margin:
                    counts["below_margin"] += 1
                    dropped["below_margin"].append(unit)
                    continue
                evidence = _evidence(scores[item, better], scores[item, worse], means[better] - means[worse])
                shortfall = evidence_shortfall(evidence, min_votes=min_votes, min_agreement=min_agreement)
                if shortfall:
                    counts[shortfall] += 1
                    dropped[shortfall].append(unit)
                    continue
                high, low = first_row[item, better], first_row[item, worse]
                pairs.append(make_pair(high, task, high["answer"], low["answer"], better, worse, criteria=weights,
                                       means={better: round(means[better], 4), worse: round(means[worse], 4)},
                                       **evidence))
    counts["pairs"] = len(pairs)
    rule = {"kind": "rating", "criteria": weights, "direction_from": direction_from,
            "score": "sum of weight x grade, mean over raters", "margin": margin, "min_votes": min_votes,
            "min_agreement": min_agreement, "overlap": overlap}
    return FeedbackResult(pairs=pairs, counts=dict(counts), rule=rule, dropped=dict(dropped))
