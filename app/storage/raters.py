"""Model raters: a model judge's verdicts stored as the judgments of a user of rater_kind "model",
and the physician sample a study may declare (--physician-sample N).

A model rater cannot log in (disabled, no usable password), is never handed work by the
assignment engine, and its assignments use negative slots below MODEL_SLOT_BASE, so they never
count toward a unit's overlap: physicians get exactly the work they would get without a judge.
"""

from __future__ import annotations

import json
import random

from sqlalchemy import func
from sqlmodel import Session, select

from app import __version__
from app.models import Answer, Assignment, Item, Judgment, Role, Study, Unit, User, utcnow
from app.storage.base import StorageError

PHYSICIAN, MODEL = "physician", "model"
RATER_KINDS = (PHYSICIAN, MODEL)
MODEL_SLOT_BASE = -1_000_000_000  # model assignments: slot = MODEL_SLOT_BASE - user id (gold: -user id)


def model_rater(session: Session, name: str) -> User:
    """The model rater `name`, created on first use; a physician or researcher of that name is refused."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is not None:
        if user.rater_kind != MODEL:
            raise StorageError(f"{name!r} is a {user.role} account, not a model rater: give the judge another name")
        return user
    user = User(name=name, role=Role.physician, password_hash="!model-rater: no login", disabled=True,
                rater_kind=MODEL)
    session.add(user)
    session.flush()
    return user


def model_raters(session: Session) -> list[str]:
    return list(session.exec(select(User.name).where(User.rater_kind == MODEL).order_by(User.name)))


def judge_units(session: Session, study: Study) -> list[dict]:
    """The study's non-gold units as the judge runner reads them (answers with their systems)."""
    rows = session.exec(select(Unit, Item).join(Item, Item.id == Unit.item_id)
                        .where(Unit.study_id == study.id, Unit.is_gold.is_(False)).order_by(Unit.id)).all()
    answers = {a.id: a for a in session.exec(select(Answer).join(Item, Item.id == Answer.item_id)
                                             .where(Item.study_id == study.id))}
    out = []
    for unit, item in rows:
        first = answers[unit.answer_1_id]
        entry = {"unit_id": unit.id, "item_id": item.external_id, "question": item.question, "context": item.context,
                 "comparison": unit.comparison}
        if unit.answer_2_id is None:
            entry.update(system=first.system, answer=first.text)
        else:
            second = answers[unit.answer_2_id]
            entry.update(system_1=first.system, answer_1=first.text, system_2=second.system, answer_2=second.text)
        out.append(entry)
    return out


def _judgment_fields(verdict: dict, unit_entry: dict) -> dict:
    if "ratings" in verdict:
        return {"choice": None, "preferred_system": None, "ratings": json.dumps(verdict["ratings"], sort_keys=True)}
    preferred = verdict["preferred_system"]
    choice = "a" if preferred == unit_entry["system_1"] else "b" if preferred == unit_entry["system_2"] else "tie"
    return {"choice": choice, "preferred_system": preferred or None, "ratings": None}


def _record(verdict: dict) -> str:
    """What the judge was asked and said, kept with the judgment (its rationale field)."""
    keep = ("judge", "template", "template_sha256", "settings", "prompt_sha256", "replies", "order_consistent")
    return json.dumps({k: verdict[k] for k in keep if k in verdict}, sort_keys=True, ensure_ascii=False)


def store_verdicts(session: Session, study: Study, rater: User, verdicts: list[dict]) -> dict:
    """Store the verdicts with status "ok" as `rater`'s judgments (a re-run updates them); counts
    of stored, updated, and skipped (unparsed or failed) verdicts."""
    if rater.rater_kind != MODEL:
        raise StorageError("verdicts are stored for model raters only")
    units = {u["unit_id"]: u for u in judge_units(session, study)}
    mine = {a.unit_id: a for a in session.exec(select(Assignment).where(Assignment.study_id == study.id,
                                                                        Assignment.user_id == rater.id))}
    sequence = len(mine)
    counts = {"stored": 0, "updated": 0, "skipped": 0}
    now = utcnow()
    for verdict in verdicts:
        entry = units.get(verdict["unit_id"])
        if entry is None:
            raise StorageError(f"unit {verdict['unit_id']} is not a judged unit of study {study.name!r}")
        if verdict["status"] != "ok":
            counts["skipped"] += 1
            continue
        fields = {**_judgment_fields(verdict, entry), "rationale": _record(verdict)}
        assignment = mine.get(entry["unit_id"])
        if assignment is None:
            assignment = Assignment(study_id=study.id, user_id=rater.id, unit_id=entry["unit_id"],
                                    slot=MODEL_SLOT_BASE - rater.id, sequence=sequence, left_system=1)
            session.add(assignment)
            session.flush()
            sequence += 1
            mine[entry["unit_id"]] = assignment
        judgment = session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).first()
        if judgment is None:
            session.add(Judgment(assignment_id=assignment.id, time_on_task_ms=0, app_version=__version__,
                                 created_at=now, updated_at=now, **fields))
            counts["stored"] += 1
        elif any(getattr(judgment, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(judgment, key, value)
            judgment.revisions += 1
            judgment.updated_at = now
            session.add(judgment)
            counts["updated"] += 1
    session.flush()
    return counts


def draw_physician_sample(session: Session, study: Study, n: int, *, seed: int | None = None) -> list[str]:
    """Assign physicians a uniform random sample of n of the study's non-gold items (seeded; the
    sample is recorded on the items and n on the study). Only before any physician has work."""
    items = list(session.exec(select(Item).where(Item.study_id == study.id, Item.is_gold.is_(False))
                              .order_by(Item.position)))
    if not 1 <= n <= len(items):
        raise StorageError(f"--physician-sample must be between 1 and the study's {len(items)} items, got {n}")
    started = session.exec(select(func.count()).select_from(Assignment).join(User, User.id == Assignment.user_id)
                           .where(Assignment.study_id == study.id, User.rater_kind == PHYSICIAN)).one()
    if started:
        raise StorageError("physicians already have work in this study: a physician sample must be drawn before")
    chosen = set(random.Random(study.seed if seed is None else seed).sample(range(len(items)), n))
    for index, item in enumerate(items):
        item.in_physician_sample = index in chosen
        session.add(item)
    study.physician_sample = n
    session.add(study)
    session.flush()
    return [items[i].external_id for i in sorted(chosen)]


def physician_sample(session: Session, study: Study) -> dict:
    """Whether the physicians' items were declared a uniform random sample, and which."""
    sampled = list(session.exec(select(Item.external_id).where(Item.study_id == study.id, Item.is_gold.is_(False),
                                                               Item.in_physician_sample.is_(True))))
    return {"declared": study.physician_sample is not None, "n": study.physician_sample, "items": sorted(sampled)}
