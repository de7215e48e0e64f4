"""`python -m training feedback --judgments EXPORT`: judgments -> DPO pairs for the next round.

`medalign train feedback --study NAME` (app/feedback_cli.py) reads the rows from the database
and shares `write_feedback_pairs` and the option types below.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from data.records import DataError
from training.feedback import DEFAULT_TASK

err = Console(stderr=True, soft_wrap=True)
app = typer.Typer(help="Physicians' judgments -> DPO pairs.", no_args_is_help=True)

OUT = Annotated[Path, typer.Option("--out", help="Pairs folder to write (for `train dpo --pairs`).")]
MIN_AGREEMENT = Annotated[float, typer.Option("--min-agreement", help="Pairwise: majority share among decisive votes.")]
MIN_GOLD = Annotated[float | None, typer.Option("--min-gold-accuracy", help="Pairwise: leave out raters below this gold accuracy.")]
CRITERION = Annotated[str | None, typer.Option("--criterion", help="Rating: the rubric criterion pairs are built on.")]
MARGIN = Annotated[float, typer.Option("--margin", help="Rating: the smallest difference of mean grades that makes a pair.")]
MERGE = Annotated[Path | None, typer.Option("--merge", help="Pairs folder to merge with (no duplicates).")]
TASK = Annotated[str, typer.Option("--task", help="The study's task (name or .yaml path): its template builds the "
                                   "pairs' prompts.")]


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def write_feedback_pairs(rows: list[dict], out: Path, *, source: dict, min_agreement: float = 0.5,
                         min_gold_accuracy: float | None = None, criterion: str | None = None, margin: float = 1.0,
                         merge: Path | None = None, task: str = DEFAULT_TASK) -> dict:
    """Build the pairs, merge them with an earlier pairs folder if asked, save; returns the counts."""
    from training.dpo import read_pairs
    from training.feedback import feedback_pairs, merge_pairs
    from training.pairs import save_pairs
    from training.task_data import load_stage_task, pairs_task

    try:
        spec = load_stage_task(task)
        if merge is not None and pairs_task(merge) not in (None, spec.name):
            raise ValueError(f"{merge} holds pairs of task {pairs_task(merge)!r}, not {spec.name!r}")
        result = feedback_pairs(rows, criterion=criterion, margin=margin, min_agreement=min_agreement,
                                min_gold_accuracy=min_gold_accuracy, task=spec)
    except (ValueError, DataError) as exc:
        raise fail(str(exc)) from exc
    pairs, counts = result.pairs, dict(result.counts, excluded_raters=result.excluded_raters)
    if merge is not None:
        try:
            previous = [dict(p, id=p.get("id", "")) for p in read_pairs(merge)]
        except (FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from exc
        pairs, merged_counts = merge_pairs(previous, result.pairs)
        counts.update(merged_counts)
    save_pairs(pairs, out, counts, source={**source, "merge": str(merge) if merge else None,
                                           "task": spec.name, "task_version": spec.version})
    err.print(f"feedback pairs: {json.dumps(counts)} -> {out}")
    return counts


@app.command("feedback")
def feedback(
    judgments: Annotated[Path, typer.Option("--judgments", help="A judgment export (`medalign export`), .csv or .jsonl.")],
    out: OUT,
    min_agreement: MIN_AGREEMENT = 0.5,
    min_gold_accuracy: MIN_GOLD = None,
    criterion: CRITERION = None,
    margin: MARGIN = 1.0,
    merge: MERGE = None,
    task: TASK = DEFAULT_TASK,
) -> None:
    """Judgments from an export file -> new DPO pairs (`train dpo --pairs OUT`)."""
    from evaluation.judgments import read_export

    try:
        rows = read_export(judgments)[1]
    except DataError as exc:
        raise fail(str(exc)) from exc
    write_feedback_pairs(rows, out, source={"judgments": str(judgments)}, min_agreement=min_agreement,
                         min_gold_accuracy=min_gold_accuracy, criterion=criterion, margin=margin, merge=merge,
                         task=task)
