"""'My judgments': this study's judgments and skips of the physician, newest first, from which
any judgment opens on the judging screen in the layout it was judged in (same Answer A / B),
with the stored values; "Save revision" stores the change (revisions are counted), "Back to
judging" leaves it as it was. The list is read when the panel opens (key H), so it is current.

The list's values are the units' pair tokens (the handle the browser already holds for the unit
on screen, usable by its physician only); assignment ids stay on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app import storage
from app.models import Role, Study
from app.ui.common import (
    CHOICE_LABELS,
    SKIP_REASON_LABELS,
    Context,
    Refused,
    caller,
    notice_html,
    storage_errors,
)
from app.ui.screen import next_screen
from evaluation.contract import Choice

FIRST_WORDS = 9


@dataclass
class HistoryPanel:
    accordion: gr.Accordion
    entries: gr.Radio
    hint: gr.Markdown
    open_button: gr.Button

    def outputs(self, notice) -> list:
        return [self.entries, self.hint, notice]


def build_history_panel() -> HistoryPanel:
    with gr.Accordion("My judgments (H)", open=False, elem_id="history_accordion") as accordion:
        hint = gr.Markdown("", elem_id="history_hint")
        entries = gr.Radio([], label="My judgments in this study, newest first (choose one, then Open)",
                           elem_id="history_list")
        open_button = gr.Button("Open to revise (Enter)", elem_id="history_open", size="sm")
    return HistoryPanel(accordion, entries, hint, open_button)


def first_words(text: str, n: int = FIRST_WORDS) -> str:
    words = (text or "").split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


def answer_words(summary, study: Study) -> str:
    """A stored judgment in the words the physician saw: a choice's label, or each criterion's
    question with the label of its grade."""
    if isinstance(summary, dict):
        rubric = storage.study_rubric(study)
        parts = []
        for criterion in (rubric.criteria if rubric else []):
            if criterion.id in summary:
                labels = {str(stored): label for stored, label in criterion.options()}
                parts.append(f"{criterion.question} {labels.get(str(summary[criterion.id]), summary[criterion.id])}")
        return "; ".join(parts) or "no grades"
    try:
        return CHOICE_LABELS[Choice(summary)]
    except ValueError:
        return str(summary or "")


def entry_label(entry, study: Study) -> str:
    head = f"#{entry.sequence + 1} {first_words(entry.question)}"
    if entry.skipped_reason:
        return f"{head} — skipped: {SKIP_REASON_LABELS.get(entry.skipped_reason, entry.skipped_reason)}"
    revised = f" (revised {entry.revisions}×)" if entry.revisions else ""
    return f"{head} — {answer_words(entry.summary, study)}{revised}"


def _study_of_state(session, request, state: dict | None):
    if not state or not state.get("study"):
        raise Refused("Nothing to show: choose a study first.")
    user = caller(session, request, state, Role.physician)
    study = storage.get_study(session, state["study"])
    if not storage.may_judge(session, study, user):
        raise storage.AccessDenied(f"the study {study.name!r} is not one of yours")
    return user, study


def _refuse_in_notice(ctx: Context, message: str, exc: Exception) -> dict:
    ui = ctx.ui
    return {ui.history.entries: gr.skip(), ui.history.hint: gr.skip(), ui.notice: notice_html(message)}


@storage_errors(refuse=_refuse_in_notice)
def list_history(state: dict | None, request: gr.Request, *, ctx: Context) -> dict:
    """The physician's judgments and skips in the open study, newest first."""
    with storage.transaction(ctx.engine) as session:
        user, study = _study_of_state(session, request, state)
        entries = storage.judgment_history(session, user, study)
        choices = [(entry_label(e, study), storage.owned_assignment(session, user, e.assignment_id).token)
                   for e in entries]
    hint = ("Nothing judged or skipped yet in this study." if not choices else
            f"{len(choices)} in this study. Skipped ones went to another physician and cannot be reopened.")
    panel = ctx.ui.history
    return {panel.entries: gr.update(choices=choices, value=None), panel.hint: hint, ctx.ui.notice: notice_html("")}


@storage_errors
def open_judgment(state: dict | None, token: str | None, request: gr.Request, *, ctx: Context) -> dict:
    """The chosen judgment on the judging screen, to revise; the list closes."""
    if not token:
        raise Refused("Nothing opened: choose one of your judgments in My judgments first.")
    with storage.transaction(ctx.engine) as session:
        user, study = _study_of_state(session, request, state)
        assignment = storage.assignment_by_token(session, user, token)
        entry = next((e for e in storage.judgment_history(session, user, study) if e.assignment_id == assignment.id),
                     None)
        if entry is None:
            raise Refused("Nothing opened: that judgment is not in this study; open My judgments again.")
        if entry.skipped_reason:
            raise Refused(f"Not opened: you skipped #{entry.sequence + 1} "
                          f"({SKIP_REASON_LABELS.get(entry.skipped_reason, entry.skipped_reason)}); "
                          "it went to another physician. Choose a judged one.")
        what = f"your judgment #{entry.sequence + 1} (\"{first_words(entry.question, 6)}\")"
        screen = next_screen(session, user, study, state, revising=assignment.id, revising_what=what)
    return {**ctx.ui.updates(screen), ctx.ui.history.accordion: gr.update(open=False)}
