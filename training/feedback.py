"""Physicians' judgments -> new DPO pairs (chosen = the preferred answer, rejected = the other).

Pure functions over the judgment export rows (evaluation.contract), so the app, the command
line and the retraining loop share them. Pairwise: a clear majority of decisive votes per item
and system pair; ties and "both bad" never make a pair. Ratings: per item, an answer rated
higher than another by at least a margin on a named criterion. Prompts are rendered with the
study's task's template (default pubmedqa-longform, the task of today's physician studies).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from data.tasks import Task, load_task, render_prompt
from evaluation.contract import StudyKind, kind_of_columns

DEFAULT_TASK = "pubmedqa-longform"


def feedback_task(task: Task | None) -> Task:
    """The task whose template the pairs' prompts use. Option tasks are refused: a judgment export
    does not carry an item's options, so their prompts could not be rebuilt."""
    task = task if task is not None else load_task(DEFAULT_TASK)
    if task.output == "option":
        raise ValueError(f"task {task.name!r} shows options that judgment exports do not carry: "
                         "feedback pairs need a free-text or label task")
    return task


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def gold_accuracy(rows: list[dict]) -> dict[str, float]:
    """Per rater: share of gold items where they preferred the known-better system."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        if _truthy(row["is_gold"]):
            hits[row["rater"]].append(row["preferred_system"] == row["gold_better"])
    return {rater: sum(v) / len(v) for rater, v in hits.items()}


@dataclass
class FeedbackResult:
    pairs: list[dict]
    counts: dict = field(default_factory=dict)
    excluded_raters: list[str] = field(default_factory=list)


def pairs_from_judgments(
    rows: list[dict],
    *,
    min_agreement: float = 0.5,
    min_gold_accuracy: float | None = None,
    task: Task | None = None,
) -> FeedbackResult:
    """One pair per item and system pair with a clear majority among decisive votes.

    Agreement = majority votes / decisive votes; an item needs agreement >= min_agreement and
    a strict majority (a 1-1 split never makes a pair). Raters whose gold accuracy is below
    min_gold_accuracy are left out entirely; gold items themselves never become pairs.
    """
    task = feedback_task(task)
    accuracy = gold_accuracy(rows)
    excluded = sorted(r for r, acc in accuracy.items() if min_gold_accuracy is not None and acc < min_gold_accuracy)
    by_comparison: dict[tuple[str, frozenset], list[dict]] = defaultdict(list)
    for row in rows:
        if not _truthy(row["is_gold"]) and row["rater"] not in excluded:
            by_comparison[row["item_id"], frozenset((row["system_a"], row["system_b"]))].append(row)

    counts = Counter(comparisons=len(by_comparison))
    pairs = []
    for key in sorted(by_comparison, key=lambda k: (k[0], sorted(k[1]))):
        judgments = by_comparison[key]
        votes = Counter(r["preferred_system"] for r in judgments if r["preferred_system"])
        if not votes:
            counts["no_decisive_vote"] += 1
            continue
        (winner, top), *rest = votes.most_common()
        if rest and rest[0][1] == top:
            counts["split_vote"] += 1
            continue
        agreement = top / sum(votes.values())
        if agreement < min_agreement:
            counts["below_agreement"] += 1
            continue
        first = judgments[0]
        answers = {first["system_a"]: first["answer_a"], first["system_b"]: first["answer_b"]}
        loser = first["system_b"] if winner == first["system_a"] else first["system_a"]
        pairs.append(_pair(first, task, answers[winner], answers[loser], winner, loser,
                           votes=dict(votes), agreement=round(agreement, 4)))
    counts["pairs"] = len(pairs)
    return FeedbackResult(pairs=pairs, counts=dict(counts), excluded_raters=excluded)


def _pair(row: dict, task: Task, chosen: str, rejected: str, chosen_system: str, rejected_system: str,
          **evidence) -> dict:
    return {
        "id": row["item_id"],
        "prompt": render_prompt(task, question=row["question"], context=row["context"], options=None),
        "chosen": chosen, "rejected": rejected, "chosen_system": chosen_system, "rejected_system": rejected_system,
        **evidence, "source": "physician-feedback",
    }


def pairs_from_ratings(rows: list[dict], *, criterion: str, margin: float = 1.0,
                       task: Task | None = None) -> FeedbackResult:
    """Per item, every two systems whose mean rating on `criterion` differs by at least `margin`
    make a pair (higher chosen). Criteria where lower is better are the caller's to invert."""
    task = feedback_task(task)
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    first_row: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row["criterion"] != criterion:
            continue
        if not str(row.get("scale", "")).startswith(("likert", "binary")):
            raise ValueError(f"criterion {criterion!r} is not graded on a number scale")
        scores[row["item_id"]][row["system"]].append(float(row["value"]))
        first_row.setdefault((row["item_id"], row["system"]), row)
    if not scores:
        raise ValueError(f"no ratings on criterion {criterion!r}")
    counts = Counter(items=len(scores))
    pairs = []
    for item_id in sorted(scores):
        means = {system: sum(v) / len(v) for system, v in scores[item_id].items()}
        ranked = sorted(means, key=lambda s: (-means[s], s))
        made = 0
        for i, better in enumerate(ranked):
            for worse in ranked[i + 1:]:
                if means[better] - means[worse] >= margin:
                    high, low = first_row[item_id, better], first_row[item_id, worse]
                    pairs.append(_pair(high, task, high["answer"], low["answer"], better, worse,
                                       criterion=criterion, means={better: means[better], worse: means[worse]}))
                    made += 1
        if not made:
            counts["below_margin"] += 1
    counts["pairs"] = len(pairs)
    return FeedbackResult(pairs=pairs, counts=dict(counts))


def feedback_pairs(rows: list[dict], *, criterion: str | None = None, margin: float = 1.0, **pairwise) -> FeedbackResult:
    """DPO pairs from either kind of study's export rows."""
    if rows and kind_of_columns(rows[0]) is StudyKind.rating:
        if not criterion:
            raise ValueError("a rating study makes pairs on one criterion: name it (--criterion)")
        return pairs_from_ratings(rows, criterion=criterion, margin=margin,
                                  **{k: v for k, v in pairwise.items() if k == "task"})
    return pairs_from_judgments(rows, **pairwise)


def merge_pairs(previous: list[dict], new: list[dict]) -> tuple[list[dict], dict]:
    """Original pairs plus feedback pairs, without duplicates (same prompt, chosen and rejected).
    For a prompt judged by physicians, their pair replaces an original pair with the same
    prompt and the opposite preference."""
    def key(pair: dict) -> tuple[str, str, str]:
        return pair["prompt"], pair["chosen"], pair["rejected"]

    new_keys = {key(p) for p in new}
    contradicted = {(p["prompt"], p["rejected"], p["chosen"]) for p in new}
    kept = [p for p in previous if key(p) not in new_keys and key(p) not in contradicted]
    counts = {"previous_pairs": len(previous), "duplicates_dropped": len(previous) - len(kept),
              "merged_pairs": len(kept) + len(new)}
    return kept + new, counts
