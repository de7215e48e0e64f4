"""The web server: Gradio mounted on FastAPI, plus role-checked download routes.

Hardened for a study: no run history, no error details or monitoring, no analytics, no
static file serving beyond Gradio's own assets; every handler checks the user itself. Logins
go through app/login.py (off the event loop, throttled, same-origin only); every request
passes app/middleware.py (security headers, sessions ended after a credential change).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import RedirectResponse, Response  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from starlette.requests import HTTPConnection  # noqa: E402

from app import storage  # noqa: E402
from app.admin import ReportFailed, build_study_report  # noqa: E402
from app.exports import render  # noqa: E402
from app.login import Sessions, add_login_route  # noqa: E402
from app.middleware import DEFAULT_MAX_BODY_BYTES, SecurityMiddleware  # noqa: E402
from app.models import Role  # noqa: E402
from app.security import HashBudget, LoginThrottle  # noqa: E402
from app.signup import add_signup_route  # noqa: E402
from app.ui import CSS, KEYBOARD_JS, build_ui  # noqa: E402

# Reports are built one at a time (each in its own `medalign report` process): a burst of clicks
# queues rather than taking every core from the physicians.
_REPORT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
QUEUE_CONCURRENCY = 32  # tens of physicians at once; SQLite serialises the writes anyway
# Queue positions sent to waiting events once a second, not to every waiting event whenever any
# event starts (Gradio's 'auto'): with more submits in flight than Gradio's 40 worker slots, that
# is a message per waiting event per dispatch.
STATUS_UPDATE_S = 1.0
log = logging.getLogger(__name__)


def start_queue(blocks: gr.Blocks) -> None:
    """Gradio's queue as the app runs it (bench/bare_app.py uses the same). After every event
    Gradio's queue rebuilds a summary of the last 10,000 events with pandas for its monitoring
    page (5-6 ms of CPU per judgment at 50 physicians, a third of what Gradio itself costs); the
    app serves no monitoring page (enable_monitoring=False), so the summary is never rebuilt and
    one event's record is kept instead of 10,000."""
    blocks.queue(default_concurrency_limit=QUEUE_CONCURRENCY, status_update_rate=STATUS_UPDATE_S)
    queue = blocks._queue
    # Gradio's own names (GRADIO_ANALYTICS_CACHE_FREQUENCY and _MAX_EVENTS read at the queue's
    # creation); tests/app/test_server_queue.py fails if a Gradio upgrade renames them.
    if not all(hasattr(queue, name) for name in ("ANAYLTICS_CACHE_FREQUENCY", "ANALYTICS_MAX_EVENTS")):
        log.warning("Gradio's queue has no analytics settings: its per-event summary stays on")
        return
    queue.ANAYLTICS_CACHE_FREQUENCY = sys.maxsize
    queue.ANALYTICS_MAX_EVENTS = 1


def _gradio_login_unused(username: str, password: str) -> bool:
    """Gradio's own /login is shadowed by app/login.py; should it ever be reached, it refuses."""
    return False


def _gradio_app(root: FastAPI):
    from gradio.routes import App

    for route in root.routes:
        if isinstance(getattr(route, "app", None), App):
            return route.app
    raise RuntimeError("Gradio app not mounted")


def _current_user(root: FastAPI, request: Request) -> str | None:
    gradio_app = _gradio_app(root)
    token = request.cookies.get(f"access-token-{gradio_app.cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{gradio_app.cookie_id}"
    )
    return gradio_app.tokens.get(token)


# An open judging tab holds a heartbeat stream that never ends by itself: without a bound, a
# stopping server waits on it forever. In-flight submits take milliseconds.
GRACEFUL_SHUTDOWN_S = 3
IDLE_TIMEOUT_S = 30 * 60  # shared ward computers: a session unused this long ends
COOKIE_ID = "medalign"  # the same session cookie name in every app process (Gradio picks a random one)


def create_app(engine: Engine, *, throttle: LoginThrottle | None = None, budget: HashBudget | None = None,
               session_recheck_s: float = 1.0, idle_timeout_s: float | None = IDLE_TIMEOUT_S) -> FastAPI:
    """The app on `engine`. Sessions and the login throttle live in that database, so several
    processes on one PostgreSQL database (behind a reverse proxy) share them."""
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sessions = Sessions(engine, recheck_s=session_recheck_s, idle_timeout_s=idle_timeout_s)
    throttle = throttle or LoginThrottle()
    if throttle.engine is None:
        throttle.bind(engine)
    budget = budget or HashBudget()
    add_login_route(root, engine, sessions, throttle, budget)
    add_signup_route(root, engine, sessions, throttle, budget)

    @root.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    _add_report_route(root, engine)

    @root.get("/export/{study}/{filename}")
    def export(study: str, filename: str, request: Request) -> Response:
        with storage.transaction(engine) as session:
            try:
                storage.require_role(session, _current_user(root, request), Role.researcher)
            except storage.AccessDenied:
                raise HTTPException(status_code=403, detail="researchers only") from None
            try:
                record = storage.get_study(session, study)
                rows, kind, rubric = storage.export_judgments(session, record), record.kind, storage.study_rubric(record)
            except storage.StorageError:
                raise HTTPException(status_code=404, detail="no such study") from None
        if filename == "judgments.csv":
            return Response(render(rows, "csv", kind), media_type="text/csv", headers=_attachment(filename))
        if filename == "judgments.jsonl":
            return Response(render(rows, "jsonl", kind), media_type="application/jsonl", headers=_attachment(filename))
        if filename == "dpo_pairs.jsonl":
            return Response(_dpo_pairs(rows, rubric), media_type="application/jsonl", headers=_attachment(filename))
        raise HTTPException(status_code=404, detail="unknown export")

    blocks = build_ui(engine)
    start_queue(blocks)
    gr.mount_gradio_app(
        root,
        blocks,
        path="/",
        auth=_gradio_login_unused,
        auth_message="medalign: log in with the account your study coordinator gave you.",
        show_error=False,
        run_history=False,
        enable_monitoring=False,
        footer_links=[],
        ssr_mode=False,
        allowed_paths=[],
        head=KEYBOARD_JS,
        max_file_size=upload_limit(),  # the same bound as every request body (app/middleware.py)
        css=CSS,
    )
    sessions.gradio_app = _gradio_app(root)  # its token table is the one every Gradio route reads
    sessions.gradio_app.cookie_id = COOKIE_ID
    root.add_middleware(SecurityMiddleware, sessions=sessions)
    root.add_middleware(SessionLoader, sessions=sessions)  # added last: runs first
    return root


def _add_report_route(root: FastAPI, engine: Engine) -> None:
    @root.get("/report/{study}/report.html")
    async def report(study: str, request: Request) -> Response:
        """The study's report, built now by `medalign report` (researchers only; off the event loop,
        one report at a time)."""
        user = _current_user(root, request)

        def allowed() -> bool:
            with storage.transaction(engine) as session:
                storage.require_role(session, user, Role.researcher)
                storage.get_study(session, study)
            return True

        try:
            await asyncio.to_thread(allowed)
        except storage.AccessDenied:
            raise HTTPException(status_code=403, detail="researchers only") from None
        except storage.StorageError:
            raise HTTPException(status_code=404, detail="no such study") from None
        try:
            page = await asyncio.get_running_loop().run_in_executor(_REPORT_POOL, build_study_report, engine, study)
        except ReportFailed as exc:
            raise HTTPException(status_code=422, detail=f"the report could not be made: {exc}") from None
        return Response(page, media_type="text/html; charset=utf-8",
                        headers=_attachment(_report_filename(study)))


class SessionLoader:
    """Before anything else reads Gradio's token table, bring each request's session into it from
    the database (or take an ended one out): a restart, or a session opened through another app
    process, is known at once. A logged-out page load after an idle timeout goes to the login
    page, which says so. Pure ASGI, like SecurityMiddleware."""

    def __init__(self, app, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        connection = HTTPConnection(scope)
        page_load = scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"] == "/"
        # The physician's own doing moves the idle clock on; heartbeats and open streams do not.
        active = page_load or (scope["type"] == "http" and scope["method"] == "POST")
        ended = ""
        for token in self.sessions.tokens_of(connection):
            state = await self.sessions.sync(token, active=active)
            ended = ended or (state.ended_reason if state else "")
        if page_load and ended == "idle":
            study = connection.query_params.get("study", "")
            target = "/login?expired=idle" + (f"&study={quote(study)}" if study else "")
            return await RedirectResponse(target, status_code=303)(scope, receive, send)
        return await self.app(scope, receive, send)


def _dpo_pairs(rows: list[dict], rubric) -> bytes:
    """Pairwise: majority votes; rating: the rubric's first number-scaled criterion where higher is
    better, a margin of one point (`medalign train feedback` takes other choices)."""
    import json

    from training.feedback import feedback_pairs

    criterion = None
    if rubric is not None:
        criterion = next((c.id for c in rubric.criteria if c.higher_is_better and c.scale.type != "choice"), None)
        if criterion is None:
            return b""
    pairs = feedback_pairs(rows, criterion=criterion, margin=1.0, rubric=rubric).pairs if rows else []
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs).encode()


def upload_limit() -> int:
    """The largest upload (an answers file for a new study): the request body bound, which the
    middleware enforces on every request anyway (MEDALIGN_MAX_BODY_BYTES)."""
    try:
        return int(float(os.environ.get("MEDALIGN_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BODY_BYTES


def _report_filename(study: str) -> str:
    """report-<study>.html with every character a header could trip on replaced."""
    return "report-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", study).strip("._") or "study") + ".html"


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
