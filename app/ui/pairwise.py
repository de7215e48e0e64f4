"""The pairwise judging panel: two answers side by side ("Answer A", "Answer B"), one choice.

Keyboard (app/ui/keyboard.py): 1-4 pick the choice, E and R flag A or B as evasive, Enter submits,
U revises the last judgment,
C opens Cannot judge, H opens My judgments. The choice and the buttons live in the shell's fixed action bar
(pairwise_actions), the answers and the rationale in the scrolling panel.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.ui.common import CHOICE_LABELS, Context, Refused, shown_text, storage_errors, text_pane
from app.ui.screen import Screen, judge

# The study kinds whose `panel` is this name are shown here (evaluation/kinds).
PANEL = "pairwise"


@dataclass
class PairwisePanel:
    panel: gr.Column
    answer_a: gr.Markdown
    answer_b: gr.Markdown
    evasive_a: gr.Checkbox
    evasive_b: gr.Checkbox
    rationale: gr.Textbox
    # Built by pairwise_actions inside the action bar.
    actions: gr.Column | None = None
    choice: gr.Radio | None = None
    submit: gr.Button | None = None
    revise: gr.Button | None = None
    skip: gr.Button | None = None  # "Cannot judge (C)": opens the shared form (app/ui/skip.py)
    back: gr.Button | None = None  # while revising: back to the next open unit, nothing changed

    def components(self) -> list:
        return [self.panel, self.answer_a, self.answer_b, self.evasive_a, self.evasive_b, self.choice, self.rationale,
                self.actions, self.submit, self.revise, self.skip, self.back]

    def updates(self, screen: Screen) -> dict:
        previous = screen.previous or {}
        shown = screen.judging and screen.panel == PANEL
        return {
            self.panel: gr.update(visible=shown),
            self.answer_a: shown_text(screen.answer_a if shown else ""),
            self.answer_b: shown_text(screen.answer_b if shown else ""),
            self.evasive_a: bool(previous.get("evasive_a", False)),
            self.evasive_b: bool(previous.get("evasive_b", False)),
            self.choice: previous.get("choice"),
            self.rationale: previous.get("rationale") or "",
            self.actions: gr.update(visible=shown),
            self.submit: screen.submit_label(),
            self.revise: gr.update(visible=shown and screen.judged > 0 and not screen.revising),
            self.skip: gr.update(visible=shown and not screen.revising),
            self.back: gr.update(visible=shown and screen.revising),
        }


def build_pairwise_panel() -> PairwisePanel:
    with gr.Column(visible=False) as panel:
        with gr.Row(elem_id="answers", equal_height=False):
            # Readable text in panes of bounded height (CSS), so both fit the window side by side.
            with gr.Column(min_width=280):
                answer_a = text_pane("Answer A", "answer_a")
                evasive_a = gr.Checkbox(label="Answer A is evasive or non-committal (E)", elem_id="evasive_a")
            with gr.Column(min_width=280):
                answer_b = text_pane("Answer B", "answer_b")
                evasive_b = gr.Checkbox(label="Answer B is evasive or non-committal (R)", elem_id="evasive_b")
        rationale = gr.Textbox(label="Rationale (optional; Ctrl+Enter submits)", lines=2, elem_id="rationale")
    return PairwisePanel(panel, answer_a, answer_b, evasive_a, evasive_b, rationale)


def pairwise_actions(panel: PairwisePanel) -> None:
    """The choice (one radio group: arrow keys move within it) and the buttons, in the action bar."""
    with gr.Row(visible=False, elem_id="pair_actions", equal_height=True) as actions:
        panel.choice = gr.Radio([(label, code.value) for code, label in CHOICE_LABELS.items()],
                                label="Which answer is better? (keys 1-4)", elem_id="choice", scale=3, min_width=300)
        with gr.Column(scale=1, min_width=160, elem_id="pair_buttons"):
            panel.submit = gr.Button("Submit (Enter)", variant="primary", elem_id="submit")
            with gr.Row(elem_id="pair_more", equal_height=True):
                panel.revise = gr.Button("Revise my last judgment (U)", elem_id="revise", size="sm", visible=False)
                panel.skip = gr.Button("Cannot judge (C)", elem_id="skip_open", size="sm")
                panel.back = gr.Button("Back to judging", elem_id="back", size="sm", visible=False)
    panel.actions = actions


@storage_errors
def submit_pairwise(state: dict | None, token: str, choice: str | None, evasive_a: bool, evasive_b: bool,
                    rationale: str, request: gr.Request, *, ctx: Context) -> dict:
    if not choice:  # nothing picked yet; whether a value is valid is storage's one check (its kind's validate)
        raise Refused("Not saved: choose " + ", ".join(CHOICE_LABELS.values()) + " first (keys 1-4); "
                      "your flags and rationale are kept.")
    fields = {"choice": choice, "evasive_a": bool(evasive_a), "evasive_b": bool(evasive_b),
              "rationale": rationale or ""}
    return ctx.ui.updates(judge(ctx.engine, request, state, token, PANEL, lambda _study: fields))
