"""Login sessions as this process knows them (issue 22; batched reads, issue 26): which token
belongs to whom and whether it still holds, read from the database at most once every
`recheck_s` per token, Gradio's token table kept in step. The login route is app/login.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from app import storage
from app.models import User
from app.storage import sessions

_ALWAYS_REFUSED = datetime.max.replace(tzinfo=UTC)
READ_ALONG_S = 60.0  # tokens used this recently are re-read along with the one a request needs
READ_ALONG_MAX = 500  # tokens in one read (SQLite's older builds allow 999 parameters)
log = logging.getLogger(__name__)
# The per-request checks' reads (batched, one at a time) have a thread of their own: in the
# default pool they would queue behind the background writes, which wait for SQLite's write lock
# behind every physician's submit.
_READS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-read")


def _reader_for(engine: Engine) -> Engine:
    """The engine for the per-request credential read. The app's SQLite engine begins every
    transaction IMMEDIATE (the write lock); a plain read in WAL mode never waits for a writer,
    so a long write elsewhere does not hold up every logged-in request."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine  # an in-memory database exists only on its own connections
    return create_engine(engine.url.render_as_string(hide_password=False),
                         connect_args={"check_same_thread": False, "timeout": 5})


class _IssueTimes:
    def __init__(self, known: dict) -> None:
        self._known = known

    def get(self, token: str, default=None):
        state = self._known.get(token, (None, 0))[0]
        return state.issued_at if state is not None else default


class Sessions:
    """Which login token belongs to whom, and whether it still holds (issue 22: in the database).

    A token holds while its row in `login_session` is not ended (logout, or `idle_timeout_s`
    without activity), the user is enabled, and it was issued after the user's last credential
    change. Gradio's own token table is only a cache of the tokens that hold: `sync` (called
    for every request by SessionLoader) fills it from the database, so a restarted process, or
    a second process on the same database, knows every session. Database reads run in threads,
    at most once every `recheck_s` seconds per token (and once for the whole user table).
    """

    def __init__(self, engine: Engine, recheck_s: float = 1.0, idle_timeout_s: float | None = 1800.0) -> None:
        self.engine = engine
        self.reader = _reader_for(engine)
        self.gradio_app = None  # set once Gradio is mounted; its .tokens maps token -> user name
        self.recheck_s = recheck_s
        self.idle = timedelta(seconds=idle_timeout_s) if idle_timeout_s else None
        self._known: dict[str, tuple[sessions.SessionState | None, float]] = {}
        self._used: dict[str, float] = {}  # token -> its last request (monotonic): who is read along
        self._active: set[str] = set()  # tokens with an active request since their last read
        self._read_lock = asyncio.Lock()
        self._cutoffs: dict[str, datetime | None] = {}
        self._read_at = float("-inf")
        self._refresh_lock = asyncio.Lock()
        self._writes: set = set()  # background writes of activity and ends, kept until done

    @property
    def issued(self) -> _IssueTimes:
        """token -> issue time, for the sessions this process has read (app/middleware.py ends a
        session past its maximum age)."""
        return _IssueTimes(self._known)

    @property
    def idle_text(self) -> str:
        seconds = round(self.idle.total_seconds()) if self.idle else 0
        return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"

    @property
    def cookie_names(self) -> tuple[str, str]:
        cookie_id = self.gradio_app.cookie_id
        return f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"

    def tokens_of(self, connection) -> list[str]:
        """The session tokens a request carries: the same token usually comes in both cookies
        (secure and plain), and is checked once."""
        cookies = connection.cookies
        tokens = [cookies.get(name) for name in self.cookie_names]
        return [t for i, t in enumerate(tokens) if t and t not in tokens[:i]]

    def _store(self, user: str, token: str, issued_at: datetime) -> None:
        with storage.transaction(self.engine) as session:
            sessions.start_session(session, user, token, issued_at)

    async def issue(self, user: str, issued_at: datetime) -> str:
        token = secrets.token_urlsafe(32)
        await asyncio.to_thread(self._store, user, token, issued_at)
        self.gradio_app.tokens[token] = user
        self._known[token] = (sessions.SessionState(user, issued_at, ""), time.monotonic())
        return token

    def end(self, token: str) -> None:
        """Forget the token in this process (the database row says whether it still holds)."""
        self.gradio_app.tokens.pop(token, None)
        self._known.pop(token, None)
        self._used.pop(token, None)
        self._active.discard(token)

    def _end_stored(self, token: str, reason: str) -> None:
        with storage.transaction(self.engine) as session:
            sessions.end_session(session, token, reason, now=datetime.now(UTC))

    async def log_out(self, token: str) -> None:
        await asyncio.to_thread(self._end_stored, token, "logout")
        self.end(token)

    def _read_states(self, tokens: list[str]) -> dict[str, sessions.SessionState | None]:
        with self.reader.connect() as connection:
            return sessions.read_sessions(connection, tokens)

    def _write_changes(self, changes: list[tuple[str, str]], now: datetime) -> None:
        """Activity and idle ends of the sessions one read judged, one short transaction each:
        one read can judge a hundred sessions, and a transaction holding SQLite's write lock
        for all of them would hold up every submit meanwhile."""
        for token, change in changes:
            try:
                with storage.transaction(self.engine) as session:
                    sessions.mark_session(session, token, change, now=now)
            except SQLAlchemyError:  # locked for long: the next request writes it
                log.warning("could not record the login session's activity")

    def _fresh(self, token: str) -> tuple[sessions.SessionState | None, float] | None:
        cached = self._known.get(token)
        return cached if cached is not None and time.monotonic() - cached[1] <= self.recheck_s else None

    def _due(self, token: str) -> list[str]:
        """`token` and, read along in the same statement, the other tokens used in the last
        minute whose answer is past half its age: under load one read a moment serves every
        physician instead of one read (and one thread) per physician per `recheck_s`."""
        now = time.monotonic()
        due = [token]
        for other, used in self._used.items():
            if len(due) >= READ_ALONG_MAX:
                break
            cached = self._known.get(other)
            if (other != token and now - used <= READ_ALONG_S
                    and (cached is None or now - cached[1] > self.recheck_s / 2)):
                due.append(other)
        return due

    async def state(self, token: str, *, active: bool = False) -> sessions.SessionState | None:
        self._used[token] = time.monotonic()
        if active:
            self._active.add(token)  # counted at the token's next read (a "seen" write at most every 30 s)
        cached = self._fresh(token)
        if cached is not None:
            return cached[0]
        async with self._read_lock:  # one read at a time; a read that finished meanwhile may hold the answer
            cached = self._fresh(token)
            if cached is not None:
                return cached[0]
            due = self._due(token)
            try:
                read = await asyncio.get_running_loop().run_in_executor(_READS, self._read_states, due)
            except SQLAlchemyError:
                # Database locked or down: keep the last answers (asked again after `recheck_s`,
                # not by every waiting request in turn) rather than log everyone out.
                log.warning("could not read the login session; using the last known state")
                for other in due:
                    if other in self._known:
                        self._known[other] = (self._known[other][0], time.monotonic())
                cached = self._known.get(token)
                return cached[0] if cached else None
            now = datetime.now(UTC)
            changes = [(other, change) for other, state in read.items() if (change := self._remember(other, state, now))]
            if changes:  # written in the background: no request waits for the write lock
                task = asyncio.get_running_loop().run_in_executor(None, self._write_changes, changes, now)
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
        self._forget_old()
        return self._known[token][0]

    def _remember(self, token: str, state: sessions.SessionState | None, now: datetime) -> str | None:
        """A session as read, judged now; what to write for it (idle end, activity), if anything."""
        change = None
        if state is not None:
            touch_every = min(timedelta(seconds=30), self.idle / 4) if self.idle else timedelta(seconds=30)
            state, change = sessions.judge_session(state, now=now, idle=self.idle, active=token in self._active,
                                                   touch_every=touch_every)
        self._active.discard(token)
        self._known[token] = (state, time.monotonic())
        return change

    def _forget_old(self) -> None:
        if len(self._known) > 10_000 or len(self._used) > 10_000:  # forget old entries (bounded memory)
            horizon = time.monotonic() - 60
            self._known = {t: v for t, v in self._known.items() if v[1] >= horizon}
            self._used = {t: v for t, v in self._used.items() if v >= horizon}
            self._active = {t for t in self._active if t in self._known}

    async def sync(self, token: str, *, active: bool) -> sessions.SessionState | None:
        """Put a token that holds into Gradio's table (or take one that no longer holds out)."""
        state = await self.state(token, active=active)
        if state is not None and not state.ended_reason and await self._issued_after_cutoff(state):
            self.gradio_app.tokens[token] = state.user
        else:
            self.gradio_app.tokens.pop(token, None)
        return state

    def _read_cutoffs(self) -> dict[str, datetime | None]:
        """Every user's cutoff: tokens issued before it are refused (None: none are)."""
        with self.reader.connect() as connection:
            rows = connection.execute(select(User.name, User.disabled, User.credentials_changed_at)).all()
        return {name: _ALWAYS_REFUSED if disabled else (storage.as_utc(changed) if changed is not None else None)
                for name, disabled, changed in rows}

    async def _refresh(self, *, force: bool = False) -> None:
        # One read of the whole (small) user table per `recheck_s` for all requests, rather than
        # one per user: under load every logged-in physician's requests hit this check.
        if not force and time.monotonic() - self._read_at <= self.recheck_s:
            return  # fresh: no lock to take (every request comes here)
        async with self._refresh_lock:
            if not force and time.monotonic() - self._read_at <= self.recheck_s:
                return
            try:
                self._cutoffs = await asyncio.get_running_loop().run_in_executor(_READS, self._read_cutoffs)
                self._read_at = time.monotonic()
            except SQLAlchemyError:
                log.warning("could not re-read the users' credentials; using the last known state")

    async def _issued_after_cutoff(self, state: sessions.SessionState) -> bool:
        await self._refresh()
        if state.user not in self._cutoffs:  # added since the last read (or the read failed): read now
            await self._refresh(force=True)
        if state.user not in self._cutoffs:
            return self._read_at == float("-inf")  # never read: as valid as before any failure
        cutoff = self._cutoffs[state.user]
        return cutoff is None or state.issued_at >= cutoff

    async def still_valid(self, token: str) -> bool:
        user = self.gradio_app.tokens.get(token)
        state = await self.state(token)
        if user is None or state is None or state.ended_reason or state.user != user:
            return False
        return await self._issued_after_cutoff(state)
