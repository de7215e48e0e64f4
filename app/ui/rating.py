"""The rating panel: one answer ("Answer"), each rubric criterion as a radio group, optional
free text. The groups are built once (MAX_CRITERIA of them) and relabelled per study.

Keyboard (app/ui/keyboard.py): digit n picks the n-th option of the focused criterion and moves
focus to the next one; Enter submits once every required criterion is answered.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app import storage
from app.models import Study
from app.ui.common import Context, Refused, shown_text, storage_errors, text_pane
from app.ui.screen import Screen, judge
from evaluation.rubric import MAX_CRITERIA, Criterion

# The study kinds whose `panel` is this name are shown here (evaluation/kinds).
PANEL = "rating"


@dataclass
class RatingPanel:
    panel: gr.Column
    answer: gr.Markdown
    rubric_help: gr.Markdown
    criteria: list[gr.Radio]
    free_text: gr.Textbox
    # Built by rating_actions inside the shell's action bar.
    actions: gr.Row | None = None
    submit: gr.Button | None = None
    revise: gr.Button | None = None
    skip: gr.Button | None = None  # "Cannot judge (C)": opens the shared form (app/ui/skip.py)
    back: gr.Button | None = None  # while revising: back to the next open unit, nothing changed

    def components(self) -> list:
        return [self.panel, self.answer, self.rubric_help, *self.criteria, self.free_text, self.actions, self.submit,
                self.revise, self.skip, self.back]

    def updates(self, screen: Screen) -> dict:
        shown = screen.judging and screen.panel == PANEL
        rubric = screen.rubric if shown else None
        previous = (screen.previous or {}).get("ratings") or {}
        out = {self.panel: gr.update(visible=shown),
               self.answer: shown_text(screen.answer_a if shown else ""),
               self.actions: gr.update(visible=shown),
               self.submit: screen.submit_label(),
               self.revise: gr.update(visible=shown and screen.judged > 0 and not screen.revising),
               self.skip: gr.update(visible=shown and not screen.revising),
               self.back: gr.update(visible=shown and screen.revising),
               self.rubric_help: shown_text(rubric.description if rubric else "")}
        for slot, radio in enumerate(self.criteria):
            if rubric is not None and slot < len(rubric.criteria):
                out[radio] = criterion_update(rubric.criteria[slot], previous.get(rubric.criteria[slot].id))
            else:
                out[radio] = gr.update(visible=False, choices=[], value=None, label="")
        free = rubric.free_text if rubric else None
        out[self.free_text] = gr.update(visible=free is not None, label=free.question if free else "",
                                        value=(screen.previous or {}).get("rationale") or "",
                                        elem_classes=["required"] if free is not None and free.required else [])
        return out


def criterion_update(criterion: Criterion, value) -> dict:
    options = criterion.options()
    keys = "key 1-9, then 0" if len(options) > 9 else f"keys 1-{len(options)}"
    return gr.update(visible=True, value=value, choices=[(label, stored) for stored, label in options],
                     label=f"{criterion.question} ({'required' if criterion.required else 'optional'}; {keys})",
                     elem_classes=["criterion", "required" if criterion.required else "optional"])


def build_rating_panel() -> RatingPanel:
    with gr.Column(visible=False) as panel:
        answer = text_pane("Answer", "answer")
        rubric_help = text_pane("How to grade", "rubric_help")
        criteria = [gr.Radio([], label="", visible=False, elem_id=f"criterion_{slot}", elem_classes=["criterion"])
                    for slot in range(MAX_CRITERIA)]
        free_text = gr.Textbox(label="Comments (optional)", lines=2, visible=False, elem_id="free_text")
    return RatingPanel(panel, answer, rubric_help, criteria, free_text)


def rating_actions(panel: RatingPanel) -> None:
    with gr.Row(visible=False) as actions:
        panel.submit = gr.Button("Submit (Enter)", variant="primary", elem_id="rating_submit", size="sm")
        panel.revise = gr.Button("Revise my last judgment (U)", elem_id="rating_revise", size="sm", visible=False)
        panel.skip = gr.Button("Cannot judge (C)", elem_id="rating_skip_open", size="sm")
        panel.back = gr.Button("Back to judging", elem_id="rating_back", size="sm", visible=False)
    panel.actions = actions


@storage_errors
def submit_rating(request: gr.Request, state: dict | None, token: str, free_text: str | None, *grades,
                  ctx: Context) -> dict:
    """Grades arrive in slot order; the study's rubric names them (slot n is criterion n)."""

    def fields(study: Study) -> dict:
        rubric = storage.study_rubric(study)
        if len(grades) < len(rubric.criteria):
            raise storage.StorageError(f"expected {len(rubric.criteria)} grades, got {len(grades)}")
        ratings = {c.id: grades[slot] for slot, c in enumerate(rubric.criteria) if grades[slot] is not None}
        missing = [c.question for c in rubric.criteria if c.required and c.id not in ratings]
        if missing:  # named by the question on screen, not the criterion id
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise Refused(f"Not saved: please answer \"{missing[0]}\"{more}. Your other grades are kept.")
        free = rubric.free_text
        if free is not None and free.required and not (free_text or "").strip():
            raise Refused(f"Not saved: please answer \"{free.question}\". Your grades are kept.")
        return {"ratings": ratings, "rationale": free_text or ""}

    return ctx.ui.updates(judge(ctx.engine, request, state, token, PANEL, fields))
