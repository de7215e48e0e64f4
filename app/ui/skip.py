"""'Cannot judge': the physician skips the unit on screen for a reason (and a note, required for
"Other"); the unit counts as done for them and goes to another physician.

The button "Cannot judge (C)" of each panel (in the action bar) opens the form in the browser only (no round
trip: app/ui/keyboard.py toggles it); the form sits in the bar above the buttons, so it opens
where the physician acts. Keys in the form: 1-4 pick a reason, Enter confirms, Escape closes.
A refusal (no reason, "Other" without a note) keeps the form open with its values, and
everything entered for the judgment, as every refusal does.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.ui.common import SKIP_OTHER, SKIP_REASON_LABELS, Context, Refused, storage_errors
from app.ui.screen import Screen, skip


@dataclass
class SkipForm:
    form: gr.Column
    reason: gr.Radio
    note: gr.Textbox
    confirm: gr.Button
    cancel: gr.Button

    def components(self) -> list:
        return [self.reason, self.note]

    def updates(self, screen: Screen) -> dict:
        # A new unit starts with an empty form (the browser closes it when the unit changes).
        return {self.reason: None, self.note: ""}


def build_skip_form() -> SkipForm:
    """The form, hidden until opened (CSS in app/ui/style.py); each panel has its button."""
    with gr.Column(elem_id="skip_form", elem_classes=["skip-form"]) as form:
        reason = gr.Radio([(label, code) for code, label in SKIP_REASON_LABELS.items()],
                          label="Why can't you judge this one? (keys 1-4)", elem_id="skip_reason")
        note = gr.Textbox(label="Note (optional; needed for Other reason)", max_lines=1, elem_id="skip_note")
        with gr.Row(elem_id="skip_buttons"):
            confirm = gr.Button("Skip this one (Enter)", variant="primary", elem_id="skip_confirm", size="sm")
            cancel = gr.Button("Back to judging (Esc)", elem_id="skip_cancel", size="sm")
    return SkipForm(form, reason, note, confirm, cancel)


@storage_errors
def skip_unit(state: dict | None, token: str, reason: str | None, note: str | None, request: gr.Request, *,
              ctx: Context) -> dict:
    """Skip the unit the token names; refusals keep the form and the judgment's values on screen."""
    if reason not in SKIP_REASON_LABELS:
        raise Refused("Not skipped: choose why you cannot judge this one (keys 1-4 in the Cannot judge form). "
                      "What you entered is still on screen.")
    if reason == SKIP_OTHER and not (note or "").strip():
        raise Refused(f"Not skipped: for \"{SKIP_REASON_LABELS[SKIP_OTHER]}\", write in the note why you cannot "
                      "judge this one, then press Skip this one again. What you entered is still on screen.")
    return ctx.ui.updates(skip(ctx.engine, request, state, token, reason, (note or "").strip()))


# In the browser only: open / close the form (app/ui/keyboard.py defines medalignSkipForm).
OPEN_JS = "() => { window.medalignSkipForm && window.medalignSkipForm(true); }"
CLOSE_JS = "() => { window.medalignSkipForm && window.medalignSkipForm(false); }"
