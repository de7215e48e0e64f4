"""The rating kind: one answer at a time, graded on a rubric (evaluation/rubric.py).

Units: one per system and item; no gold items. Stored: `ratings`, {criterion id: value} checked
against the study's rubric on entry. Export: one RatingJudgment per rated criterion. Report:
evaluation.rating_report (means, intervals, paired tests and agreement per criterion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from data.records import DataError
from evaluation.kinds.base import Judged, Kind, KindError, Shown, UnitPlan, parse_bool, parse_rater_kind, require, typed


class RatingJudgment(TypedDict):
    """One physician's grade of one answer on one rubric criterion (one row per criterion)."""

    study: str
    item_id: str
    rater: str
    rater_simulated: bool
    rater_kind: str  # "physician" or "model" (a model judge's grade; issue 21)
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


RATING_COLUMNS: list[str] = list(RatingJudgment.__annotations__)
RATING_REQUIRED = ("item_id", "rater", "system", "criterion", "value")


def parse_rating(row: Mapping, *, file: str = "<rows>", line: int = 0) -> RatingJudgment:
    """A rating export row, checked: likert and binary values are integers in their range."""
    require(row, RATING_REQUIRED, file, line)
    out = typed(row, RATING_COLUMNS)
    out["rater_simulated"] = parse_bool(row.get("rater_simulated", False), file=file, line=line, field="rater_simulated")
    out["rater_kind"] = parse_rater_kind(row.get("rater_kind"), file=file, line=line)
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


def plan(systems: list[str], comparisons, rubric, has_gold: bool) -> list[tuple[str, ...]]:
    if rubric is None:
        raise KindError("--rubric is needed: a rating study needs a rubric (--rubric RUBRIC.yaml)")
    if has_gold:
        raise KindError("gold (attention-check) items are for pairwise studies")
    return [(system,) for system in systems]


def units(comparisons: list[tuple[str, ...]], gold_system: str | None) -> list[UnitPlan]:
    return [UnitPlan(systems) for systems in comparisons]


def validate(values: Mapping, shown: tuple[Shown, ...], rubric) -> dict:
    """{"ratings": {criterion: stored value}}: complete and in range for the study's rubric."""
    ratings = values.get("ratings")
    if not isinstance(ratings, dict):
        raise KindError("a rating study needs a grade for each criterion")
    try:
        return {"ratings": rubric.check(ratings, values.get("rationale", ""))}
    except ValueError as exc:
        raise KindError(str(exc)) from None


def export_rows(common: dict, judged: Judged, rubric) -> list[RatingJudgment]:
    (answer,) = judged.shown
    return [RatingJudgment(**common, system=answer.system, criterion=criterion_id,
                           scale=rubric.criterion(criterion_id).scale_code, value=value, answer=answer.text)
            for criterion_id, value in (judged.ratings or {}).items()]


KIND = Kind(
    name="rating", description="one answer at a time, graded on a rubric", answers_per_unit=1,
    plan=plan, units=units, validate=validate, export_rows=export_rows,
    columns=tuple(RATING_COLUMNS), signature=frozenset({"system", "criterion"}), parse_row=parse_rating,
    report="evaluation.rating_report:write_rating_report", panel="rating",
)
