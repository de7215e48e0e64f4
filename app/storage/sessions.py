"""Login sessions and the login throttle's counted attempts, in the database (issue 22), so that
a restart keeps everyone logged in and several app processes on one database share both.

The browser's token is never stored, only its sha256. Every function takes an open Session;
the callers (app/login.py, app/security.py) run them in threads, never on the event loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, text
from sqlmodel import Session, select

from app.models import LoginAttempt, LoginSession
from app.storage.base import as_utc


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionState:
    user: str
    issued_at: datetime
    ended_reason: str  # "" while the session holds
    last_seen_at: datetime | None = None


def start_session(session: Session, user: str, token: str, issued_at: datetime) -> None:
    session.add(LoginSession(token_sha256=token_digest(token), user_name=user, issued_at=issued_at,
                             last_seen_at=issued_at))


def read_session(connection, token: str) -> SessionState | None:
    """The login `token` names (None: never issued), read on a plain connection: in SQLite's WAL
    mode a read never waits for a writer, so a long write elsewhere holds up no request."""
    return read_sessions(connection, [token])[token]


def read_sessions(connection, tokens: list[str]) -> dict[str, SessionState | None]:
    """The logins `tokens` name, in one statement (None for a token never issued)."""
    digests = {token_digest(token): token for token in tokens}
    rows = connection.execute(
        select(LoginSession.token_sha256, LoginSession.user_name, LoginSession.issued_at, LoginSession.last_seen_at,
               LoginSession.ended_at, LoginSession.ended_reason).where(LoginSession.token_sha256.in_(list(digests))))
    found: dict[str, SessionState | None] = dict.fromkeys(tokens)
    for digest, user, issued_at, last_seen_at, ended_at, reason in rows:
        found[digests[digest]] = SessionState(user, as_utc(issued_at), reason if ended_at is not None else "",
                                              as_utc(last_seen_at))
    return found


def judge_session(state: SessionState, *, now: datetime, idle: timedelta | None, active: bool,
                  touch_every: timedelta = timedelta(seconds=30)) -> tuple[SessionState, str | None]:
    """The session as it stands now, and what to write: "idle" (unused for longer than `idle`:
    it ends), "seen" (an `active` request, the physician's own doing rather than a heartbeat,
    moves the last activity on, at most once per `touch_every`), or None."""
    if state.ended_reason:
        return state, None
    if idle is not None and now - state.last_seen_at > idle:
        return SessionState(state.user, state.issued_at, "idle", state.last_seen_at), "idle"
    if active and now - state.last_seen_at > touch_every:
        return SessionState(state.user, state.issued_at, "", now), "seen"
    return state, None


def mark_session(session: Session, token: str, change: str, *, now: datetime) -> None:
    row = session.exec(select(LoginSession).where(LoginSession.token_sha256 == token_digest(token))).first()
    if row is None or row.ended_at is not None:
        return
    if change == "seen":
        row.last_seen_at = now
    else:
        row.ended_at, row.ended_reason = now, change
    session.add(row)


def end_session(session: Session, token: str, reason: str, *, now: datetime) -> None:
    mark_session(session, token, reason, now=now)


def _lock_keys(session: Session, keys: list[str]) -> None:
    """PostgreSQL: one transaction at a time per throttle key, so parallel guesses from several
    processes are counted one after another (SQLite's BEGIN IMMEDIATE already serialises)."""
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(keys):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def count_and_add_attempt(session: Session, limits: dict[str, int], attempt: str, *, now: float,
                          window_s: float) -> bool:
    """Count the attempt under every key unless one key already has its limit of attempts within
    the window (then nothing is added and False is returned). Old attempts are dropped."""
    _lock_keys(session, list(limits))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window_s))
    for key, limit in limits.items():
        recent = session.exec(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.key == key)).one()
        if recent >= limit:
            return False
    for key in limits:
        session.add(LoginAttempt(key=key, attempt=attempt, at=now))
    return True


def withdraw_attempt(session: Session, attempt: str, *, clear_key: str | None = None) -> None:
    """Forget one attempt under all its keys (and, after a success, every attempt under `clear_key`)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempt == attempt))
    if clear_key is not None:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == clear_key))


def attempts_under(session: Session, key: str, *, since: float) -> int:
    return session.exec(select(func.count()).select_from(LoginAttempt)
                        .where(LoginAttempt.key == key, LoginAttempt.at >= since)).one()
