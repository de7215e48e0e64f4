"""Researcher views: progress per physician, counts, and the judgment export (systems revealed).

Export rows are the typed rows of the study's kind (evaluation/kinds): e.g. one PairwiseJudgment
oriented as shown (a = left), or one RatingJudgment per rated criterion. They were checked when
they were stored, so the report takes them as they are.
"""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, select

from app.models import Answer, Assignment, Item, Judgment, Study, Unit, User
from app.storage.base import as_utc
from app.storage.judgments import shown_answers
from app.storage.studies import study_plan, study_rubric
from evaluation.kinds import Judged, get_kind, screen_flags


def _judged_rows(session: Session, study: Study) -> list[tuple]:
    return session.exec(
        select(Judgment, Assignment, Unit, Item, User)
        .join(Assignment, Assignment.id == Judgment.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Item, Item.id == Unit.item_id)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.study_id == study.id)
        .order_by(Judgment.created_at, Judgment.id)
    ).all()


def _answers(session: Session, study: Study) -> dict[int, Answer]:
    rows = session.exec(select(Answer).join(Item, Item.id == Answer.item_id).where(Item.study_id == study.id))
    return {answer.id: answer for answer in rows}


def _common(study: Study, judgment: Judgment, assignment: Assignment, item: Item, user: User) -> dict:
    return {
        "study": study.name, "item_id": item.external_id, "rater": user.name, "rater_simulated": user.simulated,
        "rater_kind": user.rater_kind,
        "sequence": assignment.sequence, "question": item.question, "context": item.context,
        "reference": item.reference or "", "rationale": judgment.rationale, "time_on_task_ms": judgment.time_on_task_ms,
        "created_at": as_utc(judgment.created_at).isoformat(), "updated_at": as_utc(judgment.updated_at).isoformat(),
        "revisions": judgment.revisions, "app_version": judgment.app_version,
    }


def _judged(judgment: Judgment, assignment: Assignment, unit: Unit, item: Item, answers: dict[int, Answer]) -> Judged:
    shown = shown_answers(unit, assignment, answers.__getitem__)
    return Judged(shown=shown, choice=judgment.choice, preferred_system=judgment.preferred_system,
                  ratings=json.loads(judgment.ratings) if judgment.ratings else None,
                  evasive=screen_flags({"evasive_1": judgment.evasive_1, "evasive_2": judgment.evasive_2}, shown),
                  is_gold=unit.is_gold, gold_system=item.gold_system)


def export_judgments(session: Session, study: Study) -> list[dict]:
    """The export rows of every judgment, as the study's kind writes them; system names revealed."""
    answers = _answers(session, study)
    kind, rubric = get_kind(study.kind), study_rubric(study)
    out = []
    for judgment, assignment, unit, item, user in _judged_rows(session, study):
        common = _common(study, judgment, assignment, item, user)
        out.extend(kind.export_rows(common, _judged(judgment, assignment, unit, item, answers), rubric))
    return out


def study_progress(session: Session, study: Study) -> list[dict]:
    """Per physician: assigned, judged, skipped ("cannot judge"), gold judged and gold correct."""
    rows = session.exec(
        select(User, Assignment, Unit, Item, Judgment)
        .join(Assignment, Assignment.user_id == User.id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Item, Item.id == Unit.item_id)
        .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id)
    ).all()
    table: dict[str, dict] = {}
    for user, _assignment, unit, item, judgment in rows:
        if user.rater_kind != "physician":  # model judges (issue 21) are not physicians
            continue
        entry = table.setdefault(user.name, {"physician": user.name, "simulated": user.simulated, "assigned": 0,
                                             "judged": 0, "skipped": 0, "gold_judged": 0, "gold_correct": 0})
        entry["assigned"] += 1
        entry["skipped"] += _assignment.skipped_reason is not None  # "cannot judge": done, never a judgment
        if judgment is not None:
            entry["judged"] += 1
            if unit.is_gold:
                entry["gold_judged"] += 1
                entry["gold_correct"] += judgment.preferred_system == item.gold_system
    for entry in table.values():
        entry["gold_accuracy"] = entry["gold_correct"] / entry["gold_judged"] if entry["gold_judged"] else None
    return sorted(table.values(), key=lambda e: e["physician"])


def study_counts(session: Session, study: Study) -> dict:
    def count(*where) -> int:
        return session.exec(select(func.count()).select_from(Unit).where(Unit.study_id == study.id, *where)).one()

    items = session.exec(select(func.count()).select_from(Item)
                         .where(Item.study_id == study.id, Item.is_gold.is_(False))).one()
    gold = session.exec(select(func.count()).select_from(Item)
                        .where(Item.study_id == study.id, Item.is_gold.is_(True))).one()
    units = count(Unit.is_gold.is_(False))
    judged = session.exec(
        select(func.count()).select_from(Judgment).join(Assignment, Assignment.id == Judgment.assignment_id)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.study_id == study.id, User.rater_kind == "physician")  # a model judge's are not counted
    ).one()
    return {"items": items, "gold_items": gold, "units": units, "judgments": judged, "target": units * study.overlap}


def study_settings(session: Session, study: Study) -> dict:
    """What a report states about the study it reports on."""
    return {"study": study.name, "kind": str(study.kind), "systems": study.system_names,
            "comparisons": sorted(set(session.exec(select(Unit.comparison).where(Unit.study_id == study.id)))),
            "rubric": json.loads(study.rubric) if study.rubric else None, "overlap": study.overlap,
            "seed": study.seed, "source": study.source_name, "source_sha256": study.source_sha256,
            "analysis_plan": study_plan(study), **study_counts(session, study)}
