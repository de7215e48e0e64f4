"""The web server: Gradio mounted on FastAPI, plus role-checked download routes.

Hardened for a study: no run history, no error details or monitoring, no analytics, no
static file serving beyond Gradio's own assets; every handler checks the user itself. Logins
go through app/login.py (off the event loop, throttled, same-origin only); every request
passes app/middleware.py (security headers, sessions ended after a credential change).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from app import storage  # noqa: E402
from app.exports import render  # noqa: E402
from app.login import Sessions, add_login_route  # noqa: E402
from app.middleware import SecurityMiddleware  # noqa: E402
from app.models import Role  # noqa: E402
from app.security import HashBudget, LoginThrottle  # noqa: E402
from app.ui import CSS, KEYBOARD_JS, build_ui  # noqa: E402

QUEUE_CONCURRENCY = 32  # tens of physicians at once; SQLite serialises the writes anyway


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


def create_app(engine: Engine, *, throttle: LoginThrottle | None = None, budget: HashBudget | None = None,
               session_recheck_s: float = 1.0) -> FastAPI:
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sessions = Sessions(engine, recheck_s=session_recheck_s)
    add_login_route(root, engine, sessions, throttle or LoginThrottle(), budget or HashBudget())

    @root.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

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
    blocks.queue(default_concurrency_limit=QUEUE_CONCURRENCY)
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
        css=CSS,
    )
    sessions.gradio_app = _gradio_app(root)  # its token table is the one every Gradio route reads
    root.add_middleware(SecurityMiddleware, sessions=sessions)
    return root


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


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
