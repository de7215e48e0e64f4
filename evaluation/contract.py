"""What a judgment is, for every kind of study: the stored codes, the export columns and the
typed rows that the app, evaluation/, training/feedback.py, the simulated raters and bench/ all
read. This is the only place these are defined.

Stored values are the lower-case codes below. Display labels ("A better", ...) live only in the
UI (app/ui), so renaming a label on screen changes no stored data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypedDict

from data.records import DataError


class StudyKind(StrEnum):
    pairwise = "pairwise"  # two answers side by side, one choice
    rating = "rating"  # one answer at a time, graded on a rubric


class Choice(StrEnum):
    """A pairwise verdict, relative to the screen: `a` is the left answer, `b` the right."""

    a = "a"
    b = "b"
    tie = "tie"
    both_bad = "both_bad"


DECISIVE = (Choice.a, Choice.b)

# Exports written before the codes existed (app 0.1) stored display text; they still load.
LEGACY_CHOICES = {"A better": Choice.a, "B better": Choice.b, "Tie": Choice.tie, "Both bad": Choice.both_bad}


class PairwiseJudgment(TypedDict):
    """One physician's verdict on one pair, oriented as shown (a = left), systems revealed."""

    study: str
    item_id: str
    rater: str
    rater_simulated: bool
    is_gold: bool
    gold_better: str  # the known-better system of a gold pair, else ""
    sequence: int
    system_a: str
    system_b: str
    choice: str  # a Choice code
    preferred_system: str  # system_a for `a`, system_b for `b`, "" otherwise
    evasive_a: bool
    evasive_b: bool
    question: str
    context: str
    reference: str
    answer_a: str
    answer_b: str
    rationale: str
    time_on_task_ms: int
    created_at: str
    updated_at: str
    revisions: int
    app_version: str


class RatingJudgment(TypedDict):
    """One physician's grade of one answer on one rubric criterion (one row per criterion)."""

    study: str
    item_id: str
    rater: str
    rater_simulated: bool
    sequence: int
    system: str
    criterion: str
    scale: str  # "likert-N", "binary" or "choice"
    value: int | str  # 1..N for likert, 0/1 for binary, the option's id for choice
    question: str
    context: str
    reference: str
    answer: str
    rationale: str  # the rubric's free text, when it has one
    time_on_task_ms: int
    created_at: str
    updated_at: str
    revisions: int
    app_version: str


PAIRWISE_COLUMNS: list[str] = list(PairwiseJudgment.__annotations__)
RATING_COLUMNS: list[str] = list(RatingJudgment.__annotations__)
COLUMNS = {StudyKind.pairwise: PAIRWISE_COLUMNS, StudyKind.rating: RATING_COLUMNS}

PAIRWISE_REQUIRED = ("item_id", "rater", "system_a", "system_b", "choice", "preferred_system")
RATING_REQUIRED = ("item_id", "rater", "system", "criterion", "value")
_BOOLS = ("is_gold", "evasive_a", "evasive_b", "rater_simulated")


def preferred_system(choice: Choice | str, system_a: str, system_b: str) -> str:
    """The system a verdict prefers; "" for a tie or both bad."""
    return {Choice.a: system_a, Choice.b: system_b}.get(Choice(choice), "")


def kind_of_columns(columns) -> StudyKind:
    """Which kind of export a header (or a row's keys) belongs to."""
    return StudyKind.rating if "criterion" in columns and "system" in columns else StudyKind.pairwise


def parse_bool(value, *, file: str = "<rows>", line: int = 0, field: str = "") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise DataError(f"expected true/false, got {value!r}", file=file, line=line, field=field)


def _require(row: Mapping, columns, file: str, line: int) -> None:
    for column in columns:
        if column not in row or row[column] is None:
            raise DataError("missing field", file=file, line=line, field=column)


def parse_choice(value, *, file: str = "<rows>", line: int = 0) -> Choice:
    if isinstance(value, str) and value in LEGACY_CHOICES:
        return LEGACY_CHOICES[value]
    try:
        return Choice(value)
    except ValueError:
        raise DataError(f"choice must be one of {[c.value for c in Choice]}, got {value!r}",
                        file=file, line=line, field="choice") from None


def parse_pairwise(row: Mapping, *, file: str = "<rows>", line: int = 0) -> PairwiseJudgment:
    """A pairwise export row, checked: the choice is a known code and agrees with preferred_system."""
    _require(row, PAIRWISE_REQUIRED, file, line)
    out = {column: row.get(column, "") for column in PAIRWISE_COLUMNS}
    out.update({k: v for k, v in row.items() if k not in out})
    out["item_id"], out["rater"] = str(row["item_id"]), str(row["rater"])
    choice = parse_choice(row["choice"], file=file, line=line)
    expected = preferred_system(choice, row["system_a"], row["system_b"])
    if (row["preferred_system"] or "") != expected:
        raise DataError(f"preferred_system {row['preferred_system']!r} does not match choice {choice.value!r}",
                        file=file, line=line, field="preferred_system")
    out["choice"], out["preferred_system"] = choice.value, expected
    for column in _BOOLS:
        out[column] = parse_bool(row.get(column, False), file=file, line=line, field=column)
    out["gold_better"] = row.get("gold_better") or ""
    return out  # type: ignore[return-value]


def parse_rating(row: Mapping, *, file: str = "<rows>", line: int = 0) -> RatingJudgment:
    """A rating export row, checked: likert and binary values are integers in their range."""
    _require(row, RATING_REQUIRED, file, line)
    out = {column: row.get(column, "") for column in RATING_COLUMNS}
    out.update({k: v for k, v in row.items() if k not in out})
    out["item_id"], out["rater"] = str(row["item_id"]), str(row["rater"])
    out["rater_simulated"] = parse_bool(row.get("rater_simulated", False), file=file, line=line, field="rater_simulated")
    scale = str(row.get("scale") or "")
    value = row["value"]
    if scale.startswith("likert-") or scale == "binary":
        top = 1 if scale == "binary" else int(scale.split("-", 1)[1])
        bottom = 0 if scale == "binary" else 1
        try:
            number = int(str(value).strip())
        except ValueError:
            raise DataError(f"expected a whole number for a {scale} criterion, got {value!r}",
                            file=file, line=line, field="value") from None
        if not bottom <= number <= top:
            raise DataError(f"{number} is outside {bottom}..{top} ({scale})", file=file, line=line, field="value")
        out["value"] = number
    else:
        out["value"] = str(value)
    return out  # type: ignore[return-value]


def parse_export(numbered_rows, *, file: str) -> tuple[StudyKind, list]:
    """(kind, typed rows) of an export's (line, row) pairs; the kind is read off the first row."""
    kind, parsed = None, []
    for line, row in numbered_rows:
        kind = kind or kind_of_columns(row)
        parse = parse_rating if kind is StudyKind.rating else parse_pairwise
        parsed.append(parse(row, file=file, line=line))
    if kind is None:
        raise DataError("the export holds no judgments", file=file)
    return kind, parsed
