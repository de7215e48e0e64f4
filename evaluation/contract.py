"""What a judgment is, for every kind of study: the stored codes, the export columns and the
typed rows that the app, evaluation/, training/feedback.py, the simulated raters and bench/ all
read. Each kind defines its own in evaluation/kinds/<kind>.py; this module is where callers
import them from, and where an export of any kind is parsed (the check on entry from a file).

Stored values are lower-case codes. Display labels ("A better", ...) live only in the UI
(app/ui), so renaming a label on screen changes no stored data.
"""

from __future__ import annotations

from data.records import DataError
from evaluation import kinds
from evaluation.kinds import KINDS, StudyKind, get_kind
from evaluation.kinds.base import parse_bool
from evaluation.kinds.pairwise import (
    DECISIVE,
    LEGACY_CHOICES,
    PAIRWISE_COLUMNS,
    PAIRWISE_REQUIRED,
    Choice,
    PairwiseJudgment,
    parse_choice,
    parse_pairwise,
    preferred_system,
)
from evaluation.kinds.rating import RATING_COLUMNS, RATING_REQUIRED, RatingJudgment, parse_rating
from evaluation.kinds.skip import MAX_SKIP_NOTE_CHARS, SkipReason

COLUMNS = {name: list(kind.columns) for name, kind in KINDS.items()}


def parse_export(numbered_rows, *, file: str) -> tuple[str, list]:
    """(kind name, typed rows) of an export's (line, row) pairs; the kind is read off the first
    row and every row is checked by that kind's parser."""
    kind, parsed = None, []
    for line, row in numbered_rows:
        kind = kind or kinds.kind_of_columns(row)
        parsed.append(kind.parse_row(row, file=file, line=line))
    if kind is None:
        raise DataError("the export holds no judgments", file=file)
    return kind.name, parsed


__all__ = [
    "COLUMNS", "DECISIVE", "LEGACY_CHOICES", "PAIRWISE_COLUMNS", "PAIRWISE_REQUIRED", "RATING_COLUMNS",
    "RATING_REQUIRED", "MAX_SKIP_NOTE_CHARS", "Choice", "PairwiseJudgment", "RatingJudgment", "SkipReason",
    "StudyKind", "get_kind",
    "parse_bool", "parse_choice", "parse_export", "parse_pairwise", "parse_rating", "preferred_system",
]
