"""The login route and the login sessions, replacing Gradio's own `/login`.

Gradio's login handler runs the password check on the event loop and sees no client address.
Here the check (argon2 plus a database read) runs in a small dedicated thread pool, failures
are delayed with an async sleep, throttling is per client address and per (user, address),
a global budget caps hashing work, and cross-origin posts are refused (login CSRF).

Tokens still live in Gradio's own token table (every Gradio route reads it); this module also
remembers when each was issued, so that a token issued before the user's password changed or
the account was disabled is ended on its next request (see app/middleware.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from app import storage
from app.models import User
from app.security import HashBudget, LoginThrottle, burn_unknown_user_check
from app.storage import sessions

MAX_NAME_CHARS = 256
MAX_PASSWORD_CHARS = 1024


def _lower_priority() -> None:
    """Password checks run niced (Linux: per thread, inherited by argon2's lane threads), so
    under a login flood the CPU goes to physicians' requests first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


# One argon2 check already uses both cores (4 lanes); two at once is plenty and keeps the
# default thread pool, which serves every synchronous route, free for physicians.
_PASSWORD_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-check", initializer=_lower_priority)
# The throttle's counts live in the database: their reads and writes get threads of their own,
# so a flood of logins never queues behind (or in front of) the synchronous routes' threads.
_THROTTLE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="login-throttle")
# Every login is answered within this many seconds, queue included (SECURITY.md): past it the
# answer is "busy, try again", never a wait without end.
LOGIN_ANSWER_BOUND_S = 8.0
# An address whose password failed recently may only queue for a password check when the queue
# is short: under a flood the queue is kept for addresses that have not been guessing.
SUSPECT_MAX_WAIT_S = 1.5
SUSPECT_MEMORY_S = 300.0
MAX_SUSPECTS = 100_000
_ALWAYS_REFUSED = datetime.max.replace(tzinfo=UTC)
READ_ALONG_S = 60.0  # tokens used this recently are re-read along with the one a request needs
READ_ALONG_MAX = 500  # tokens in one read (SQLite's older builds allow 999 parameters)
log = logging.getLogger(__name__)


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

    def _write_change(self, token: str, change: str, now: datetime) -> None:
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
                read = await asyncio.to_thread(self._read_states, due)
            except SQLAlchemyError:
                # Database locked or down: keep the last answers (asked again after `recheck_s`,
                # not by every waiting request in turn) rather than log everyone out.
                log.warning("could not read the login session; using the last known state")
                for other in due:
                    if other in self._known:
                        self._known[other] = (self._known[other][0], time.monotonic())
                cached = self._known.get(token)
                return cached[0] if cached else None
            for other, state in read.items():
                self._remember(other, state)
        self._forget_old()
        return self._known[token][0]

    def _remember(self, token: str, state: sessions.SessionState | None) -> None:
        """A session as read, judged now (idle end, activity to record), written in the background."""
        if state is not None:
            now = datetime.now(UTC)
            touch_every = min(timedelta(seconds=30), self.idle / 4) if self.idle else timedelta(seconds=30)
            state, change = sessions.judge_session(state, now=now, idle=self.idle, active=token in self._active,
                                                   touch_every=touch_every)
            if change is not None:  # written in the background: no request waits for the write lock
                task = asyncio.get_running_loop().run_in_executor(None, self._write_change, token, change, now)
                self._writes.add(task)
                task.add_done_callback(self._writes.discard)
        self._active.discard(token)
        self._known[token] = (state, time.monotonic())

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
                self._cutoffs = await asyncio.to_thread(self._read_cutoffs)
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


def same_origin(request: Request) -> bool:
    """False for a browser post from another origin. Browsers send Origin on every POST (or
    at least a Referer); a request with neither comes from a script, which CSRF cannot use."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    served = {request.headers.get("host", "").lower()}
    if request.headers.get("x-forwarded-host"):  # set by the TLS proxy; a browser cannot add it to a form post
        served.add(request.headers["x-forwarded-host"].split(",")[0].strip().lower())
    return urlsplit(source).netloc.lower() in served - {""}


def _check_password(engine: Engine, name: str, password: str) -> bool:
    with storage.transaction(engine) as session:
        if storage.get_user(session, name) is None:
            burn_unknown_user_check(password)  # as slow as a known name
            return False
        return storage.authenticate(session, name, password) is not None


def _refused(status: int, detail: str, retry_after_s: float | None = None) -> JSONResponse:
    # The Gradio login page only reacts to 400 (it shows "incorrect credentials"), so
    # throttled and busy answers use 400 too; the detail says which it was.
    headers = {"Retry-After": str(max(1, round(retry_after_s)))} if retry_after_s else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _read_form(request: Request) -> tuple[str, str] | None:
    form = await request.form(max_files=0, max_fields=10)
    name, password = form.get("username", ""), form.get("password", "")
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    if len(name) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
        return None
    return name.strip(), password


# The login page (GET /login; app/middleware.py sends a logged-out GET / here). Static text: the
# message and the study to return to are read from the address by the page's own script and
# only ever set as text. The user name survives a wrong password; the server's refusal (wrong
# password, throttled, busy) is shown as it is worded in this module.
# The look of the app's plain HTML form pages (this login page, app/signup.py's sign-up page).
FORM_PAGE_STYLE = """ body { font-family: system-ui, sans-serif; margin: 0; padding: 24px 16px; background: #f8fafc; color: #0f172a; }
 main { max-width: 420px; margin: 8vh auto; background: #fff; border: 1px solid #cbd5e1; border-radius: 8px; padding: 24px; }
 label { display: block; margin-top: 12px; font-weight: 600; }
 input { width: 100%; box-sizing: border-box; font-size: 1rem; padding: 8px; margin-top: 4px; }
 button { margin-top: 16px; width: 100%; padding: 10px; font-size: 1rem; background: #1d4ed8; color: #fff; border: 0; border-radius: 6px; }
 .note { padding: 10px; border-radius: 6px; margin: 12px 0 0; }
"""

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>medalign: log in</title>
<style>
__FORM_STYLE__ #expired { background: #fef3c7; border: 1px solid #f59e0b; }
 #error { background: #fee2e2; border: 1px solid #ef4444; }
</style></head>
<body><main>
<h1>medalign: log in</h1>
<p>Log in with the account your study coordinator gave you.</p>
<p id="expired" class="note" role="alert" hidden></p>
<form id="login" method="post" action="/login">
 <label for="username">username</label><input id="username" name="username" autocomplete="username" required>
 <label for="password">password</label>
 <input id="password" name="password" type="password" autocomplete="current-password" required>
 <p id="error" class="note" role="alert" hidden></p>
 <button type="submit">Login</button>
</form></main>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  const study = params.get('study') || '';
  const note = document.getElementById('expired');
  if (params.get('expired') === 'idle') {
    note.textContent = 'You were logged out after __IDLE__ without activity (so that nobody else ' +
      'can judge in your name on a shared computer). Everything you submitted is saved. Log in again to go on' +
      (study ? ' with the study "' + study + '"' : '') + '.';
    note.hidden = false;
  } else if (params.get('expired')) {
    note.textContent = 'Your session ended, so the judgment on screen may not have been saved. Log in again: ' +
      'you will be back ' + (study ? 'in the study "' + study + '" ' : '') + 'at the pair you were judging.';
    note.hidden = false;
  } else if (params.get('ended') === 'logout') {
    note.textContent = 'You are logged out.';
    note.hidden = false;
  }
  document.getElementById('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const error = document.getElementById('error');
    error.hidden = true;
    let response;
    try {
      response = await fetch('/login', {method: 'POST', body: new FormData(ev.target), credentials: 'same-origin'});
    } catch (e) {
      error.textContent = 'The server did not answer; try again in a moment.'; error.hidden = false; return;
    }
    if (response.ok) { location.assign('/' + (study ? '?study=' + encodeURIComponent(study) : '')); return; }
    let detail = 'Login refused.';
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON: keep the default */ }
    const retry = response.headers.get('Retry-After');
    error.textContent = detail + (retry && /too many|busy/.test(detail) ? ' (about ' + retry + ' s)' : '');
    error.hidden = false;
    const password = document.getElementById('password');
    password.value = ''; password.focus();  // the user name stays as typed
  });
})();
</script></body></html>
""".replace("__FORM_STYLE__", FORM_PAGE_STYLE)


def add_login_route(root: FastAPI, engine: Engine, login_sessions: Sessions, throttle: LoginThrottle,
                    budget: HashBudget) -> None:
    """POST /login (and /login/), registered on `root` before Gradio is mounted so it wins."""

    recent_failures: dict[str, float] = {}  # address -> last failed password here (this process)

    def suspect(address: str) -> bool:
        failed_at = recent_failures.get(address)
        return failed_at is not None and time.monotonic() - failed_at < SUSPECT_MEMORY_S

    def remember_failure(address: str) -> None:
        if len(recent_failures) >= MAX_SUSPECTS:  # bounded under a flood of addresses
            recent_failures.clear()
        recent_failures[address] = time.monotonic()

    async def in_throttle_pool(function, *args):
        return await asyncio.get_running_loop().run_in_executor(_THROTTLE_POOL, function, *args)

    async def login(request: Request) -> JSONResponse:
        if not same_origin(request):
            return _refused(403, "login refused: the form was posted from another site")
        try:
            credentials = await _read_form(request)
        except Exception:  # malformed multipart or urlencoded body
            credentials = None
        if credentials is None:
            return _refused(400, "login refused: send a user name and a password as form fields")
        name, password = credentials
        address = request.client.host if request.client else "unknown"
        taken: list = []  # the throttle's stamp once counted, so a cut-off attempt is withdrawn
        try:
            async with asyncio.timeout(LOGIN_ANSWER_BOUND_S):
                return await checked_login(name, password, address, taken)
        except TimeoutError:
            if taken:
                asyncio.get_running_loop().run_in_executor(_THROTTLE_POOL, throttle.withdraw, name, address, taken[0])
            return _refused(503, "the server is busy checking logins; try again in a few seconds", 5.0)

    async def checked_login(name: str, password: str, address: str, taken: list) -> JSONResponse:
        stamp = await in_throttle_pool(throttle.attempt, name, address)
        if stamp is None:
            await asyncio.sleep(throttle.delay_s)
            return _refused(400, "too many failed logins from this address; try again later", throttle.window_s)
        taken.append(stamp)
        if not await budget.acquire(SUSPECT_MAX_WAIT_S if suspect(address) else None):
            taken.clear()
            await in_throttle_pool(throttle.withdraw, name, address, stamp)  # no password was checked: not a failure
            return _refused(400, "the server is busy checking logins; try again in a few seconds", budget.max_wait_s)
        started = datetime.now(UTC)  # before the check: a password changed meanwhile ends this session
        ok = await asyncio.get_running_loop().run_in_executor(_PASSWORD_POOL, _check_password, engine, name, password)
        taken.clear()  # checked: a failure now counts, whatever happens next
        if not ok:
            remember_failure(address)
            await asyncio.sleep(throttle.delay_s)
            return _refused(400, "Incorrect credentials.")
        await in_throttle_pool(throttle.succeeded, name, address, stamp)
        token = await login_sessions.issue(name, started)
        response = JSONResponse({"success": True})
        secure_cookie, plain_cookie = login_sessions.cookie_names
        # Gradio reads either cookie; SameSite=Lax (Gradio uses None, for iframes) keeps the
        # session out of cross-site posts, and this app is never framed.
        response.set_cookie(secure_cookie, token, httponly=True, samesite="lax", secure=True)
        response.set_cookie(plain_cookie, token, httponly=True, samesite="lax")
        return response

    for path in ("/login", "/login/"):
        root.add_api_route(path, login, methods=["POST"], include_in_schema=False)

    page = LOGIN_PAGE.replace("__IDLE__", login_sessions.idle_text)

    async def login_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def logout(request: Request) -> RedirectResponse:
        """Ends the session in the database too (Gradio's own /logout only forgets it in this process)."""
        response = RedirectResponse("/login?ended=logout", status_code=303)
        for cookie in login_sessions.cookie_names:
            token = request.cookies.get(cookie)
            if token:
                await login_sessions.log_out(token)
            response.delete_cookie(cookie, path="/")
        return response

    for path in ("/logout", "/logout/"):
        root.add_api_route(path, logout, methods=["GET"], include_in_schema=False)

    for path in ("/login", "/login/"):
        root.add_api_route(path, login_page, methods=["GET"], include_in_schema=False)
