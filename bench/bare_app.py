"""The floor medalign's judging app is measured against (bench/app_vs_bare.py): a bare Gradio app
of the same shape. Same login (app/login.py's route, argon2 in its thread pool, same throttle),
the same components (app.ui.shell's layout) and the same events with the same API names and
concurrency limits, but every handler only echoes: no database, no session re-check middleware.

    python bench/bare_app.py --db sqlite:///x.db --port 7861
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from app.login import Sessions, add_login_route  # noqa: E402
from app.security import HashBudget, LoginThrottle  # noqa: E402
from app.server import _gradio_app, _gradio_login_unused, start_queue  # noqa: E402
from app.ui import CSS, KEYBOARD_JS  # noqa: E402
from app.ui.common import Context  # noqa: E402
from app.ui.screen import Screen  # noqa: E402
from app.ui.shell import UI, _layout, _wire, postprocessed  # noqa: E402
from evaluation.contract import StudyKind  # noqa: E402

_counter = itertools.count()


def _echo_screen(request: gr.Request, study: str | None) -> Screen:
    n = next(_counter)
    return Screen(state={"user": getattr(request, "username", None), "study": study, "assignment_id": n},
                  status=f"{n} judged", kind=StudyKind.pairwise, judged=n, total=n + 1,
                  question=f"Question {n}: is treatment {n} effective?", context=f"Context {n}.",
                  answer_a=f"First answer to {n}.", answer_b=f"Second answer to {n}.", token=f"bare-{n}",
                  guidelines="Judge which answer is better.", judging=True)


def _screen_echo(ui: UI, outputs: list, postprocess: bool):
    kept = {id(o) for o in outputs}  # a submit's outputs leave the other kind's panel out (app.ui.shell)

    def echo(*args, **kwargs):
        request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
        state = next((a for a in args if isinstance(a, dict) and "study" in a), None)
        updates = ui.updates(_echo_screen(request, (state or {}).get("study", "load")))
        updates = {c: v for c, v in updates.items() if id(c) in kept}
        return updates if postprocess else postprocessed(updates)  # as the app's submit handlers

    return echo


def _skip_all(outputs: int):
    def unchanged(*_args, **_kwargs):
        return tuple(gr.skip() for _ in range(outputs)) if outputs > 1 else gr.skip()

    return unchanged


def _swap_handlers(blocks: gr.Blocks, ui: UI) -> None:
    """Every handler replaced by one with its signature (so Gradio passes the same arguments):
    events that update the judging screen get a made-up next screen, the others change nothing."""
    screen_ids = {o._id for o in ui.screen_outputs()}
    for function in blocks.fns.values():
        if function.fn is None:
            continue
        ids = {o._id for o in function.outputs}
        if ui.screen._id in ids and ids <= screen_ids:  # the screen's outputs, or a submit's part of them
            replacement = _screen_echo(ui, function.outputs, function.postprocess)
        else:
            replacement = _skip_all(len(function.outputs))
        replacement.__signature__ = inspect.signature(function.fn)
        function.fn = replacement


def create_bare_app(engine) -> FastAPI:
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sessions = Sessions(engine)
    add_login_route(root, engine, sessions, LoginThrottle(), HashBudget())

    @root.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    # The real layout and wiring (so the shape follows the app as it changes), handlers swapped.
    ctx = Context(engine)
    with gr.Blocks(title="bare", analytics_enabled=False) as blocks:
        ctx.ui = _layout()
        _wire(blocks, ctx.ui, ctx)
    _swap_handlers(blocks, ctx.ui)
    start_queue(blocks)  # as the app
    gr.mount_gradio_app(root, blocks, path="/", auth=_gradio_login_unused, show_error=False, run_history=False,
                        enable_monitoring=False, footer_links=[], ssr_mode=False, allowed_paths=[], head=KEYBOARD_JS,
                        css=CSS)
    sessions.gradio_app = _gradio_app(root)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="the database holding the users (logins only)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from app.db import open_database

    uvicorn.run(create_bare_app(open_database(args.db)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
