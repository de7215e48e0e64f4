"""ASGI middleware around the whole app: security headers on every response, login sessions
ended once the user's credentials changed, and API description pages not served at all.

Pure ASGI (not BaseHTTPMiddleware) so streamed queue responses pass through untouched.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse

from app.login import Sessions

# Gradio's page needs inline scripts and styles (its bootstrap, our keyboard script, component
# styles), blob: workers and data: images, and 'unsafe-eval' because gr.HTML compiles its
# templates with Function() (without it the progress bar is not drawn; checked in Chromium by
# tests/app/test_headers.py). Everything comes from this origin only (no third-party fonts or
# scripts, nothing sent elsewhere), and nothing may frame the page, post forms elsewhere, or
# load plugins.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' blob: data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# Describe every endpoint to anyone who asks; the app needs none of them (gradio_client uses
# /gradio_api/info, which requires a login).
HIDDEN_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                          "/gradio_api/openapi.json", "/gradio_api/docs"})


class SecurityMiddleware:
    def __init__(self, app, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # no headers to add, but the session must still hold
            await self._end_stale_session(HTTPConnection(scope))
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if scope["path"].rstrip("/") in HIDDEN_PATHS:
            return await PlainTextResponse("Not Found", status_code=404)(scope, receive, send_with_headers)
        connection = HTTPConnection(scope)
        await self._end_stale_session(connection)
        if scope["path"] == "/" and scope["method"] in ("GET", "HEAD") and not self._logged_in(connection):
            # Our login page (app/login.py), not Gradio's: titled, keeps the user name, says why.
            query = scope.get("query_string", b"").decode("latin-1")
            target = "/login" + (f"?{query}" if query else "")
            return await RedirectResponse(target, status_code=303)(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)

    def _logged_in(self, request: HTTPConnection) -> bool:
        return any(request.cookies.get(c) in self.sessions.gradio_app.tokens for c in self.sessions.cookie_names
                   if request.cookies.get(c))

    async def _end_stale_session(self, request: HTTPConnection) -> None:
        """Drop the request's token from the token table when it no longer holds, so every
        route behind (Gradio's and ours) sees the request as not logged in."""
        for cookie in self.sessions.cookie_names:
            token = request.cookies.get(cookie)
            if token and token in self.sessions.gradio_app.tokens and not await self.sessions.still_valid(token):
                self.sessions.end(token)
