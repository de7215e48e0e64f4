"""`medalign train feedback --study NAME`: a study's judgments in the database -> DPO pairs."""

from __future__ import annotations

from typing import Annotated

import typer

from app.admin_cli import DB, study_judgments
from training.feedback_cli import (
    CRITERION,
    DEFAULT_TASK,
    MARGIN,
    MERGE,
    MIN_AGREEMENT,
    MIN_GOLD,
    OUT,
    TASK,
    write_feedback_pairs,
)


def feedback_command(
    study: Annotated[str, typer.Option("--study", help="The study in the database.")],
    out: OUT,
    min_agreement: MIN_AGREEMENT = 0.5,
    min_gold_accuracy: MIN_GOLD = None,
    criterion: CRITERION = None,
    margin: MARGIN = 1.0,
    merge: MERGE = None,
    task: TASK = DEFAULT_TASK,
    db: DB = None,
) -> None:
    """Physicians' judgments (pairwise votes or rubric ratings) -> new DPO pairs for the next round."""
    rows, _kind = study_judgments(study, db)
    write_feedback_pairs(rows, out, source={"study": study}, min_agreement=min_agreement,
                         min_gold_accuracy=min_gold_accuracy, criterion=criterion, margin=margin, merge=merge,
                         task=task)
