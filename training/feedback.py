"""Physicians' judgments -> new DPO pairs (chosen = the preferred answer, rejected = the other).

Pure functions over the judgment export rows (app.storage.EXPORT_COLUMNS), so the app, the
command line and the retraining loop share them. Ties and "both bad" never make a pair.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from data.prompts import PUBMEDQA_TEMPLATE, render_prompt


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
    template: str = PUBMEDQA_TEMPLATE,
) -> FeedbackResult:
    """One pair per item with a clear majority among decisive votes.

    Agreement = majority votes / decisive votes; an item needs agreement >= min_agreement and
    a strict majority (a 1-1 split never makes a pair). Raters whose gold accuracy is below
    min_gold_accuracy are left out entirely; gold items themselves never become pairs.
    """
    accuracy = gold_accuracy(rows)
    excluded = sorted(r for r, acc in accuracy.items() if min_gold_accuracy is not None and acc < min_gold_accuracy)
    by_item: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if not _truthy(row["is_gold"]) and row["rater"] not in excluded:
            by_item[row["item_id"]].append(row)

    counts = Counter(items=len(by_item))
    pairs = []
    for item_id in sorted(by_item):
        judgments = by_item[item_id]
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
        pairs.append({
            "id": item_id,
            "prompt": render_prompt(template, question=first["question"], context=first["context"]),
            "chosen": answers[winner],
            "rejected": answers[loser],
            "chosen_system": winner,
            "rejected_system": loser,
            "votes": dict(votes),
            "agreement": round(agreement, 4),
            "source": "physician-feedback",
        })
    counts["pairs"] = len(pairs)
    return FeedbackResult(pairs=pairs, counts=dict(counts), excluded_raters=excluded)


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
