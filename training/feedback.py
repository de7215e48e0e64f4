"""Physicians' judgments -> new DPO pairs (chosen = the preferred answer, rejected = the other).

Pure functions over the judgment export rows (evaluation.contract), so the app, the command
line and the retraining loop share them. Pairwise: a clear majority of decisive votes per item
and system pair; ties and "both bad" never make a pair and count against agreement. Ratings
(training/feedback_ratings.py): per item, answers whose rubric score differs by at least a
margin, in the direction the rubric gives. Every pair carries its evidence (physicians who
judged, decisive votes, margin, agreement over all votes) and is kept only when that evidence
reaches `min_votes` and `min_agreement`. Prompts are rendered with the study's task's template
(default pubmedqa-longform); option tasks need the item's options (carried by the export or
joined from the task data by the caller).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from data.tasks import Task, load_task, render_prompt
from evaluation.kinds import kind_of_columns

DEFAULT_TASK = "pubmedqa-longform"


def feedback_task(task: Task | None) -> Task:
    """The task whose template the pairs' prompts use."""
    return task if task is not None else load_task(DEFAULT_TASK)


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
    rule: dict = field(default_factory=dict)  # how pairs were decided; written into pairs.json
    dropped: dict = field(default_factory=dict)  # reason -> unit ids (item:systems) left without a pair


def study_overlap(units: dict) -> int:
    """Physicians per unit as the study was run: the most common count of distinct raters."""
    sizes = Counter(len({r["rater"] for r in rows}) for rows in units.values())
    return max(sizes, key=lambda size: (sizes[size], size)) if sizes else 1


def default_min_votes(overlap: int) -> int:
    """Two decisive votes when the study asked two or more physicians per unit, else one."""
    return 2 if overlap >= 2 else 1


def item_options(row: dict) -> dict[str, str] | None:
    """The lettered options an export row carries ({"A": "..."}), or None."""
    options = row.get("options")
    if isinstance(options, str) and options.strip():
        import json

        options = json.loads(options)
    return dict(options) if options else None


def render_row_prompt(row: dict, task: Task) -> str:
    options = item_options(row)
    if task.output == "option" and not options:
        raise ValueError(f"item {row['item_id']!r}: task {task.name!r} shows options, and this judgment row carries "
                         "none: export the study again (exports of option tasks carry them) or give the task data")
    return render_prompt(task, question=row["question"], context=row.get("context", ""), options=options)


def make_pair(row: dict, task: Task, chosen: str, rejected: str, chosen_system: str, rejected_system: str,
              **evidence) -> dict:
    return {
        "id": row["item_id"], "prompt": render_row_prompt(row, task),
        "chosen": chosen, "rejected": rejected, "chosen_system": chosen_system, "rejected_system": rejected_system,
        "context": row.get("context") or "", **evidence, "source": "physician-feedback",
    }


def evidence_shortfall(evidence: dict, *, min_votes: int, min_agreement: float) -> str | None:
    """Why a pair's evidence is too weak to keep it, or None."""
    if evidence["decisive_votes"] < min_votes:
        return "below_min_votes"
    if evidence["agreement"] < min_agreement:
        return "below_agreement"
    return None


def _vote(row: dict) -> str:
    return row["preferred_system"] or str(row.get("choice") or "tie")


def pairs_from_judgments(
    rows: list[dict],
    *,
    min_agreement: float = 0.5,
    min_votes: int | None = None,
    min_gold_accuracy: float | None = None,
    overlap: int | None = None,
    task: Task | None = None,
) -> FeedbackResult:
    """One pair per item and system pair with a strict majority among decisive votes.

    Agreement = votes for the winner / all votes (ties and both-bad included); a pair needs
    agreement >= min_agreement and at least `min_votes` decisive votes (default: 2 when the
    study's overlap is 2 or more, else 1). Raters whose gold accuracy is below
    min_gold_accuracy are left out entirely; gold items themselves never become pairs.
    """
    task = feedback_task(task)
    accuracy = gold_accuracy(rows)
    excluded = sorted(r for r, acc in accuracy.items() if min_gold_accuracy is not None and acc < min_gold_accuracy)
    by_unit: dict[tuple[str, frozenset], list[dict]] = defaultdict(list)
    for row in rows:
        if not _truthy(row["is_gold"]) and row["rater"] not in excluded:
            by_unit[row["item_id"], frozenset((row["system_a"], row["system_b"]))].append(row)
    overlap = overlap or study_overlap(by_unit)
    min_votes = default_min_votes(overlap) if min_votes is None else min_votes
    counts, dropped, pairs = Counter(comparisons=len(by_unit)), defaultdict(list), []
    for key in sorted(by_unit, key=lambda k: (k[0], sorted(k[1]))):
        judgments = by_unit[key]
        unit = f"{key[0]}:{'/'.join(sorted(key[1]))}"
        all_votes = Counter(_vote(r) for r in judgments)
        decisive = Counter(r["preferred_system"] for r in judgments if r["preferred_system"])
        if not decisive:
            counts["no_decisive_vote"] += 1
            dropped["no_decisive_vote"].append(unit)
            continue
        (winner, top), *rest = decisive.most_common()
        runner_up = rest[0][1] if rest else 0
        if runner_up == top:
            counts["split_vote"] += 1
            dropped["split_vote"].append(unit)
            continue
        evidence = {"raters": len({r["rater"] for r in judgments}), "decisive_votes": sum(decisive.values()),
                    "margin": top - runner_up, "agreement": round(top / sum(all_votes.values()), 4),
                    "votes": dict(sorted(all_votes.items()))}
        shortfall = evidence_shortfall(evidence, min_votes=min_votes, min_agreement=min_agreement)
        if shortfall:
            counts[shortfall] += 1
            dropped[shortfall].append(unit)
            continue
        first = judgments[0]
        answers = {first["system_a"]: first["answer_a"], first["system_b"]: first["answer_b"]}
        loser = first["system_b"] if winner == first["system_a"] else first["system_a"]
        pairs.append(make_pair(first, task, answers[winner], answers[loser], winner, loser, **evidence))
    counts["pairs"] = len(pairs)
    rule = {"kind": "pairwise", "majority": "strict, among decisive votes", "min_votes": min_votes,
            "min_agreement": min_agreement, "overlap": overlap, "min_gold_accuracy": min_gold_accuracy}
    return FeedbackResult(pairs=pairs, counts=dict(counts), excluded_raters=excluded, rule=rule, dropped=dict(dropped))


def feedback_pairs(rows: list[dict], *, criterion: str | None = None, criteria: str | None = None, rubric=None,
                   margin: float = 1.0, min_agreement: float | None = None, min_votes: int | None = None,
                   overlap: int | None = None, task: Task | None = None,
                   min_gold_accuracy: float | None = None) -> FeedbackResult:
    """DPO pairs from either kind of study's export rows."""
    from training.feedback_ratings import pairs_from_ratings

    if rows and kind_of_columns(rows[0]).name == "rating":
        return pairs_from_ratings(rows, criterion=criterion, criteria=criteria, rubric=rubric, margin=margin,
                                  min_agreement=0.5 if min_agreement is None else min_agreement,
                                  min_votes=min_votes, overlap=overlap, task=task)
    if criterion or criteria:
        raise ValueError("--criterion/--criteria apply to rating studies; this export holds pairwise judgments")
    return pairs_from_judgments(rows, min_agreement=0.5 if min_agreement is None else min_agreement,
                                min_votes=min_votes, min_gold_accuracy=min_gold_accuracy, overlap=overlap, task=task)


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
