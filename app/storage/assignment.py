"""Handing out units of work. Knows nothing of what a judgment is: a unit is a pair or one answer.

Each physician meets a study's units in a seeded random order of their own. A non-gold unit
goes to at most `overlap` physicians (the database's (unit_id, slot) constraint enforces it under
any concurrency); gold units go to everyone. Consecutive units avoid the same item when another
is available, and pairs are placed left/right from a seeded shuffle of a balanced sequence per
physician and comparison: balanced, and not predictable from the previous placements.
"""

from __future__ import annotations

import json
import math
import random
import zlib

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.models import Assignment, Item, Judgment, PhysicianOrder, QueueEntry, Role, Study, Unit, User
from app.storage.base import AccessDenied, StorageError

# Slots outside 0..overlap-1 never count toward a unit's overlap: gold units take -user id, model
# raters MODEL_SLOT_BASE - user id (app/storage/raters.py), skipped units SKIP_SLOT_BASE - assignment id
# (fits PostgreSQL's 32-bit integer up to 647 million assignments).
SKIP_SLOT_BASE = -1_500_000_000


def _physician_seed(study: Study, user: User) -> int:
    return (study.seed * 1_000_003 + user.id * 7919) % (2**31)


def _order(session: Session, study: Study, user: User) -> list[int]:
    row = session.exec(
        select(PhysicianOrder).where(PhysicianOrder.study_id == study.id, PhysicianOrder.user_id == user.id)
    ).first()
    if row is None:
        unit_ids = list(session.exec(select(Unit.id).where(Unit.study_id == study.id).order_by(Unit.id)))
        seed = _physician_seed(study, user)
        random.Random(seed).shuffle(unit_ids)
        row = PhysicianOrder(study_id=study.id, user_id=user.id, seed=seed, unit_order=json.dumps(unit_ids))
        session.add(row)
        session.flush()
        session.execute(insert(QueueEntry), [{"study_id": study.id, "user_id": user.id, "position": position,
                                              "unit_id": unit_id} for position, unit_id in enumerate(unit_ids)])
    return json.loads(row.unit_order)


def open_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    return session.exec(
        select(Assignment)
        .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id, Judgment.id.is_(None),
               Assignment.skipped_reason.is_(None))
        .order_by(Assignment.sequence)
    ).first()


_ELIGIBLE_AFTER = "eligible_after_assignment"


def eligible_units(session: Session, study: Study, user: User) -> list[int]:
    """Units this physician could still be given, in their own order."""
    remembered = session.info.pop((_ELIGIBLE_AFTER, study.id, user.id), None)
    if remembered is not None:
        return remembered
    mine = set(session.exec(select(Assignment.unit_id).where(Assignment.study_id == study.id,
                                                             Assignment.user_id == user.id)))
    taken = dict(session.exec(
        select(Assignment.unit_id, func.count()).where(Assignment.study_id == study.id, Assignment.slot >= 0)
        .group_by(Assignment.unit_id)  # physicians' slots only: model raters' (and gold) slots are negative
    ).all())
    gold = set(session.exec(select(Unit.id).where(Unit.study_id == study.id, Unit.is_gold.is_(True))))
    outside = set(session.exec(select(Unit.id).join(Item, Item.id == Unit.item_id)  # --physician-sample N
                               .where(Unit.study_id == study.id, Item.in_physician_sample.is_(False))))
    return [
        unit_id for unit_id in _order(session, study, user)
        if unit_id not in mine and unit_id not in outside and (unit_id in gold or taken.get(unit_id, 0) < study.overlap)
    ]


def _pick(session: Session, study: Study, user: User, eligible: list[int]) -> Unit:
    """The first eligible unit, unless it shows the item just seen and another item is left."""
    last_item = session.exec(
        select(Unit.item_id).join(Assignment, Assignment.unit_id == Unit.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
        .order_by(Assignment.sequence.desc())
    ).first()
    first = session.get(Unit, eligible[0])
    if last_item is None or first.item_id != last_item:
        return first
    items = dict(session.exec(select(Unit.id, Unit.item_id).where(Unit.study_id == study.id)).all())
    other = next((u for u in eligible if items[u] != last_item), None)
    return first if other is None else session.get(Unit, other)


def _left_side(session: Session, study: Study, user: User, unit: Unit) -> int:
    """1 or 2: which of the unit's answers goes left. Ratings have one answer, always 1."""
    if unit.answer_2_id is None:
        return 1
    total = session.exec(select(func.count()).select_from(Unit)
                         .where(Unit.study_id == study.id, Unit.comparison == unit.comparison)).one()
    done = session.exec(
        select(func.count()).select_from(Assignment).join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id, Unit.comparison == unit.comparison)
    ).one()
    sides = [1, 2] * math.ceil(total / 2)
    random.Random(_physician_seed(study, user) + zlib.crc32(unit.comparison.encode())).shuffle(sides)
    return sides[done % len(sides)]


def _within_share(session: Session, study: Study, user: User, eligible: list[int]) -> list[int]:
    """With a cap on one physician's share (the analysis plan's max_share, issue 20), a physician
    who holds that share of the study's non-gold slots (units x overlap) is given gold units only:
    one physician doing most of the work leaves the interval resting on few effective physicians."""
    if not study.max_share or not eligible:
        return eligible
    slots = study.overlap * session.exec(select(func.count()).select_from(Unit)
                                         .where(Unit.study_id == study.id, Unit.is_gold.is_(False))).one()
    mine = session.exec(select(func.count()).select_from(Assignment).join(Unit, Unit.id == Assignment.unit_id)
                        .where(Assignment.study_id == study.id, Assignment.user_id == user.id,
                               Unit.is_gold.is_(False), Assignment.skipped_reason.is_(None))).one()
    if mine < math.ceil(study.max_share * slots):
        return eligible
    gold = set(session.exec(select(Unit.id).where(Unit.study_id == study.id, Unit.is_gold.is_(True))))
    return [u for u in eligible if u in gold]


def next_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    """The physician's open assignment, or a new one; None when nothing is left for them.

    Safe under concurrency at any isolation level: slots are numbered below the overlap, and
    the (unit_id, slot) constraint lets only one physician take each slot; a count that is
    stale can only be too low, so a race ends in a constraint error and another try.
    """
    if user.role is not Role.physician:
        raise AccessDenied("only physicians judge")
    current = open_assignment(session, study, user)
    if current is not None:
        return current
    for _attempt in range(200):
        eligible = _within_share(session, study, user, eligible_units(session, study, user))
        if not eligible:
            return None
        unit = _pick(session, study, user, eligible)
        if unit.is_gold:
            slot = -user.id
        else:
            used = set(session.exec(select(Assignment.slot).where(Assignment.unit_id == unit.id, Assignment.slot >= 0)))
            free = [n for n in range(study.overlap) if n not in used]  # a skip leaves a hole below the others
            if not free:
                continue  # filled since the eligibility check (another transaction committed)
            slot = free[0]
        sequence = session.exec(select(func.count()).select_from(Assignment)
                                .where(Assignment.study_id == study.id, Assignment.user_id == user.id)).one()
        assignment = Assignment(study_id=study.id, user_id=user.id, unit_id=unit.id, slot=slot, sequence=sequence,
                                left_system=_left_side(session, study, user, unit))
        try:
            with session.begin_nested():
                session.add(assignment)
        except IntegrityError:
            continue  # someone took that slot first; look again
        # What is still eligible once this unit is theirs, for progress() later in the same
        # transaction (the next screen shows it): saves recomputing the whole list per submit.
        # Only the newest is kept: this assignment may have filled a unit another list holds.
        for key in [k for k in session.info if isinstance(k, tuple) and k[:1] == (_ELIGIBLE_AFTER,)]:
            del session.info[key]
        session.info[_ELIGIBLE_AFTER, study.id, user.id] = [u for u in eligible if u != unit.id]
        return assignment
    raise StorageError("could not find a free unit after repeated conflicts; try again")


def owned_assignment(session: Session, user: User, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id) if isinstance(assignment_id, int) else None
    if assignment is None or assignment.user_id != user.id:
        raise AccessDenied("not your assignment")
    return assignment


def assignment_by_token(session: Session, user: User, token: str) -> Assignment:
    assignment = session.exec(select(Assignment).where(Assignment.token == token)).first()
    if assignment is None or assignment.user_id != user.id:
        raise AccessDenied("not your assignment")
    return assignment


def study_of(session: Session, assignment: Assignment) -> Study:
    return session.get(Study, assignment.study_id)
