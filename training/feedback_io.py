"""Build feedback pairs from export rows, merge them with an earlier round, save, say what was left out.

Shared by `medalign train feedback --study` (rows from the database) and `--judgments FILE`
(rows from an export); the command modules only read their inputs and report errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from data.records import DataError
from training.feedback import DEFAULT_TASK, FeedbackResult

MAX_IDS_SHOWN = 20


def join_options(rows: list[dict], task_data: Path) -> list[dict]:
    """Give each row its item's options from prepared task data (JSONL with id and options)."""
    from data.prepare import read_examples

    options = {str(e["id"]): e.get("options") for e in read_examples(Path(task_data))}
    missing = sorted({str(r["item_id"]) for r in rows} - set(options))
    if missing:
        raise DataError(f"items {', '.join(missing[:MAX_IDS_SHOWN])} of the judgments are not in the task data",
                        file=str(task_data))
    return [dict(r, options=r.get("options") or options[str(r["item_id"])]) for r in rows]


def report_dropped(result: FeedbackResult, stream=None) -> None:
    """Every unit that made no pair, by reason, with its ids (first MAX_IDS_SHOWN per reason)."""
    stream = stream or sys.stderr
    for reason, units in sorted(result.dropped.items()):
        shown = ", ".join(units[:MAX_IDS_SHOWN]) + (f", ... ({len(units) - MAX_IDS_SHOWN} more)"
                                                    if len(units) > MAX_IDS_SHOWN else "")
        print(f"feedback: {len(units)} without a pair ({reason}): {shown}", file=stream)


def write_feedback_pairs(rows: list[dict], out: Path, *, source: dict, task: str = DEFAULT_TASK, rubric=None,
                         merge: Path | None = None, task_data: Path | None = None, overwrite: bool = False,
                         **rule) -> dict:
    """Build the pairs (rule: criterion, criteria, margin, min_votes, min_agreement, min_gold_accuracy,
    overlap), merge with an earlier pairs folder if asked, save; returns the counts. Raises ValueError
    or DataError, before anything is written. `out` is written like every --out (data/safe_output.py)."""
    from training.dpo import read_pairs
    from training.feedback import feedback_pairs, merge_pairs
    from training.pairs import save_pairs
    from training.task_data import load_stage_task, pairs_task

    rows = [r for r in rows if (r.get("rater_kind") or "physician") == "physician"]  # physicians' votes only (issue 21)
    spec = load_stage_task(task)
    if merge is not None and pairs_task(merge) not in (None, spec.name):
        raise ValueError(f"{merge} holds pairs of task {pairs_task(merge)!r}, not {spec.name!r}")
    if task_data is not None:
        rows = join_options(rows, task_data)
    result = feedback_pairs(rows, rubric=rubric, task=spec, **rule)
    pairs, counts = result.pairs, dict(result.counts, excluded_raters=result.excluded_raters)
    if merge is not None:
        try:
            previous = [dict(p, id=p.get("id", "")) for p in read_pairs(merge)]
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from exc
        pairs, merged_counts = merge_pairs(previous, result.pairs)
        counts.update(merged_counts)
    report_dropped(result)
    from data.safe_output import output_folder

    with output_folder(Path(out), overwrite=overwrite) as staging:  # a user's folder is refused; renamed into place
        save_pairs(pairs, staging, counts, source={**source, "merge": str(merge) if merge else None, "rule": result.rule,
                                                   "dropped": result.dropped, "task": spec.name, "task_version": spec.version})
    print(f"feedback pairs: {json.dumps(counts)} -> {out}", file=sys.stderr)
    return counts
