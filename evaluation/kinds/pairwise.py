"""The pairwise kind: two answers of one item side by side, one choice.

Units: one per comparison (two systems) and item; a gold item only in the comparisons that hold
its known-better system. Stored: `choice` (a Choice code relative to the screen: `a` = left),
`preferred_system` (derived here, on entry) and the evasive flags. Export: one PairwiseJudgment
per judgment, oriented as shown. Report: evaluation.report (win rate, Bradley-Terry, bias).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from enum import StrEnum
from typing import TypedDict

from data.records import DataError
from evaluation.kinds.base import Judged, Kind, KindError, Shown, UnitPlan, parse_bool, parse_rater_kind, require, typed


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
    rater_kind: str  # "physician" or "model" (a model judge's verdict; issue 21)
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


PAIRWISE_COLUMNS: list[str] = list(PairwiseJudgment.__annotations__)
PAIRWISE_REQUIRED = ("item_id", "rater", "system_a", "system_b", "choice", "preferred_system")
_BOOLS = ("is_gold", "evasive_a", "evasive_b", "rater_simulated")


def preferred_system(choice: Choice | str, system_a: str, system_b: str) -> str:
    """The system a verdict prefers; "" for a tie or both bad."""
    return {Choice.a: system_a, Choice.b: system_b}.get(Choice(choice), "")


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
    require(row, PAIRWISE_REQUIRED, file, line)
    out = typed(row, PAIRWISE_COLUMNS)
    choice = parse_choice(row["choice"], file=file, line=line)
    expected = preferred_system(choice, row["system_a"], row["system_b"])
    if (row["preferred_system"] or "") != expected:
        raise DataError(f"preferred_system {row['preferred_system']!r} does not match choice {choice.value!r}",
                        file=file, line=line, field="preferred_system")
    out["choice"], out["preferred_system"] = choice.value, expected
    for column in _BOOLS:
        out[column] = parse_bool(row.get(column, False), file=file, line=line, field=column)
    out["gold_better"] = row.get("gold_better") or ""
    out["rater_kind"] = parse_rater_kind(row.get("rater_kind"), file=file, line=line)
    return out  # type: ignore[return-value]


def plan(systems: list[str], comparisons, rubric, has_gold: bool) -> list[tuple[str, ...]]:
    comparisons = list(itertools.combinations(systems, 2)) if comparisons is None else list(comparisons)
    if len(systems) < 2 or not comparisons:
        raise KindError("a pairwise study compares at least two systems")
    if rubric is not None:
        raise KindError("a rubric belongs to a rating study (--kind rating)")
    return [tuple(pair) for pair in comparisons]


def units(comparisons: list[tuple[str, ...]], gold_system: str | None) -> list[UnitPlan]:
    # a gold pair checks attention: it must contain the known-better answer
    return [UnitPlan(pair, is_gold=gold_system is not None) for pair in comparisons
            if gold_system is None or gold_system in pair]


def validate(values: Mapping, shown: tuple[Shown, ...], rubric) -> dict:
    try:
        code = Choice(values.get("choice"))
    except ValueError:
        raise KindError(f"choice must be one of {[c.value for c in Choice]}") from None
    left, right = shown
    return {"choice": code.value, "preferred_system": preferred_system(code, left.system, right.system) or None}


def export_rows(common: dict, judged: Judged, rubric) -> list[PairwiseJudgment]:
    left, right = judged.shown
    return [PairwiseJudgment(
        **common, is_gold=judged.is_gold, gold_better=judged.gold_system or "", system_a=left.system,
        system_b=right.system, choice=judged.choice, preferred_system=judged.preferred_system or "",
        evasive_a=judged.evasive[0], evasive_b=judged.evasive[1], answer_a=left.text, answer_b=right.text,
    )]


KIND = Kind(
    name="pairwise", description="two answers side by side, one choice", answers_per_unit=2,
    plan=plan, units=units, validate=validate, export_rows=export_rows,
    columns=tuple(PAIRWISE_COLUMNS), signature=frozenset({"system_a", "system_b"}), parse_row=parse_pairwise,
    report="evaluation.report:write_pairwise_report", report_options=("generations", "run", "target", "gold_threshold", "plan", "task"),
    reader="evaluation.table:read_judgments", panel="pairwise",
)
