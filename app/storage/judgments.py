"""Showing a unit to its physician and storing, revising and reading back their judgment.

Pairwise judgments store a contract Choice code relative to the screen and the preferred
system derived here; rating judgments store {criterion: value} checked against the rubric.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import __version__
from app.models import Answer, Assignment, Item, Judgment, Study, Unit, User, utcnow
from app.storage.assignment import eligible_units, open_assignment, owned_assignment
from app.storage.base import StorageError, as_utc, checked_text
from app.storage.studies import study_rubric
from evaluation.contract import Choice, StudyKind, preferred_system

MAX_RATIONALE_CHARS = 5_000


class AlreadyJudged(StorageError):
    """A second, different submit for a unit already judged (a retry with the same values is fine)."""

    def __init__(self, judgment: Judgment):
        self.judgment = judgment
        # Read now: the transaction rolls back on the way out, and a rolled-back row cannot be read.
        self.choice, self.ratings = judgment.choice, json.loads(judgment.ratings) if judgment.ratings else None
        super().__init__("this was already judged; use 'Revise my last judgment' to change it")


@dataclass(frozen=True)
class Progress:
    judged: int
    total: int


@dataclass(frozen=True)
class WorkView:
    """What the judging screen shows: texts only, never a system name."""

    assignment_id: int
    token: str
    kind: StudyKind
    question: str
    context: str
    answer_a: str
    answer_b: str | None  # None in a rating study
    judged: int
    total: int


def progress(session: Session, study: Study, user: User) -> Progress:
    judged = session.exec(
        select(func.count()).select_from(Judgment).join(Assignment, Assignment.id == Judgment.assignment_id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
    ).one()
    open_now = 1 if open_assignment(session, study, user) else 0
    return Progress(judged=judged, total=judged + open_now + len(eligible_units(session, study, user)))


def _answers(session: Session, unit: Unit) -> tuple[Answer, Answer | None]:
    second = session.get(Answer, unit.answer_2_id) if unit.answer_2_id else None
    return session.get(Answer, unit.answer_1_id), second


def _stored(session: Session, assignment: Assignment) -> Judgment | None:
    return session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).first()


def show_unit(session: Session, user: User, assignment_id: int) -> WorkView:
    """Render an assignment for its physician; restarts its time-on-task clock if unjudged."""
    assignment = owned_assignment(session, user, assignment_id)
    unit = session.get(Unit, assignment.unit_id)
    item, study = session.get(Item, unit.item_id), session.get(Study, assignment.study_id)
    if _stored(session, assignment) is None:
        assignment.shown_at = utcnow()
        session.add(assignment)
    first, second = _answers(session, unit)
    if second is not None and assignment.left_system == 2:
        first, second = second, first
    done = progress(session, study, user)
    return WorkView(assignment.id, assignment.token, StudyKind(study.kind), item.question, item.context, first.text,
                    second.text if second else None, done.judged, done.total)


def _fields(session: Session, study: Study, assignment: Assignment, *, choice, ratings, evasive_a, evasive_b,
            rationale) -> dict:
    """The judgment's stored columns, checked: codes, rubric values, real booleans, text limits."""
    if not isinstance(evasive_a, bool) or not isinstance(evasive_b, bool):
        raise StorageError("the evasive flags must be true or false")
    fields = {"rationale": checked_text(rationale, "the rationale", limit=MAX_RATIONALE_CHARS).strip()}
    if study.kind == StudyKind.rating:
        if not isinstance(ratings, dict):
            raise StorageError("a rating study needs a grade for each criterion")
        try:
            values = study_rubric(study).check(ratings, fields["rationale"])
        except ValueError as exc:
            raise StorageError(str(exc)) from None
        return {**fields, "ratings": json.dumps(values, sort_keys=True), "evasive_1": evasive_a, "evasive_2": False}
    try:
        code = Choice(choice)
    except ValueError:
        raise StorageError(f"choice must be one of {[c.value for c in Choice]}") from None
    unit = session.get(Unit, assignment.unit_id)
    first, second = _answers(session, unit)
    left, right = (first, second) if assignment.left_system == 1 else (second, first)
    evasive = {left.id: evasive_a, right.id: evasive_b}
    return {**fields, "choice": code.value, "preferred_system": preferred_system(code, left.system, right.system) or None,
            "evasive_1": evasive[first.id], "evasive_2": evasive[second.id]}


def submit_judgment(session: Session, user: User, assignment_id: int, *, choice: str | None = None,
                    ratings: dict | None = None, evasive_a: bool = False, evasive_b: bool = False,
                    rationale: str = "") -> tuple[Judgment, bool]:
    """Store the judgment of an assignment; returns (judgment, created). Idempotent: a retry with
    the same values returns the stored one; different values raise AlreadyJudged."""
    assignment = owned_assignment(session, user, assignment_id)
    study = session.get(Study, assignment.study_id)
    fields = _fields(session, study, assignment, choice=choice, ratings=ratings, evasive_a=evasive_a,
                     evasive_b=evasive_b, rationale=rationale)
    existing = _stored(session, assignment)
    if existing is None:
        now = utcnow()
        existing = Judgment(assignment_id=assignment.id, app_version=__version__, created_at=now, updated_at=now,
                            time_on_task_ms=max(0, int((now - as_utc(assignment.shown_at)).total_seconds() * 1000)),
                            **fields)
        try:
            with session.begin_nested():
                session.add(existing)
            return existing, True
        except IntegrityError:  # a concurrent duplicate won the race
            existing = _stored(session, assignment)
    if any(getattr(existing, key) != value for key, value in fields.items()):
        raise AlreadyJudged(existing)
    return existing, False


def last_judged_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    return session.exec(
        select(Assignment).join(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
        .order_by(Judgment.created_at.desc(), Assignment.sequence.desc())
    ).first()


def revise_judgment(session: Session, user: User, assignment_id: int, *, choice: str | None = None,
                    ratings: dict | None = None, evasive_a: bool = False, evasive_b: bool = False,
                    rationale: str = "") -> Judgment:
    """Change the physician's most recent judgment (only that one)."""
    assignment = owned_assignment(session, user, assignment_id)
    study = session.get(Study, assignment.study_id)
    last = last_judged_assignment(session, study, user)
    if last is None or last.id != assignment.id:
        raise StorageError("only your most recent judgment can be revised")
    judgment = _stored(session, assignment)
    fields = _fields(session, study, assignment, choice=choice, ratings=ratings, evasive_a=evasive_a,
                     evasive_b=evasive_b, rationale=rationale)
    if any(getattr(judgment, key) != value for key, value in fields.items()):
        for key, value in fields.items():
            setattr(judgment, key, value)
        judgment.revisions += 1
        judgment.updated_at = utcnow()
        session.add(judgment)
    return judgment


def judgment_as_shown(session: Session, user: User, assignment_id: int) -> dict:
    """A stored judgment in screen terms (a = left), for the physician who made it."""
    assignment = owned_assignment(session, user, assignment_id)
    judgment = _stored(session, assignment)
    if judgment is None:
        raise StorageError("not judged yet")
    flags = {1: judgment.evasive_1, 2: judgment.evasive_2}
    return {
        "choice": judgment.choice,
        "ratings": json.loads(judgment.ratings) if judgment.ratings else None,
        "evasive_a": flags[assignment.left_system],
        "evasive_b": flags[3 - assignment.left_system],
        "rationale": judgment.rationale,
    }
