"""ASGI middleware around the whole app: security headers on every response, login sessions
ended once the user's credentials changed or grew too old, API description pages not served at
all, and (issue 23) every request from another origin refused, CORS off, request bodies bounded,
event streams for logged-in users only.

Pure ASGI (not BaseHTTPMiddleware) so streamed queue responses pass through untouched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse

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
_SECURITY_HEADER_BYTES = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
# Describe every endpoint to anyone who asks; the app needs none of them (gradio_client uses
# /gradio_api/info, which requires a login).
HIDDEN_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
                          "/gradio_api/openapi.json", "/gradio_api/docs"})


# Gradio echoes an allowed Origin with credentials; this app is never used from another origin.
CORS_HEADERS = (b"access-control-allow-origin", b"access-control-allow-credentials")
# Event streams (and their heartbeat) stay open for minutes: only for logged-in users.
STREAM_MARKERS = ("/heartbeat/", "/queue/data", "/stream/")
DEFAULT_MAX_BODY_BYTES = 1_000_000  # a judgment with a long rationale is a few kB
DEFAULT_SESSION_MAX_AGE_S = 12 * 3600  # a working day; then log in again
log = logging.getLogger(__name__)


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts.scheme and parts.netloc else ""


_ORIGIN_HEADERS = frozenset({"sec-fetch-site", "sec-fetch-mode", "origin", "host"})


def cross_origin_reason(scope, public_url: str | None) -> str | None:
    """Why a request comes from another origin (None when it does not).

    Browsers send `Sec-Fetch-Site` on every request and `Origin` on every POST, fetch and
    WebSocket; a request with neither is not a browser acting for a logged-in user. A top-level
    navigation (a link to the app) is allowed: its answer goes to the user, not to the other page.
    Behind a proxy, `public_url` (`MEDALIGN_PUBLIC_URL`) is the app's origin; without it, the
    origin must name the host the request was sent to.
    """
    headers = {name: v.decode("latin-1") for k, v in scope.get("headers", [])
               if (name := k.decode("latin-1").lower()) in _ORIGIN_HEADERS}
    site, mode = headers.get("sec-fetch-site"), headers.get("sec-fetch-mode")
    navigation = scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") and mode == "navigate"
    if site is not None and site not in ("same-origin", "none") and not navigation:
        return f"Sec-Fetch-Site {site}"
    origin = headers.get("origin")
    if origin is None or navigation:
        return None
    if public_url:
        expected = _origin_of(public_url)
        return None if _origin_of(origin) == expected else f"Origin {origin[:100]} is not {expected}"
    host = headers.get("host", "").lower()
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    return None if host and netloc == host else f"Origin {origin[:100]} is not this host"


class SecurityMiddleware:
    def __init__(self, app, sessions: Sessions, public_url: str | None = None, max_body_bytes: int | None = None,
                 session_max_age_s: float | None = None) -> None:
        self.app = app
        self.sessions = sessions
        self.public_url = public_url or os.environ.get("MEDALIGN_PUBLIC_URL") or None
        self.max_body_bytes = int(max_body_bytes or _env_number("MEDALIGN_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        self.session_max_age_s = session_max_age_s or _env_number("MEDALIGN_SESSION_MAX_AGE_S", DEFAULT_SESSION_MAX_AGE_S)
        self.refused = {"cross_origin": 0, "body_too_large": 0, "anonymous_stream": 0}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # no headers to add, but the session and origin must hold
            await self._end_stale_session(HTTPConnection(scope))
            if cross_origin_reason(scope, self.public_url):
                self.refused["cross_origin"] += 1
                return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        secure = self._secure(scope)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _SECURITY_HEADER_BYTES if k not in present]
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in CORS_HEADERS
                        and not (secure and k.lower() == b"set-cookie" and b"access-token-unsecure-" in v)]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        if scope["path"].rstrip("/") in HIDDEN_PATHS:
            return await PlainTextResponse("Not Found", status_code=404)(scope, receive, send_with_headers)
        reason = cross_origin_reason(scope, self.public_url)
        if reason is not None:
            self.refused["cross_origin"] += 1
            log.warning("refused a cross-origin request to %s: %s", scope["path"][:200], reason)
            return await JSONResponse({"detail": "refused: the request came from another site"}, status_code=403)(
                scope, receive, send_with_headers)
        connection = HTTPConnection(scope)
        await self._end_stale_session(connection)
        if any(m in scope["path"] for m in STREAM_MARKERS) and not self._logged_in(connection):
            self.refused["anonymous_stream"] += 1
            return await PlainTextResponse("log in first", status_code=401)(scope, receive, send_with_headers)
        declared = connection.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            self.refused["body_too_large"] += 1
            return await PlainTextResponse(f"request body over {self.max_body_bytes} bytes", status_code=413)(
                scope, receive, send_with_headers)
        receive = self._bounded(receive)
        if scope["method"] == "POST" and scope["path"].endswith("/queue/join"):
            receive, unknown = await self._known_event(receive)
            if unknown is not None:
                log.warning("refused an event call: %s", unknown)  # one line, not Gradio's KeyError traceback
                return await JSONResponse({"detail": "unknown event"}, status_code=422)(scope, receive, send_with_headers)
        if scope["path"] == "/" and scope["method"] in ("GET", "HEAD") and not self._logged_in(connection):
            # Our login page (app/login.py), not Gradio's: titled, keeps the user name, says why.
            query = scope.get("query_string", b"").decode("latin-1")
            target = "/login" + (f"?{query}" if query else "")
            return await RedirectResponse(target, status_code=303)(scope, receive, send_with_headers)
        started = False

        async def send_tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            return await self.app(scope, receive, send_tracked)
        except BodyTooLarge as exc:
            if not started:
                await PlainTextResponse(str(exc), status_code=413)(scope, receive, send_with_headers)

    def _secure(self, scope) -> bool:
        """Served over TLS (directly, or by a trusted proxy that said so: uvicorn sets the
        scheme from X-Forwarded-Proto only for --forwarded-allow-ips), or a public https URL."""
        return scope.get("scheme") in ("https", "wss") or (self.public_url or "").lower().startswith("https://")

    def _bounded(self, receive):
        """A body sent without Content-Length (chunked) is cut off at the same limit."""
        seen = 0
        limit = self.max_body_bytes

        async def bounded_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    self.refused["body_too_large"] += 1
                    raise BodyTooLarge(limit)
            return message

        return bounded_receive

    async def _known_event(self, receive):
        """(receive replaying the body, None) when the body names an event this app has; else
        a one-line reason. Gradio answers an unknown fn_index with a KeyError traceback."""
        chunks, more = [], True
        while more:  # bounded by _bounded: at most max_body_bytes
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False) and message["type"] == "http.request"
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        fns = getattr(getattr(self.sessions.gradio_app, "blocks", None), "fns", None)
        try:
            fn_index = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return replay, None  # not JSON: Gradio's own validation answers
        if fns is not None and fn_index is not None and (not isinstance(fn_index, int) or fn_index not in fns):
            return replay, f"fn_index {str(fn_index)[:40]!r} is not an event of this app"
        return replay, None

    def _logged_in(self, request: HTTPConnection) -> bool:
        return any(token in self.sessions.gradio_app.tokens for token in self.sessions.tokens_of(request))

    async def _end_stale_session(self, request: HTTPConnection) -> None:
        """Drop the request's token from the token table when it no longer holds, so every
        route behind (Gradio's and ours) sees the request as not logged in."""
        for token in self.sessions.tokens_of(request):
            if token in self.sessions.gradio_app.tokens and (
                    self._expired(token) or not await self.sessions.still_valid(token)):
                self.sessions.end(token)

    def _expired(self, token: str) -> bool:
        """Server-side expiry: a token older than the maximum session age ends, whatever the
        browser keeps (the cookie itself has no expiry: it ends with the browser)."""
        issued = self.sessions.issued.get(token)
        return issued is not None and time.time() - issued.timestamp() > self.session_max_age_s


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
