"""Accounts: add, find, authenticate, change password, disable, check a role."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from app.models import Role, User, utcnow
from app.security import hash_password, needs_rehash, verify_password
from app.storage.base import AccessDenied, StorageError, fold, visible_text

MAX_NAME_CHARS = 64


_BY_NAME = select(User).where(User.name == bindparam("name"))  # built once: every request looks its user up


def get_user(session: Session, name: str) -> User | None:
    return session.exec(_BY_NAME, params={"name": name}).first()


def require_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise StorageError(f"no user named {name!r}")
    return user


def add_user(session: Session, name: str, role: Role | str, password: str, *, simulated: bool = False) -> User:
    name = name.strip()
    if not name or any(c.isspace() for c in name) or len(name) > MAX_NAME_CHARS:
        raise StorageError(f"a user name must be 1-{MAX_NAME_CHARS} characters with no spaces")
    if visible_text(name) != name or not name.isprintable():
        raise StorageError("a user name must not contain invisible or control characters")
    clash = next((u.name for u in list_users(session) if fold(u.name) == fold(name)), None)
    if clash is not None:  # drA and drＡ would look the same on every screen
        raise StorageError(f"user {name!r} already exists" + ("" if clash == name else f" (as {clash!r})"))
    user = User(name=name, role=Role(role), password_hash=hash_password(password), simulated=simulated)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, name: str, password: str) -> None:
    user = require_user(session, name)
    user.password_hash = hash_password(password)
    user.credentials_changed_at = utcnow()  # ends every session issued before now
    session.add(user)


def set_disabled(session: Session, name: str, disabled: bool = True) -> None:
    user = require_user(session, name)
    user.disabled = disabled
    user.credentials_changed_at = utcnow()
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
