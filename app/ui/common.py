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
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import gradio as gr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app import storage
from app.models import Role, User
from app.storage import AccessDenied, AlreadyJudged, StorageError
from evaluation.contract import Choice
from evaluation.kinds.skip import SkipReason

# The only place the choice codes get their on-screen names (digit key n picks the n-th).
CHOICE_LABELS: dict[Choice, str] = {
    Choice.a: "A better", Choice.b: "B better", Choice.tie: "Tie", Choice.both_bad: "Both bad",
}

# The on-screen names of the stored "cannot judge" reason codes (evaluation/kinds/skip.py), in the
# order shown (digit key n picks the n-th in the Cannot judge form).
SKIP_REASON_LABELS: dict[SkipReason, str] = {
    SkipReason.outside_expertise: "Outside my expertise",
    SkipReason.answer_unreadable: "An answer is unreadable or garbled",
    SkipReason.question_unclear: "The question is unclear",
    SkipReason.other: "Other reason (say which in the note)",
}
SKIP_OTHER = SkipReason.other  # the reason whose note is required


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
    # Gradio calls typing.get_type_hints on the handler for every event (to find gr.Request);
    # with this module's postponed annotations that evaluates every annotation string each time.
    # Resolved once here, the same hints cost a dict copy.
    try:
        handler.__annotations__ = {name: hint for name, hint in typing.get_type_hints(fn).items() if name != "ctx"}
    except (NameError, TypeError):  # a hint only importable for type checkers: Gradio resolves it as before
        pass
    return handler


def verdict_text(exc: AlreadyJudged) -> str:
    """A stored verdict in the words the physician saw."""
    if exc.choice:
        return CHOICE_LABELS[Choice(exc.choice)]
    return ", ".join(f"{criterion} {value}" for criterion, value in (exc.ratings or {}).items()) or "no grades"


class Refused(StorageError):
    """A refusal worded for the physician: it names the question (never an id) and says what to do."""


def refusal_text(exc: Exception) -> str:
    """A storage refusal or a busy database, in words, saying that nothing on screen was lost."""
    if isinstance(exc, AlreadyJudged):
        return (f"Not saved: this was already judged ({verdict_text(exc)}), probably in another tab or window. "
                "What you entered here is still on screen. To change the saved judgment, use "
                "'Revise my last judgment (U)' or 'My judgments (H)'; to go on, choose the study again in the Study list.")
    if isinstance(exc, OperationalError):  # e.g. SQLite locked by another writer past the busy timeout
        return ("Not saved: the database is busy right now. Everything you entered is still on screen; "
                "press Submit again in a moment.")
    text = str(exc)
    if text.startswith(("Not saved", "Not skipped", "Nothing")):
        return text
    return f"Not saved: {text}. What you entered is still on screen."


def from_api_client(request: gr.Request | None) -> bool:
    """gradio_client marks its calls; a script gets refusals as errors, a browser as a message
    on the screen it keeps (an error would put every output component in an error state)."""
    headers = getattr(request, "headers", None) or {}
    return headers.get("x-gradio-user") == "api"


def storage_errors(fn: Callable | None = None, *, refuse: Callable | None = None) -> Callable:
    """The one mapping of refusals to a message on screen, never a traceback.

    Access refusals raise gr.Error (no screen to keep). Storage refusals and a busy database
    leave every component as it is and put the message in the notice line (`refuse(ctx,
    message, exc)`, by default `ctx.ui.refused`), so nothing the physician entered is lost.
    """
    if fn is None:
        return lambda f: storage_errors(f, refuse=refuse)
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AccessDenied as exc:
            raise gr.Error(str(exc)) from None
        except (StorageError, OperationalError) as exc:
            message = refusal_text(exc)
            arguments = signature.bind_partial(*args, **kwargs).arguments
            ctx = arguments.get("ctx")
            if ctx is None or ctx.ui is None or from_api_client(arguments.get("request")):
                raise gr.Error(message) from None
            return (refuse or (lambda c, m, e: c.ui.refused(m, e)))(ctx, message, exc)

    return handler


def caller(session, request: gr.Request | None, state: dict | None, role: Role | None) -> User:
    """The logged-in user; the State must belong to them."""
    user = storage.require_role(session, getattr(request, "username", None), role)
    if state is not None and state.get("user") != user.name:
        raise AccessDenied("session does not belong to this user")
    return user


def progress_bar(judged: int, total: int, study: str = "", token: str = "") -> str:
    # Only integers and escaped names go into this HTML; the study name is also what the
    # keyboard script names on the login dialog, and data-pair tells it that a new unit arrived.
    judged, total = int(judged), int(total)
    where = html.escape(study, quote=True)
    label = f"Progress: {judged} of {total} judged" if total else "Progress: no study open"
    head = f'<div class="where" data-study="{where}">Study: <b>{where}</b></div>' if study else ""
    return (f'{head}<progress class="medalign-progress" data-pair="{html.escape(token, quote=True)}" '
            f'value="{judged}" max="{max(total, 1)}" aria-label="{label}"></progress>')


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&$=:\"'^])")


def shown_text(text: str | None) -> str:
    """Model or user text for a plain-text pane (text_pane): every Markdown and HTML character
    is backslash-escaped, so the text shows exactly as written and none of it becomes markup,
    a link or a tag (gr.Markdown sanitises what is left as well)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "")


def text_pane(label: str, elem_id: str, *, show_label: bool = True) -> gr.Markdown:
    """Readable text (not a disabled input) under a label; the keyboard script names the pane
    after the label (aria-labelledby) and makes it focusable; the style bounds its height."""
    hidden = "" if show_label else " visually-hidden"
    gr.HTML(f'<div class="pane-label{hidden}" id="{elem_id}_label">{html.escape(label)}</div>', padding=False,
            elem_classes=["pane-label-block"])
    return gr.Markdown(line_breaks=True, latex_delimiters=[], sanitize_html=True, elem_id=elem_id,
                       elem_classes=["shown-text"])


def notice_html(message: str) -> str:
    """A refusal for the notice line (role=alert: read out as it appears). The time makes a
    repeated refusal a change the page (and the keyboard script) can see."""
    if not message:
        return '<div class="notice" role="alert"></div>'
    stamp = datetime.now().strftime("%H:%M:%S")
    return f'<div class="notice shown" role="alert">{html.escape(message)} <span class="when">({stamp})</span></div>'


def guidelines_markdown(text: str | None) -> str:
    """A study file's guidelines as Markdown that cannot carry HTML: every '<' and '&' is
    escaped first (so `<script>` shows as text), and gr.Markdown sanitises what Markdown makes."""
    return html.escape(text or "", quote=False)
