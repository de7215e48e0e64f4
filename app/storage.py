"""Plain functions that read and write the tables in app/models.py.

Gradio callbacks and the command line call these; nothing else runs SQL. Every function
takes an open Session and leaves committing to `transaction()`, so one call is one
transaction (all or nothing).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import __version__
from app.models import Assignment, Choice, Item, Judgment, PhysicianOrder, Role, Study, User, utcnow
from app.security import hash_password, needs_rehash, verify_password
from app.study_files import PairItem


class StorageError(ValueError):
    """A request the data does not allow (unknown user, study exists, not your assignment...)."""


class AccessDenied(StorageError):
    """The user may not do this."""


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- users -------------------------------------------------------------------------------


def get_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def require_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise StorageError(f"no user named {name!r}")
    return user


def add_user(session: Session, name: str, role: Role | str, password: str, *, simulated: bool = False) -> User:
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise StorageError("a user name must be non-empty and have no spaces")
    if get_user(session, name) is not None:
        raise StorageError(f"user {name!r} already exists")
    user = User(name=name, role=Role(role), password_hash=hash_password(password), simulated=simulated)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> None:
    user = require_user(session, name)
    user.password_hash = hash_password(password)
    session.add(user)


def set_disabled(session: Session, name: str, disabled: bool = True) -> None:
    user = require_user(session, name)
    user.disabled = disabled
    session.add(user)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.name)))


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if the name and password match and the account is enabled, else None."""
    user = get_user(session, name)
    if user is None or user.disabled or not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def require_role(session: Session, name: str | None, role: Role | None) -> User:
    """The enabled user `name`, with `role` unless role is None; AccessDenied otherwise."""
    user = get_user(session, name) if name else None
    if user is None or user.disabled:
        raise AccessDenied("not logged in")
    if role is not None and user.role is not role:
        raise AccessDenied(f"this needs the {role.value} role")
    return user


# --- studies -----------------------------------------------------------------------------


def create_study(
    session: Session,
    *,
    name: str,
    systems: tuple[str, str],
    items: list[PairItem],
    gold_items: list[PairItem] = (),
    overlap: int = 1,
    seed: int = 0,
    guidelines: str = "",
    source_name: str = "",
    source_sha256: str = "",
) -> Study:
    if session.exec(select(Study).where(Study.name == name)).first() is not None:
        raise StorageError(f"study {name!r} already exists")
    if overlap < 1:
        raise StorageError("overlap must be at least 1")
    if systems[0] == systems[1]:
        raise StorageError("a study compares two different systems")
    for system in systems:  # physicians see the study name: it must not unblind them
        if re.search(rf"(?<![a-z0-9]){re.escape(system.lower())}(?![a-z0-9])", name.lower()):
            raise StorageError(f"the study name {name!r} reveals the system name {system!r}; physicians see it")
    clash = {i.external_id for i in items} & {g.external_id for g in gold_items}
    if clash:
        raise StorageError(f"gold item id(s) also in the answers file: {sorted(clash)[:5]}")
    study = Study(
        name=name, system_1=systems[0], system_2=systems[1], overlap=overlap, seed=seed, guidelines=guidelines,
        source_name=source_name, source_sha256=source_sha256,
    )
    session.add(study)
    session.flush()
    for position, pair in enumerate([*items, *gold_items]):
        session.add(
            Item(
                study_id=study.id, external_id=pair.external_id, position=position, question=pair.question,
                context=pair.context, reference=pair.reference, answer_1=pair.answer_1, answer_2=pair.answer_2,
                is_gold=pair.gold_better is not None, gold_better=pair.gold_better,
            )
        )
    session.flush()
    return study


def get_study(session: Session, name: str) -> Study:
    study = session.exec(select(Study).where(Study.name == name)).first()
    if study is None:
        raise StorageError(f"no study named {name!r}")
    return study


def list_studies(session: Session) -> list[Study]:
    return list(session.exec(select(Study).order_by(Study.created_at)))


def system_name(study: Study, number: int) -> str:
    return study.system_1 if number == 1 else study.system_2


# --- assignment --------------------------------------------------------------------------


def _physician_seed(study: Study, user: User) -> int:
    return (study.seed * 1_000_003 + user.id * 7919) % (2**31)


def _order(session: Session, study: Study, user: User) -> list[int]:
    row = session.exec(
        select(PhysicianOrder).where(PhysicianOrder.study_id == study.id, PhysicianOrder.user_id == user.id)
    ).first()
    if row is None:
        item_ids = list(session.exec(select(Item.id).where(Item.study_id == study.id).order_by(Item.position)))
        seed = _physician_seed(study, user)
        random.Random(seed).shuffle(item_ids)
        row = PhysicianOrder(study_id=study.id, user_id=user.id, seed=seed, item_order=json.dumps(item_ids))
        session.add(row)
        session.flush()
    return json.loads(row.item_order)


def _open_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    return session.exec(
        select(Assignment)
        .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id, Judgment.id.is_(None))
        .order_by(Assignment.sequence)
    ).first()


def _left_system(session: Session, study: Study, user: User, sequence: int) -> int:
    """Random side, balanced: the system shown left less often so far goes left."""
    counts = dict(
        session.exec(
            select(Assignment.left_system, func.count())
            .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
            .group_by(Assignment.left_system)
        ).all()
    )
    ones, twos = counts.get(1, 0), counts.get(2, 0)
    if ones != twos:
        return 1 if ones < twos else 2
    return random.Random(_physician_seed(study, user) + 31 * sequence).choice((1, 2))


def _eligible_items(session: Session, study: Study, user: User) -> list[int]:
    """Items this physician could still be given, in their own order."""
    mine = set(session.exec(select(Assignment.item_id).where(Assignment.study_id == study.id, Assignment.user_id == user.id)))
    taken = dict(
        session.exec(
            select(Assignment.item_id, func.count())
            .join(Item, Item.id == Assignment.item_id)
            .where(Assignment.study_id == study.id, Item.is_gold.is_(False))
            .group_by(Assignment.item_id)
        ).all()
    )
    gold = set(session.exec(select(Item.id).where(Item.study_id == study.id, Item.is_gold.is_(True))))
    return [
        item_id
        for item_id in _order(session, study, user)
        if item_id not in mine and (item_id in gold or taken.get(item_id, 0) < study.overlap)
    ]


def next_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    """The physician's open assignment, or a new one; None when nothing is left for them.

    Safe under concurrency at any isolation level: slots are numbered below the overlap, and
    the (item_id, slot) constraint lets only one physician take each slot; a count that is
    stale can only be too low, so a race ends in a constraint error and another try.
    """
    if user.role is not Role.physician:
        raise AccessDenied("only physicians judge")
    current = _open_assignment(session, study, user)
    if current is not None:
        return current
    for _attempt in range(200):
        eligible = _eligible_items(session, study, user)
        if not eligible:
            return None
        item = session.get(Item, eligible[0])
        if item.is_gold:
            slot = -user.id
        else:
            slot = session.exec(select(func.count()).select_from(Assignment).where(Assignment.item_id == item.id)).one()
            if slot >= study.overlap:
                continue  # filled since the eligibility check (another transaction committed)
        sequence = session.exec(
            select(func.count()).select_from(Assignment).where(Assignment.study_id == study.id, Assignment.user_id == user.id)
        ).one()
        assignment = Assignment(
            study_id=study.id, user_id=user.id, item_id=item.id, slot=slot, sequence=sequence,
            left_system=_left_system(session, study, user, sequence),
        )
        try:
            with session.begin_nested():
                session.add(assignment)
        except IntegrityError:
            continue  # someone took that slot first; look again
        return assignment
    raise StorageError("could not find a free item after repeated conflicts; try again")


@dataclass(frozen=True)
class PairView:
    """What the judging screen shows: no system names, only the left/right texts."""

    assignment_id: int
    token: str
    question: str
    context: str
    answer_a: str
    answer_b: str
    judged: int
    total: int


@dataclass(frozen=True)
class Progress:
    judged: int
    total: int


def progress(session: Session, study: Study, user: User) -> Progress:
    judged = session.exec(
        select(func.count())
        .select_from(Judgment)
        .join(Assignment, Assignment.id == Judgment.assignment_id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
    ).one()
    open_now = 1 if _open_assignment(session, study, user) else 0
    return Progress(judged=judged, total=judged + open_now + len(_eligible_items(session, study, user)))


def study_of(session: Session, assignment: Assignment) -> Study:
    return session.get(Study, assignment.study_id)


def owned_assignment(session: Session, user: User, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or assignment.user_id != user.id:
        raise AccessDenied("not your assignment")
    return assignment


def assignment_by_token(session: Session, user: User, token: str) -> Assignment:
    assignment = session.exec(select(Assignment).where(Assignment.token == token)).first()
    if assignment is None or assignment.user_id != user.id:
        raise AccessDenied("not your assignment")
    return assignment


def show_pair(session: Session, user: User, assignment_id: int) -> PairView:
    """Render an assignment for its physician; restarts its time-on-task clock if unjudged."""
    assignment = owned_assignment(session, user, assignment_id)
    item = session.get(Item, assignment.item_id)
    study = session.get(Study, assignment.study_id)
    judged = session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).first()
    if judged is None:
        assignment.shown_at = utcnow()
        session.add(assignment)
    left, right = (item.answer_1, item.answer_2) if assignment.left_system == 1 else (item.answer_2, item.answer_1)
    done = progress(session, study, user)
    return PairView(assignment.id, assignment.token, item.question, item.context, left, right, done.judged, done.total)


def _judgment_fields(study: Study, assignment: Assignment, choice: Choice, evasive_a: bool, evasive_b: bool) -> dict:
    right = 3 - assignment.left_system
    preferred = {
        Choice.a_better: system_name(study, assignment.left_system),
        Choice.b_better: system_name(study, right),
    }.get(choice)
    evasive = {assignment.left_system: evasive_a, right: evasive_b}
    return {"choice": choice, "preferred_system": preferred, "evasive_1": evasive[1], "evasive_2": evasive[2]}


def submit_judgment(
    session: Session, user: User, assignment_id: int, choice: Choice | str, *,
    evasive_a: bool = False, evasive_b: bool = False, rationale: str = "",
) -> tuple[Judgment, bool]:
    """Store the judgment of an assignment. Idempotent: if one is stored already (double
    click, retry, replay), that one is returned unchanged. Returns (judgment, created)."""
    assignment = owned_assignment(session, user, assignment_id)
    existing = session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).first()
    if existing is not None:
        return existing, False
    study = session.get(Study, assignment.study_id)
    now = utcnow()
    judgment = Judgment(
        assignment_id=assignment.id,
        rationale=rationale.strip(),
        time_on_task_ms=max(0, int((now - as_utc(assignment.shown_at)).total_seconds() * 1000)),
        app_version=__version__,
        created_at=now,
        updated_at=now,
        **_judgment_fields(study, assignment, Choice(choice), evasive_a, evasive_b),
    )
    try:
        with session.begin_nested():
            session.add(judgment)
    except IntegrityError:  # a concurrent duplicate won the race
        return session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).one(), False
    return judgment, True


def last_judged_assignment(session: Session, study: Study, user: User) -> Assignment | None:
    return session.exec(
        select(Assignment)
        .join(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id, Assignment.user_id == user.id)
        .order_by(Judgment.created_at.desc(), Assignment.sequence.desc())
    ).first()


def revise_judgment(
    session: Session, user: User, assignment_id: int, choice: Choice | str, *,
    evasive_a: bool = False, evasive_b: bool = False, rationale: str = "",
) -> Judgment:
    """Change the physician's most recent judgment (only that one)."""
    assignment = owned_assignment(session, user, assignment_id)
    study = session.get(Study, assignment.study_id)
    last = last_judged_assignment(session, study, user)
    if last is None or last.id != assignment.id:
        raise AccessDenied("only your most recent judgment can be revised")
    judgment = session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).one()
    fields = _judgment_fields(study, assignment, Choice(choice), evasive_a, evasive_b)
    fields["rationale"] = rationale.strip()
    if any(getattr(judgment, k) != v for k, v in fields.items()):
        for key, value in fields.items():
            setattr(judgment, key, value)
        judgment.revisions += 1
        judgment.updated_at = utcnow()
        session.add(judgment)
    return judgment


def judgment_as_shown(session: Session, user: User, assignment_id: int) -> dict:
    """A stored judgment in screen terms (A/B), for the physician who made it."""
    assignment = owned_assignment(session, user, assignment_id)
    judgment = session.exec(select(Judgment).where(Judgment.assignment_id == assignment.id)).one()
    flags = {1: judgment.evasive_1, 2: judgment.evasive_2}
    return {
        "choice": judgment.choice.value,
        "evasive_a": flags[assignment.left_system],
        "evasive_b": flags[3 - assignment.left_system],
        "rationale": judgment.rationale,
    }


# --- researcher views and exports ----------------------------------------------------------


def study_progress(session: Session, study: Study) -> list[dict]:
    """Per physician: assigned, judged, gold judged and gold correct."""
    rows = session.exec(
        select(User, Assignment, Item, Judgment)
        .join(Assignment, Assignment.user_id == User.id)
        .join(Item, Item.id == Assignment.item_id)
        .outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
        .where(Assignment.study_id == study.id)
    ).all()
    table: dict[str, dict] = {}
    for user, _assignment, item, judgment in rows:
        entry = table.setdefault(
            user.name, {"physician": user.name, "simulated": user.simulated, "assigned": 0, "judged": 0,
                        "gold_judged": 0, "gold_correct": 0}
        )
        entry["assigned"] += 1
        if judgment is not None:
            entry["judged"] += 1
            if item.is_gold:
                entry["gold_judged"] += 1
                entry["gold_correct"] += judgment.preferred_system == system_name(study, item.gold_better)
    for entry in table.values():
        entry["gold_accuracy"] = entry["gold_correct"] / entry["gold_judged"] if entry["gold_judged"] else None
    return sorted(table.values(), key=lambda e: e["physician"])


def study_counts(session: Session, study: Study) -> dict:
    items = session.exec(select(func.count()).select_from(Item).where(Item.study_id == study.id, Item.is_gold.is_(False))).one()
    gold = session.exec(select(func.count()).select_from(Item).where(Item.study_id == study.id, Item.is_gold.is_(True))).one()
    judged = session.exec(
        select(func.count()).select_from(Judgment).join(Assignment, Assignment.id == Judgment.assignment_id)
        .where(Assignment.study_id == study.id)
    ).one()
    return {"items": items, "gold_items": gold, "judgments": judged, "target": items * study.overlap}


#: Columns of the judgment export (system names revealed). evaluation/ reads this format.
EXPORT_COLUMNS = [
    "study", "item_id", "rater", "rater_simulated", "is_gold", "gold_better", "sequence",
    "system_a", "system_b", "choice", "preferred_system", "evasive_a", "evasive_b",
    "question", "context", "reference", "answer_a", "answer_b", "rationale",
    "time_on_task_ms", "created_at", "updated_at", "revisions", "app_version",
]


def export_judgments(session: Session, study: Study) -> list[dict]:
    """One row per judgment, oriented as shown (a = left, b = right), system names revealed."""
    rows = session.exec(
        select(Judgment, Assignment, Item, User)
        .join(Assignment, Assignment.id == Judgment.assignment_id)
        .join(Item, Item.id == Assignment.item_id)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.study_id == study.id)
        .order_by(Judgment.created_at, Judgment.id)
    ).all()
    out = []
    for judgment, assignment, item, user in rows:
        left, right = assignment.left_system, 3 - assignment.left_system
        answers = {1: item.answer_1, 2: item.answer_2}
        flags = {1: judgment.evasive_1, 2: judgment.evasive_2}
        out.append({
            "study": study.name,
            "item_id": item.external_id,
            "rater": user.name,
            "rater_simulated": user.simulated,
            "is_gold": item.is_gold,
            "gold_better": system_name(study, item.gold_better) if item.is_gold else "",
            "sequence": assignment.sequence,
            "system_a": system_name(study, left),
            "system_b": system_name(study, right),
            "choice": judgment.choice.value,
            "preferred_system": judgment.preferred_system or "",
            "evasive_a": flags[left],
            "evasive_b": flags[right],
            "question": item.question,
            "context": item.context,
            "reference": item.reference or "",
            "answer_a": answers[left],
            "answer_b": answers[right],
            "rationale": judgment.rationale,
            "time_on_task_ms": judgment.time_on_task_ms,
            "created_at": as_utc(judgment.created_at).isoformat(),
            "updated_at": as_utc(judgment.updated_at).isoformat(),
            "revisions": judgment.revisions,
            "app_version": judgment.app_version,
        })
    return out
