"""The sign-up page of an invitation link (issue 22): GET /signup?token=... says in words whether
the link can be used (unknown, used, expired or replaced links say so); POST /signup sets the
physician's password once and logs them in.

Guarded like /login (app/login.py): same-origin posts only, the throttle counts unknown links per
address (someone guessing tokens is stopped as a password guesser is), password hashing goes
through the same budget and thread pool, and every answer comes within the same bound.
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine

from app import storage
from app.login import (
    _PASSWORD_POOL,
    _THROTTLE_POOL,
    FORM_PAGE_STYLE,
    LOGIN_ANSWER_BOUND_S,
    MAX_PASSWORD_CHARS,
    Sessions,
    _refused,
    same_origin,
)
from app.security import MIN_PASSWORD_LENGTH, HashBudget, LoginThrottle
from app.storage import invitations

THROTTLE_NAME = "(sign-up link)"  # the throttle's user part for link attempts: one pair per address
MAX_TOKEN_CHARS = 200

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>medalign: sign up</title>
<style>
__FORM_STYLE__ #error, #refused { background: #fee2e2; border: 1px solid #ef4444; }
 a { color: #1d4ed8; }
</style></head>
<body><main>
<h1>medalign: sign up</h1>
__BODY__
</main>
<script>
(() => {
  const form = document.getElementById('signup');
  if (!form) return;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const error = document.getElementById('error');
    error.hidden = true;
    const data = new FormData(form);
    if (data.get('password') !== data.get('confirm')) {
      error.textContent = 'The two passwords differ; type the same password twice.'; error.hidden = false; return;
    }
    let response;
    try {
      response = await fetch('/signup', {method: 'POST', body: data, credentials: 'same-origin'});
    } catch (e) {
      error.textContent = 'The server did not answer; try again in a moment.'; error.hidden = false; return;
    }
    let body = {};
    try { body = await response.json(); } catch (e) { /* not JSON */ }
    if (response.ok) {
      location.assign('/' + (body.study ? '?study=' + encodeURIComponent(body.study) : '')); return;
    }
    error.textContent = body.detail || 'Sign-up refused.'; error.hidden = false;
  });
})();
</script></body></html>
""".replace("__FORM_STYLE__", FORM_PAGE_STYLE)


def _form(view: invitations.InvitationView, token: str) -> str:
    study = f" for the study <b>{html.escape(view.study)}</b>" if view.study else ""
    return (f"<p>You are invited to judge answers{study} as <b>{html.escape(view.user_name)}</b>. Choose your "
            f"password (at least {MIN_PASSWORD_LENGTH} characters); this link works once and expires on "
            f"{view.expires_at:%Y-%m-%d at %H:%M} UTC.</p>"
            '<form id="signup" method="post" action="/signup">'
            f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
            f'<input type="text" name="username" autocomplete="username" value="{html.escape(view.user_name, quote=True)}"'
            ' hidden readonly aria-hidden="true" tabindex="-1">'
            '<label for="password">new password</label><input id="password" name="password" type="password" '
            f'autocomplete="new-password" minlength="{MIN_PASSWORD_LENGTH}" required>'
            '<label for="confirm">new password again</label><input id="confirm" name="confirm" type="password" '
            f'autocomplete="new-password" minlength="{MIN_PASSWORD_LENGTH}" required>'
            '<p id="error" class="note" role="alert" hidden></p>'
            '<button type="submit">Set my password and start</button></form>')


def _refusal(message: str) -> str:
    return (f'<p id="refused" class="note" role="alert">{html.escape(message)}</p>'
            '<p><a href="/login">Go to the login page</a></p>')


def _page_route(engine: Engine, throttle: LoginThrottle):
    """GET /signup: the form, or in words why the link cannot be used (unknown links counted)."""

    async def in_throttle_pool(function, *args):
        return await asyncio.get_running_loop().run_in_executor(_THROTTLE_POOL, function, *args)

    def look_up(token: str):
        with storage.transaction(engine) as session:
            return invitations.open_invitation(session, token)

    async def signup_page(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")[:MAX_TOKEN_CHARS]
        address = request.client.host if request.client else "unknown"
        stamp = await in_throttle_pool(throttle.attempt, THROTTLE_NAME, address)
        if stamp is None:
            await asyncio.sleep(throttle.delay_s)
            body = _refusal("Too many unknown sign-up links were tried from this address; try again later.")
            return HTMLResponse(PAGE.replace("__BODY__", body), status_code=429, headers={"cache-control": "no-store"})
        try:
            view = await asyncio.to_thread(look_up, token)
        except invitations.UnknownInvitation as exc:  # stays counted: someone may be guessing links
            await asyncio.sleep(throttle.delay_s)
            return HTMLResponse(PAGE.replace("__BODY__", _refusal(str(exc))), status_code=404,
                                headers={"cache-control": "no-store"})
        except invitations.InvitationRefused as exc:
            await in_throttle_pool(throttle.withdraw, THROTTLE_NAME, address, stamp)
            return HTMLResponse(PAGE.replace("__BODY__", _refusal(str(exc))), status_code=410,
                                headers={"cache-control": "no-store"})
        await in_throttle_pool(throttle.withdraw, THROTTLE_NAME, address, stamp)
        return HTMLResponse(PAGE.replace("__BODY__", _form(view, token)), headers={"cache-control": "no-store"})

    return signup_page


def add_signup_route(root: FastAPI, engine: Engine, login_sessions: Sessions, throttle: LoginThrottle,
                     budget: HashBudget) -> None:
    async def in_throttle_pool(function, *args):
        return await asyncio.get_running_loop().run_in_executor(_THROTTLE_POOL, function, *args)

    signup_page = _page_route(engine, throttle)

    def redeem(token: str, password: str):
        with storage.transaction(engine) as session:
            return invitations.redeem_invitation(session, token, password)

    async def redeemed(token: str, password: str, address: str) -> JSONResponse:
        stamp = await in_throttle_pool(throttle.attempt, THROTTLE_NAME, address)
        if stamp is None:
            await asyncio.sleep(throttle.delay_s)
            return _refused(429, "too many unknown sign-up links from this address; try again later",
                            throttle.window_s)
        if not await budget.acquire():
            await in_throttle_pool(throttle.withdraw, THROTTLE_NAME, address, stamp)
            return _refused(503, "the server is busy; try again in a few seconds", budget.max_wait_s)
        try:
            view = await asyncio.get_running_loop().run_in_executor(_PASSWORD_POOL, redeem, token, password)
        except invitations.UnknownInvitation as exc:
            await asyncio.sleep(throttle.delay_s)
            return _refused(400, str(exc))
        except storage.StorageError as exc:  # used, expired, replaced, or a password the rules refuse
            await in_throttle_pool(throttle.withdraw, THROTTLE_NAME, address, stamp)
            return _refused(400, str(exc))
        await in_throttle_pool(throttle.withdraw, THROTTLE_NAME, address, stamp)
        token = await login_sessions.issue(view.user_name, datetime.now(UTC))  # after the password was set
        response = JSONResponse({"success": True, "study": view.study or ""})
        secure_cookie, plain_cookie = login_sessions.cookie_names
        response.set_cookie(secure_cookie, token, httponly=True, samesite="lax", secure=True)
        response.set_cookie(plain_cookie, token, httponly=True, samesite="lax")
        return response

    async def signup(request: Request) -> JSONResponse:
        if not same_origin(request):
            return _refused(403, "sign-up refused: the form was posted from another site")
        try:
            form = await request.form(max_files=0, max_fields=10)
        except Exception:  # malformed body
            form = {}
        token, password = form.get("token", ""), form.get("password", "")
        if not isinstance(token, str) or not isinstance(password, str) or not token or len(token) > MAX_TOKEN_CHARS \
                or len(password) > MAX_PASSWORD_CHARS:
            return _refused(400, "sign-up refused: send the link's token and a password as form fields")
        if "confirm" in form and form.get("confirm") != password:
            return _refused(400, "The two passwords differ; type the same password twice.")
        address = request.client.host if request.client else "unknown"
        try:
            async with asyncio.timeout(LOGIN_ANSWER_BOUND_S):
                return await redeemed(token, password, address)
        except TimeoutError:
            return _refused(503, "the server is busy; try again in a few seconds", 5.0)

    for path in ("/signup", "/signup/"):
        root.add_api_route(path, signup_page, methods=["GET"], include_in_schema=False)
        root.add_api_route(path, signup, methods=["POST"], include_in_schema=False)
