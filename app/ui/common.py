"""What every screen of the app shares: the handler context, the one error decorator, the
caller check, the progress bar, and the display labels of the contract's choice codes.

Security properties every handler keeps: it checks `request.username` and the role itself
(the browser's word counts for nothing), the gr.State it is given must belong to that user
(session_hash is chosen by the browser), State holds ids only, and text from models or
people is shown in plain-text components only.
"""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app import storage
from app.models import Role, User
from app.storage import AccessDenied, AlreadyJudged, StorageError
from evaluation.contract import Choice

# The only place the choice codes get their on-screen names (digit key n picks the n-th).
CHOICE_LABELS: dict[Choice, str] = {
    Choice.a: "A better", Choice.b: "B better", Choice.tie: "Tie", Choice.both_bad: "Both bad",
}


@dataclass
class Context:
    """What the handlers of one app need: the database, and the components (set once built)."""

    engine: Engine
    ui: Any = field(default=None)  # app.ui.shell.UI


def bind(fn: Callable, ctx: Context) -> Callable:
    """`fn` with its keyword-only `ctx` filled in, keeping the signature and annotations Gradio
    reads (functools.partial hides the gr.Request annotation, and Gradio then passes None)."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        return fn(*args, ctx=ctx, **kwargs)

    signature = inspect.signature(fn)
    handler.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "ctx"])
    return handler


def verdict_text(exc: AlreadyJudged) -> str:
    """A stored verdict in the words the physician saw."""
    if exc.choice:
        return CHOICE_LABELS[Choice(exc.choice)]
    return ", ".join(f"{criterion} {value}" for criterion, value in (exc.ratings or {}).items()) or "no grades"


def storage_errors(fn: Callable) -> Callable:
    """The one mapping of storage refusals to a message on screen (gr.Error), never a traceback."""

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AlreadyJudged as exc:
            raise gr.Error(f"This was already judged ({verdict_text(exc)}); "
                           "use 'Revise my last judgment' to change it.") from None
        except (AccessDenied, StorageError) as exc:
            raise gr.Error(str(exc)) from None
        except OperationalError:  # e.g. SQLite locked by another writer past the busy timeout
            raise gr.Error("Not saved: the database is busy right now. Nothing was lost; "
                           "please press Submit again in a moment.") from None

    return handler


def caller(session, request: gr.Request | None, state: dict | None, role: Role | None) -> User:
    """The logged-in user; the State must belong to them."""
    user = storage.require_role(session, getattr(request, "username", None), role)
    if state is not None and state.get("user") != user.name:
        raise AccessDenied("session does not belong to this user")
    return user


def progress_bar(judged: int, total: int, study: str = "") -> str:
    # Only integers and the escaped study name go into this HTML; the study name is also what
    # the keyboard script sends to the login page after a session loss.
    judged, total = int(judged), int(total)
    where = html.escape(study, quote=True)
    label = f"Progress: {judged} of {total} judged" if total else "Progress: no study open"
    head = f'<div class="where" data-study="{where}">Study: <b>{where}</b></div>' if study else ""
    return (f'{head}<progress class="medalign-progress" value="{judged}" max="{max(total, 1)}" '
            f'aria-label="{label}"></progress>')


def guidelines_markdown(text: str | None) -> str:
    """A study file's guidelines as Markdown that cannot carry HTML: every '<' and '&' is
    escaped first (so `<script>` shows as text), and gr.Markdown sanitises what Markdown makes."""
    return html.escape(text or "", quote=False)
