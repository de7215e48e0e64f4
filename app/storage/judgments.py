"""Showing a unit to its physician and storing, revising and reading back their judgment.

A judgment enters here in screen terms ("Answer A" first) and is checked once, by its study's
kind (evaluation/kinds): what it stores (a pairwise choice and the preferred system derived from
it, or {criterion: value} checked against the rubric) is that kind's to say.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, select

from app import __version__
from app.models import Answer, Assignment, Item, Judgment, Study, Unit, User, utcnow
from app.storage import queue
from app.storage.assignment import (
    KNOWN_JUDGMENT,
    NO_OPEN_WORK,
    PROGRESS_AFTER_CLAIM,
    SKIP_SLOT_BASE,
    eligible_count,
    open_assignment,
    owned_assignment,
)
from app.storage.base import StorageError, as_utc, checked_text
from app.storage.studies import study_rubric
from evaluation.kinds import KindError, Shown, get_kind, in_screen_order, screen_flags, slot_flags
from evaluation.kinds.skip import MAX_SKIP_NOTE_CHARS, SkipReason

MAX_RATIONALE_CHARS = 5_000
_UNKNOWN = object()


class AlreadyJudged(StorageError):
    """A second, different submit for a unit already judged (a retry with the same values is fine)."""

    def __init__(self, judgment: Judgment):
        self.judgment = judgment
        # Read now: the transaction rolls back on the way out, and a rolled-back row cannot be read.
        self.choice, self.ratings = judgment.choice, json.loads(judgment.ratings) if judgment.ratings else None
        super().__init__("this was already judged; use 'My judgments' to change it")


@dataclass(frozen=True)
class Progress:
    judged: int
    total: int


@dataclass(frozen=True)
class WorkView:
    """What the judging screen shows: texts only, never a system name."""

    assignment_id: int
    token: str
    kind: str  # the study's kind (evaluation.kinds.KINDS)
    question: str
    context: str
    answer_a: str
    answer_b: str | None  # None in a rating study
    judged: int
    total: int


@dataclass(frozen=True)
class HistoryEntry:
    """One of the physician's own judgments or skips, in stored terms (the UI labels them)."""

    assignment_id: int
    sequence: int
    question: str
    summary: str | dict | None  # the choice code (pairwise, a = left as shown), {criterion: value}, None if skipped
    revisions: int
    updated_at: datetime
    skipped_reason: str | None  # a SkipReason code, or None for a judgment


def progress(session: Session, study: Study, user: User) -> Progress:
    """`judged` counts what is done: judgments and "cannot judge" skips."""
    judged = session.execute(select(queue.done_count()), {"sid": study.id, "uid": user.id}).scalar_one()
    open_now = 1 if open_assignment(session, study, user) else 0
    return Progress(judged=judged, total=judged + open_now + eligible_count(session, study, user))


def shown_answers(unit: Unit, assignment: Assignment, answer: Callable[[int], Answer]) -> tuple[Shown, ...]:
    """The unit's answers in the order its physician sees them (`answer` looks one up by id)."""
    slots = [answer(unit.answer_1_id)] + ([answer(unit.answer_2_id)] if unit.answer_2_id else [])
    return in_screen_order([(a.system, a.text) for a in slots], assignment.left_system)


def _shown(session: Session, assignment: Assignment) -> tuple[Shown, ...]:
    return shown_answers(session.get(Unit, assignment.unit_id), assignment, lambda id_: session.get(Answer, id_))


def _stored(session: Session, assignment: Assignment) -> Judgment | None:
    """The assignment's judgment; what this transaction read with the assignment is used once
    (a concurrent insert after that read is caught by the insert's conflict check)."""
    known = session.info.pop((KNOWN_JUDGMENT, assignment.id), _UNKNOWN)
    if known is not _UNKNOWN:
        return known
    return session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).first()


def show_unit(session: Session, user: User, assignment_id: int) -> WorkView:
    """Render an assignment for its physician; restarts its time-on-task clock if unjudged."""
    assignment = owned_assignment(session, user, assignment_id)
    unit = session.get(Unit, assignment.unit_id)
    item, study = session.get(Item, unit.item_id), session.get(Study, assignment.study_id)
    claimed = session.info.pop((PROGRESS_AFTER_CLAIM, assignment.id), None)
    if claimed is not None:  # handed out in this transaction: shown now, counts read with it
        session.info.pop((KNOWN_JUDGMENT, assignment.id), None)
        done = Progress(*claimed)
    else:
        if assignment.skipped_reason is None and _stored(session, assignment) is None:
            assignment.shown_at = utcnow()
            session.add(assignment)
        done = progress(session, study, user)
    shown = _shown(session, assignment)
    return WorkView(assignment.id, assignment.token, study.kind, item.question, item.context, shown[0].text,
                    shown[1].text if len(shown) > 1 else None, done.judged, done.total)


def _fields(session: Session, study: Study, assignment: Assignment, *, choice, ratings, evasive_a, evasive_b,
            rationale) -> dict:
    """The judgment's stored columns, checked once: real booleans and text limits here, the
    values by the study's kind."""
    if not isinstance(evasive_a, bool) or not isinstance(evasive_b, bool):
        raise StorageError("the evasive flags must be true or false")
    rationale = checked_text(rationale, "the rationale", limit=MAX_RATIONALE_CHARS).strip()
    shown = _shown(session, assignment)
    try:
        values = get_kind(study.kind).validate({"choice": choice, "ratings": ratings, "rationale": rationale}, shown,
                                               study_rubric(study))
    except KindError as exc:
        raise StorageError(str(exc)) from None
    if values.get("ratings") is not None:
        values["ratings"] = json.dumps(values["ratings"], sort_keys=True)
    return {"choice": None, "preferred_system": None, "ratings": None, **values, "rationale": rationale,
            **slot_flags((evasive_a, evasive_b), shown)}


def submit_judgment(session: Session, user: User, assignment_id: int, *, choice: str | None = None,
                    ratings: dict | None = None, evasive_a: bool = False, evasive_b: bool = False,
                    rationale: str = "") -> tuple[Judgment, bool]:
    """Store the judgment of an assignment; returns (judgment, created). Idempotent: a retry with
    the same values returns the stored one; different values raise AlreadyJudged."""
    assignment = owned_assignment(session, user, assignment_id)
    if assignment.skipped_reason is not None:
        raise StorageError("you marked this one as 'cannot judge'; it is not judged")
    study = session.get(Study, assignment.study_id)
    fields = _fields(session, study, assignment, choice=choice, ratings=ratings, evasive_a=evasive_a,
                     evasive_b=evasive_b, rationale=rationale)
    existing = _stored(session, assignment)
    if existing is None:
        now = utcnow()
        values = {"assignment_id": assignment.id, "app_version": __version__, "created_at": now, "updated_at": now,
                  "time_on_task_ms": max(0, int((now - as_utc(assignment.shown_at)).total_seconds() * 1000)),
                  "revisions": 0, **fields}
        new_id = queue.insert_ignoring(session, Judgment, values)
        if new_id is not None:
            judgment = Judgment(id=new_id, **values)
            make_transient_to_detached(judgment)
            session.add(judgment)  # known to the session without reading it back
            session.info[NO_OPEN_WORK, study.id, user.id] = True  # the open unit was this one
            return judgment, True
        existing = _stored(session, assignment)  # a concurrent duplicate won the race
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
    """Change any of the physician's own judgments (revisions counted, the first time kept)."""
    assignment = owned_assignment(session, user, assignment_id)
    judgment = _stored(session, assignment)
    if judgment is None:
        raise StorageError("this one is not judged, so there is nothing to revise")
    study = session.get(Study, assignment.study_id)
    fields = _fields(session, study, assignment, choice=choice, ratings=ratings, evasive_a=evasive_a,
                     evasive_b=evasive_b, rationale=rationale)
    if any(getattr(judgment, key) != value for key, value in fields.items()):
        for key, value in fields.items():
            setattr(judgment, key, value)
        judgment.revisions += 1
        judgment.updated_at = utcnow()
        session.add(judgment)
    return judgment


def skip_assignment(session: Session, user: User, assignment_id: int, reason: str, note: str = "") -> None:
    """"Cannot judge": the physician's unit is done for them without a judgment. Its overlap slot
    is freed (moved below SKIP_SLOT_BASE) so that another physician gets the unit; this one never
    gets it again (their assignment stays). A retry with the same reason and note changes nothing."""
    assignment = owned_assignment(session, user, assignment_id)
    if reason not in set(SkipReason):
        raise StorageError(f"unknown reason {reason!r} for 'cannot judge'; one of: {', '.join(SkipReason)}")
    note = checked_text(note, "the note", limit=MAX_SKIP_NOTE_CHARS, required=reason == SkipReason.other).strip()
    if assignment.skipped_reason is not None:
        if (assignment.skipped_reason, assignment.skipped_note) != (reason, note):
            raise StorageError("you already marked this one as 'cannot judge'")
        return
    if _stored(session, assignment) is not None:
        raise StorageError("this one is already judged; revise it from 'My judgments' instead")
    assignment.skipped_reason, assignment.skipped_note, assignment.skipped_at = str(reason), note, utcnow()
    assignment.slot = SKIP_SLOT_BASE - assignment.id
    session.add(assignment)
    session.flush()
    session.info[NO_OPEN_WORK, assignment.study_id, user.id] = True  # the open unit was this one


def judgment_history(session: Session, user: User, study: Study) -> list[HistoryEntry]:
    """The physician's own judgments and skips in this study, newest first."""
    rows = session.exec(
        select(Assignment, Item.question, Judgment).join(Unit, Unit.id == Assignment.unit_id)
        .join(Item, Item.id == Unit.item_id).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id,
               Judgment.id.is_not(None) | Assignment.skipped_reason.is_not(None))
    ).all()
    out = []
    for assignment, question, judgment in rows:
        if judgment is None:
            entry = HistoryEntry(assignment.id, assignment.sequence, question, None, 0, as_utc(assignment.skipped_at),
                                 assignment.skipped_reason)
        else:
            summary = json.loads(judgment.ratings) if judgment.ratings else judgment.choice
            entry = HistoryEntry(assignment.id, assignment.sequence, question, summary, judgment.revisions,
                                 as_utc(judgment.updated_at), None)
        out.append((as_utc(judgment.created_at) if judgment else entry.updated_at, entry))
    out.sort(key=lambda pair: (pair[0], pair[1].sequence), reverse=True)
    return [entry for _when, entry in out]


def judgment_as_shown(session: Session, user: User, assignment_id: int) -> dict:
    """A stored judgment in screen terms (a = left), for the physician who made it."""
    assignment = owned_assignment(session, user, assignment_id)
    judgment = _stored(session, assignment)
    if judgment is None:
        raise StorageError("not judged yet")
    shown = _shown(session, assignment)
    evasive = screen_flags({"evasive_1": judgment.evasive_1, "evasive_2": judgment.evasive_2}, shown)
    return {
        "choice": judgment.choice,
        "ratings": json.loads(judgment.ratings) if judgment.ratings else None,
        "evasive_a": evasive[0],
        "evasive_b": evasive[1] if len(evasive) > 1 else False,
        "rationale": judgment.rationale,
    }
