"""The login route, replacing Gradio's own `/login` (the sessions it issues: app/login_sessions.py).

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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.engine import Engine

from app import storage
from app.login_sessions import Sessions
from app.security import HashBudget, LoginThrottle, burn_unknown_user_check

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
log = logging.getLogger(__name__)


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
