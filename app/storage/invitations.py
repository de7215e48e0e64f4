"""One-time sign-up links for physicians (issue 22).

A researcher invites a named physician: the account is created at once (disabled, with a random
password nobody is told), optionally made a member of a study, and a random token is returned
for the link; only its sha256 is stored. The physician opens the link before it expires, sets
their own password, and the account is enabled. A link works once; a newer invitation for the
same physician replaces an older unused one. A researcher may revoke an open link (a link sent to
the wrong address, a physician who left): its row stays, with who revoked it and when, and the link
then says it was withdrawn; the account stays disabled and may be invited again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from app.models import Invitation, Role, Study
from app.security import MIN_PASSWORD_LENGTH
from app.storage.base import StorageError, as_utc
from app.storage.membership import add_members
from app.storage.users import add_user, get_user, set_disabled, set_password

MAX_DAYS = 30  # a link lives at most a month: an old unused link in a mailbox is a way in
MAX_PASSWORD_CHARS = 1024


class InvitationRefused(StorageError):
    """A link that cannot be used (unknown, used, expired, replaced), in words for the physician."""


class UnknownInvitation(InvitationRefused):
    """No invitation has this token (a mistyped link, or someone guessing: the throttle counts it)."""


@dataclass(frozen=True)
class InvitationView:
    """An invitation as the sign-up page shows it (no token, no hash)."""

    user_name: str
    study: str | None
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _pending_invitee(session: Session, name: str) -> bool:
    """True when `name` is an account made by an invitation and never signed up: it may be invited
    again (a lost or expired link); any other existing account may not."""
    invitations = list(session.exec(select(Invitation).where(Invitation.user_name == name)))
    return bool(invitations) and all(i.used_at is None for i in invitations)


def create_invitation(session: Session, name: str, created_by: str, *, days: float = 7,
                      study: Study | None = None, now: datetime | None = None) -> str:
    """A new link's token for the physician `name` (the account is made now if it does not exist)."""
    now = now or datetime.now(UTC)
    if not 0 < days <= MAX_DAYS:
        raise StorageError(f"an invitation lasts more than 0 and at most {MAX_DAYS} days")
    name = (name or "").strip()
    user = get_user(session, name)
    if user is None:
        user = add_user(session, name, Role.physician, secrets.token_urlsafe(32))  # the name checked as for any user
        set_disabled(session, user.name, True)
    elif not _pending_invitee(session, name):
        raise StorageError(f"{name!r} already has an account; invitations are for new physicians")
    for older in session.exec(select(Invitation).where(Invitation.user_name == name, Invitation.used_at.is_(None),
                                                       Invitation.revoked_at.is_(None))):
        older.revoked_at = now
        session.add(older)
    if study is not None:
        add_members(session, study, [name])
    token = secrets.token_urlsafe(32)
    session.add(Invitation(token_sha256=token_hash(token), user_name=name, study_id=study.id if study else None,
                           created_by=created_by, created_at=now, expires_at=now + timedelta(days=days)))
    session.flush()
    return token


def _usable(session: Session, token: str, now: datetime) -> Invitation:
    invitation = session.exec(select(Invitation).where(Invitation.token_sha256 == token_hash(token or ""))).first()
    if invitation is None:
        raise UnknownInvitation("This sign-up link is not valid. Check that the whole link was copied, "
                                "or ask your study coordinator for a new one.")
    if invitation.used_at is not None:
        raise InvitationRefused("This sign-up link has already been used; a link works once. Log in with the "
                                "password you chose, or ask your study coordinator for a new link.")
    if invitation.revoked_at is not None and invitation.revoked_by:
        raise InvitationRefused(f"This sign-up link was withdrawn by the study team on "
                                f"{as_utc(invitation.revoked_at):%Y-%m-%d at %H:%M} UTC and no longer works; ask your "
                                "study coordinator if you should still join.")
    if invitation.revoked_at is not None:
        raise InvitationRefused("This sign-up link was replaced by a newer one; use the latest link your study "
                                "coordinator sent.")
    expires = as_utc(invitation.expires_at)
    if expires <= now:
        raise InvitationRefused(f"This sign-up link expired on {expires:%Y-%m-%d at %H:%M} UTC; ask your study "
                                "coordinator for a new one.")
    return invitation


def open_invitation(session: Session, token: str, *, now: datetime | None = None) -> InvitationView:
    """What the sign-up page shows for a link, or InvitationRefused saying why it cannot be used."""
    invitation = _usable(session, token, now or datetime.now(UTC))
    study = session.get(Study, invitation.study_id) if invitation.study_id is not None else None
    return InvitationView(invitation.user_name, study.name if study else None, as_utc(invitation.expires_at))


def redeem_invitation(session: Session, token: str, password: str, *, now: datetime | None = None) -> InvitationView:
    """Set the invited physician's password and enable the account, once: the link is marked used
    by a conditional update, so of two requests racing with the same link one wins."""
    now = now or datetime.now(UTC)
    view = open_invitation(session, token, now=now)
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_CHARS:
        raise StorageError(f"choose a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_CHARS} characters")
    marked = session.exec(update(Invitation).where(Invitation.token_sha256 == token_hash(token),
                                                   Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
                          .values(used_at=now))
    if marked.rowcount != 1:  # used, or revoked, since it was read: say which
        session.expire_all()
        _usable(session, token, now)
        raise InvitationRefused("This sign-up link has already been used; a link works once.")
    set_password(session, view.user_name, password)
    set_disabled(session, view.user_name, False)
    session.flush()
    return view


def _state(invitation: Invitation, now: datetime) -> str:
    if invitation.used_at:
        return "used"
    if invitation.revoked_at:
        return "revoked" if invitation.revoked_by else "replaced"
    return "expired" if as_utc(invitation.expires_at) <= now else "open"


def list_invitations(session: Session, *, now: datetime | None = None) -> list[dict]:
    """Every invitation, newest first, with its state in words (for the researcher's dashboard)."""
    now = now or datetime.now(UTC)
    studies = {s.id: s.name for s in session.exec(select(Study))}
    out = []
    for i in session.exec(select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id.desc())):
        revoked = f"by {i.revoked_by}, {as_utc(i.revoked_at):%Y-%m-%d %H:%M} UTC" if i.revoked_by else ""
        out.append({"physician": i.user_name, "study": studies.get(i.study_id, ""), "state": _state(i, now),
                    "expires": f"{as_utc(i.expires_at):%Y-%m-%d %H:%M} UTC", "created_by": i.created_by,
                    "revoked": revoked})
    return out


def open_invitations(session: Session, *, now: datetime | None = None) -> list[dict]:
    """The links that still work (not used, revoked, replaced or expired), newest first: what may be revoked."""
    return [row for row in list_invitations(session, now=now) if row["state"] == "open"]


def revoke_invitation(session: Session, name: str, revoked_by: str, *, now: datetime | None = None) -> dict:
    """Revoke the open link of the physician `name` (there is at most one: a newer one replaces the
    older): the row is kept and records who revoked it and when. Refused, in words, when there is
    no open link. The update is conditional, so a sign-up racing with it either wins or is refused."""
    now = now or datetime.now(UTC)
    name = (name or "").strip()
    latest = session.exec(select(Invitation).where(Invitation.user_name == name)
                          .order_by(Invitation.created_at.desc(), Invitation.id.desc())).first()
    if latest is None:
        raise StorageError(f"no invitation for {name!r}; nothing to revoke")
    state = _state(latest, now)
    if state == "used":
        raise StorageError(f"{name!r} already signed up with their link; nothing to revoke (to stop them "
                           f"logging in: medalign users disable {name})")
    if state == "revoked":
        raise StorageError(f"{name!r}'s link was already revoked by {latest.revoked_by} on "
                           f"{as_utc(latest.revoked_at):%Y-%m-%d %H:%M} UTC")
    if state == "expired":
        raise StorageError(f"{name!r}'s link already expired on {as_utc(latest.expires_at):%Y-%m-%d %H:%M} UTC; "
                           "nothing to revoke")
    marked = session.exec(update(Invitation).where(Invitation.id == latest.id, Invitation.used_at.is_(None),
                                                   Invitation.revoked_at.is_(None))
                          .values(revoked_at=now, revoked_by=revoked_by))
    if marked.rowcount != 1:
        raise StorageError(f"{name!r}'s link was used or revoked a moment ago; nothing revoked")
    session.expire_all()
    return next(row for row in list_invitations(session, now=now) if row["physician"] == name)
