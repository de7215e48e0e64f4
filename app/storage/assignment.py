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
import secrets
import zlib
from functools import lru_cache

from sqlalchemy import insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, select

from app.models import Assignment, PhysicianOrder, QueueEntry, Role, Study, Unit, User, utcnow
from app.storage import queue
from app.storage.base import AccessDenied, StorageError

# session.info keys: what one transaction already knows, so the next screen asks the database once
KNOWN_JUDGMENT = "known_judgment"  # (KNOWN_JUDGMENT, assignment id) -> its Judgment or None, as last read
PROGRESS_AFTER_CLAIM = "progress_after_claim"  # (PROGRESS_AFTER_CLAIM, assignment id) -> (done, total)
# (NO_OPEN_WORK, study id, user id): the physician's open unit was just judged or skipped, so none is open
# (next_assignment hands out a new unit only when none is open)
NO_OPEN_WORK = "no_open_work"
_LOADED = "loaded_rows"  # rows read along with another: held so the session's (weak) identity map keeps them


def _hold(session: Session, *rows) -> None:
    session.info.setdefault(_LOADED, []).extend(row for row in rows if row is not None)

# Slots outside 0..overlap-1 never count toward a unit's overlap: gold units take -user id, model
# raters MODEL_SLOT_BASE - user id (app/storage/raters.py), skipped units SKIP_SLOT_BASE - assignment id
# (fits PostgreSQL's 32-bit integer up to 647 million assignments).
SKIP_SLOT_BASE = -1_500_000_000


def _physician_seed(study: Study, user: User) -> int:
    return (study.seed * 1_000_003 + user.id * 7919) % (2**31)


def _order(session: Session, study: Study, user: User) -> list[int]:
    """The physician's order of the study's units, drawn (and queued) on first use."""
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
    return session.execute(queue.open_statement(), {"sid": study.id, "uid": user.id}).scalars().first()


def _params(study: Study, user: User) -> dict:
    return {"sid": study.id, "uid": user.id, "overlap": study.overlap, "max_share": study.max_share}


def eligible_units(session: Session, study: Study, user: User) -> list[int]:
    """Units this physician could still be given, in their own order (the share cap aside)."""
    _order(session, study, user)
    return list(session.execute(queue.eligible_statement(), _params(study, user)).scalars())


def eligible_count(session: Session, study: Study, user: User) -> int:
    if session.execute(select(PhysicianOrder.id).where(PhysicianOrder.study_id == study.id,
                                                       PhysicianOrder.user_id == user.id)).first() is None:
        _order(session, study, user)
    return session.execute(queue.eligible_count_statement(), _params(study, user)).scalar_one()


@lru_cache(maxsize=1024)
def _sides(seed: int, size: int) -> tuple[int, ...]:
    sides = [1, 2] * math.ceil(size / 2)
    random.Random(seed).shuffle(sides)
    return tuple(sides)


def _left_side(study: Study, user: User, unit: Unit, done_in_comparison: int, comparison_size: int) -> int:
    """1 or 2: which of the unit's answers goes left, from a seeded shuffle of a balanced sequence per
    physician and comparison. Ratings have one answer, always 1."""
    if unit.answer_2_id is None:
        return 1
    sides = _sides(_physician_seed(study, user) + zlib.crc32(unit.comparison.encode()), comparison_size)
    return sides[done_in_comparison % len(sides)]


def _claim(session: Session, study: Study, user: User) -> Assignment | None | bool:
    """One try at the next unit: the new assignment, None when nothing is left (or the queue is not
    drawn yet), False when a concurrent physician took the slot first (try again)."""
    statement = queue.claim_statement(bool(study.max_share))
    row = session.execute(statement, _params(study, user)).first()
    if row is None or row.capped:
        return None
    unit = row[0]
    _hold(session, *row[:4])  # unit, item and answers: the screen shows them next
    slot = -user.id if unit.is_gold else row.slot
    if slot >= study.overlap:
        return False  # filled since the snapshot this statement read (PostgreSQL, another transaction)
    now = utcnow()
    values = {"study_id": study.id, "user_id": user.id, "unit_id": unit.id, "slot": slot, "sequence": row.sequence,
              "left_system": _left_side(study, user, unit, row.in_comparison, row.comparison_size),
              "token": secrets.token_urlsafe(16), "created_at": now, "shown_at": now, "skipped_note": ""}
    new_id = queue.insert_ignoring(session, Assignment, values)
    if new_id is None:
        return False  # someone took that slot first (the (unit_id, slot) constraint)
    assignment = Assignment(id=new_id, skipped_reason=None, skipped_at=None, **values)
    make_transient_to_detached(assignment)
    session.add(assignment)  # known to the session without reading it back
    session.info[KNOWN_JUDGMENT, new_id] = None
    session.info[PROGRESS_AFTER_CLAIM, new_id] = (row.done, row.done + row.eligible)
    return assignment


def next_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    """The physician's open assignment, or a new one; None when nothing is left for them.

    Safe under concurrency at any isolation level: slots are numbered below the overlap, and
    the (unit_id, slot) constraint lets only one physician take each slot; a stale read can only
    offer a slot that is taken, so a race ends in a refused insert and another try.
    """
    if user.role is not Role.physician:
        raise AccessDenied("only physicians judge")
    if not session.info.pop((NO_OPEN_WORK, study.id, user.id), False):
        current = open_assignment(session, study, user)
        if current is not None:
            return current
    for _attempt in range(200):
        claimed = _claim(session, study, user)
        if claimed is None and not session.info.get(("queued", study.id, user.id)):
            _order(session, study, user)  # first visit: draw the order, then claim from it
            session.info["queued", study.id, user.id] = True
            claimed = _claim(session, study, user)
        if claimed is not False:
            return claimed
    raise StorageError("could not find a free unit after repeated conflicts; try again")


def owned_assignment(session: Session, user: User, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id) if isinstance(assignment_id, int) else None
    if assignment is None or assignment.user_id != user.id:
        raise AccessDenied("not your assignment")
    return assignment


def assignment_by_token(session: Session, user: User, token: str) -> Assignment:
    """The assignment a screen's token names, read with its unit, item, answers, study and judgment
    in one statement (the submit that follows needs them all)."""
    row = session.execute(queue.by_token_statement(), {"token": token}).first()
    if row is None or row[0].user_id != user.id:
        raise AccessDenied("not your assignment")
    session.info[KNOWN_JUDGMENT, row[0].id] = row[1]
    session.info["may_judge", row[0].study_id, user.id] = bool(row.may)  # read by membership.may_judge
    _hold(session, *row[:7])
    return row[0]


def study_of(session: Session, assignment: Assignment) -> Study:
    return session.get(Study, assignment.study_id)
