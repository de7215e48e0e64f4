"""The SQL of the assignment engine's fast path (issue 26): each physician's order is a table
(physician_queue), so what they may be given next is one indexed statement, not a recomputation
in Python over every assignment of the study. Statements are built once with bound parameters
(SQLAlchemy then reuses their compiled form); `claim` reads the next unit, its texts and the
physician's progress in one SELECT, and `insert_ignoring` writes a row in one INSERT that a
concurrent duplicate turns into nothing (no savepoint).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import and_, bindparam, case, exists, func, literal, not_, or_, select
from sqlalchemy.orm import aliased

from app.models import Answer, Assignment, Item, Judgment, QueueEntry, Study, StudyMember, Unit

SID, UID, OVERLAP, MAX_SHARE = (bindparam("sid"), bindparam("uid"), bindparam("overlap"), bindparam("max_share"))


def _mine(alias):
    return and_(alias.study_id == SID, alias.user_id == UID)


def done_count():
    """Judgments and "cannot judge" skips of the physician in the study (what progress calls done)."""
    mine = aliased(Assignment)
    return (select(func.count()).select_from(mine).outerjoin(Judgment, Judgment.assignment_id == mine.id)
            .where(_mine(mine), or_(Judgment.id.is_not(None), mine.skipped_reason.is_not(None))).scalar_subquery())


def _eligible():
    """Queue rows the physician may be given: not theirs yet, in the physician sample, and gold or
    below the overlap (physicians' slots are 0..overlap-1; gold, model and skipped slots are negative)."""
    held, taken = aliased(Assignment), aliased(Assignment)
    return and_(
        QueueEntry.study_id == SID, QueueEntry.user_id == UID, Item.in_physician_sample.is_(True),
        not_(exists().where(held.user_id == UID, held.unit_id == QueueEntry.unit_id)),
        or_(Unit.is_gold.is_(True),
            select(func.count()).where(taken.unit_id == QueueEntry.unit_id, taken.slot >= 0).scalar_subquery() < OVERLAP),
    )


def _queue():
    return (select().select_from(QueueEntry).join(Unit, Unit.id == QueueEntry.unit_id)
            .join(Item, Item.id == Unit.item_id))


@cache
def eligible_statement():
    return _queue().add_columns(QueueEntry.unit_id).where(_eligible()).order_by(QueueEntry.position)


@cache
def eligible_count_statement():
    return _queue().add_columns(func.count()).where(_eligible())


def _capped(capped: bool):
    """1 for a non-gold unit once the physician holds max_share of the study's non-gold slots
    (issue 20's cap: they are given gold units only); 0 otherwise."""
    if not capped:
        return literal(0)
    mine, units = aliased(Assignment), aliased(Unit)
    held = (select(func.count()).select_from(mine).join(units, units.id == mine.unit_id)
            .where(_mine(mine), units.is_gold.is_(False), mine.skipped_reason.is_(None)).scalar_subquery())
    slots = select(func.count()).where(units.study_id == SID, units.is_gold.is_(False)).scalar_subquery()
    return case((and_(Unit.is_gold.is_(False), held >= MAX_SHARE * (OVERLAP * slots)), 1), else_=0)


def _free_slot(unit_id):
    """The lowest physician slot of the unit nobody holds (a skip leaves a hole below the others)."""
    used, after = aliased(Assignment), aliased(Assignment)
    return case(
        (not_(exists().where(used.unit_id == unit_id, used.slot == 0)), 0),
        else_=select(func.min(used.slot + 1)).where(
            used.unit_id == unit_id, used.slot >= 0,
            not_(exists().where(after.unit_id == used.unit_id, after.slot == used.slot + 1))).scalar_subquery(),
    )


@cache
def claim_statement(capped: bool):
    """The next unit for the physician with what the screen and the new assignment need: its unit,
    item and answers (loaded into the session), its free slot, the physician's next sequence, their
    count in its comparison and the comparison's size (left/right balance), the count of eligible
    units and of done ones (progress). Consecutive units avoid the item just seen when another is left."""
    last, last_unit = aliased(Assignment), aliased(Unit)
    last_item = (select(last_unit.item_id).select_from(last).join(last_unit, last_unit.id == last.unit_id)
                 .where(_mine(last)).order_by(last.sequence.desc()).limit(1).scalar_subquery())
    capped_key = _capped(capped)
    candidate = (_queue().add_columns(QueueEntry.unit_id, func.count().over().label("eligible"),
                                      capped_key.label("capped"))
                 .where(_eligible()).order_by(capped_key, case((Unit.item_id == last_item, 1), else_=0),
                                              QueueEntry.position).limit(1).subquery())
    mine, same, first, second = aliased(Assignment), aliased(Unit), aliased(Answer), aliased(Answer)
    return (
        select(Unit, Item, first, second, candidate.c.eligible, candidate.c.capped, _free_slot(Unit.id).label("slot"),
               select(func.count()).where(_mine(mine)).scalar_subquery().label("sequence"),
               select(func.count()).select_from(mine).join(same, same.id == mine.unit_id)
               .where(_mine(mine), same.comparison == Unit.comparison).scalar_subquery().label("in_comparison"),
               select(func.count()).where(same.study_id == SID, same.comparison == Unit.comparison)
               .scalar_subquery().label("comparison_size"),
               done_count().label("done"))
        .select_from(candidate).join(Unit, Unit.id == candidate.c.unit_id).join(Item, Item.id == Unit.item_id)
        .join(first, first.id == Unit.answer_1_id).outerjoin(second, second.id == Unit.answer_2_id)
    )


@cache
def open_statement():
    """The physician's unjudged, unskipped assignment (at most one: next_assignment hands out the open one first)."""
    return (select(Assignment).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
            .where(_mine(Assignment), Judgment.id.is_(None), Assignment.skipped_reason.is_(None))
            .order_by(Assignment.sequence).limit(1))


@cache
def _insert_ignoring(dialect: str, table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


def insert_ignoring(session, model, values: dict):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when a unique
    constraint (a concurrent duplicate) refused it. One statement, no savepoint, on SQLite and PostgreSQL."""
    statement = _insert_ignoring(session.get_bind().dialect.name, model.__table__)
    return session.execute(statement, values).scalar()


@cache
def by_token_statement():
    """An assignment by its token, with its judgment, unit, item, study, answers, and whether its
    physician may judge in its study (membership.may_judge: a study without members is open to all)."""
    first, second, member = aliased(Answer), aliased(Answer), aliased(StudyMember)
    members = exists().where(member.study_id == Assignment.study_id)
    is_member = exists().where(member.study_id == Assignment.study_id, member.user_id == Assignment.user_id)
    return (select(Assignment, Judgment, Unit, Item, Study, first, second, or_(not_(members), is_member).label("may"))
            .join(Unit, Unit.id == Assignment.unit_id).join(Item, Item.id == Unit.item_id)
            .join(Study, Study.id == Assignment.study_id).join(first, first.id == Unit.answer_1_id)
            .outerjoin(second, second.id == Unit.answer_2_id).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
            .where(Assignment.token == bindparam("token")))
