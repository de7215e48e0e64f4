"""Study membership (issue 22): which physicians a study is for. A study with members is listed
for, opened by and assigned to its members only; one without members is open to every physician."""

from __future__ import annotations

from sqlmodel import Session, select

from app.models import Role, Study, StudyMember, User
from app.storage.base import StorageError
from app.storage.studies import list_studies
from app.storage.users import get_user


def study_members(session: Session, study: Study) -> list[User]:
    return list(session.exec(select(User).join(StudyMember, StudyMember.user_id == User.id)
                             .where(StudyMember.study_id == study.id).order_by(User.name)))


def add_members(session: Session, study: Study, names: list[str]) -> list[str]:
    """Make the named physicians members (every name checked first: nothing half-added); returns
    the names that were not members yet."""
    users = []
    for name in names:
        user = get_user(session, name)
        if user is None:
            raise StorageError(f"no user named {name!r}")
        if user.role is not Role.physician:
            raise StorageError(f"{name!r} is a {user.role.value}, not a physician")
        users.append(user)
    present = {u.id for u in study_members(session, study)}
    added = []
    for user in users:
        if user.id not in present:
            session.add(StudyMember(study_id=study.id, user_id=user.id))
            present.add(user.id)
            added.append(user.name)
    session.flush()
    return added


def remove_members(session: Session, study: Study, names: list[str]) -> list[str]:
    """End the named physicians' membership (every name checked first: nothing half-removed);
    returns the names that were members. Their judgments and assignments stay as they are. A study
    left without members is open to every physician again: the caller says so."""
    members = {u.name: u for u in study_members(session, study)}
    for name in names:
        if get_user(session, name) is None:
            raise StorageError(f"no user named {name!r}")
    removed = [name for name in dict.fromkeys(names) if name in members]
    for name in removed:
        row = session.exec(select(StudyMember).where(StudyMember.study_id == study.id,
                                                     StudyMember.user_id == members[name].id)).one()
        session.delete(row)
    session.flush()
    return removed


def physicians(session: Session) -> list[User]:
    """Every physician account that can be a member (model judges are no physicians)."""
    return [u for u in session.exec(select(User).where(User.role == Role.physician).order_by(User.name))
            if u.rater_kind == "physician"]


def may_judge(session: Session, study: Study, user: User) -> bool:
    known = session.info.get(("may_judge", study.id, user.id))  # read with the assignment (assignment_by_token)
    if known is not None:
        return known
    members = session.exec(select(StudyMember.user_id).where(StudyMember.study_id == study.id)).all()
    return not members or user.id in members


def studies_for(session: Session, user: User) -> list[Study]:
    """The studies a physician sees: those they are a member of, and those open to all."""
    return [s for s in list_studies(session) if may_judge(session, s, user)]
