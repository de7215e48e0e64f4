"""The Gradio judging screen and researcher view.

Callbacks are thin: check who is asking (request.username, never the browser's word), call
app.storage inside one transaction, and turn the result into component updates. The browser
only ever receives texts labelled "Answer A" / "Answer B"; which system wrote which stays in
the database, and the assignment id stays in gr.State (which never reaches the browser).
Model and user text is shown in Textboxes (plain text, never parsed as HTML or Markdown).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import quote

import gradio as gr
from sqlalchemy.engine import Engine

from app import storage
from app.models import Choice, Role
from app.storage import AccessDenied, StorageError

CHOICES = [c.value for c in Choice]

KEYBOARD_JS = """
<script>
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  const editable = t && (t.isContentEditable ||
    ((t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && !['radio', 'checkbox', 'button'].includes(t.type)))
      && !t.readOnly && !t.disabled));
  if (editable || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
  if (!document.querySelector('#submit')) return;
  const choices = {'1': 'A better', '2': 'B better', '3': 'Tie', '4': 'Both bad'};
  let el = null;
  if (choices[ev.key]) el = document.querySelector(`#choice input[value="${choices[ev.key]}"]`);
  else if (ev.key === 'e' || ev.key === 'E') el = document.querySelector('#evasive_a input');
  else if (ev.key === 'r' || ev.key === 'R') el = document.querySelector('#evasive_b input');
  else if (ev.key === 'Enter') el = document.querySelector('#submit');
  if (el) { el.click(); ev.preventDefault(); }
});
</script>
"""

CSS = """
#answers { gap: 16px; }
#answers > div { min-width: 320px; }
.medalign-progress { width: 100%; height: 14px; }
"""


@dataclass
class Screen:
    """Everything the judging tab shows, as component updates (in OUTPUT order)."""

    state: dict | None
    status: str = ""
    bar: str = ""
    question: str = ""
    context: str = ""
    answer_a: str = ""
    answer_b: str = ""
    evasive_a: bool = False
    evasive_b: bool = False
    choice: str | None = None
    rationale: str = ""
    judging: bool = False
    done: bool = False
    guidelines: str = ""
    token: str = ""

    def updates(self) -> tuple:
        return (
            self.state,
            self.status,
            self.bar,
            self.question,
            self.context,
            self.answer_a,
            self.answer_b,
            self.evasive_a,
            self.evasive_b,
            self.choice,
            self.rationale,
            gr.update(visible=self.judging),
            gr.update(visible=self.done),
            self.guidelines,
            self.token,
        )


def progress_bar(judged: int, total: int) -> str:
    # Only integers go into this HTML.
    return f'<progress class="medalign-progress" value="{int(judged)}" max="{max(int(total), 1)}"></progress>'


def _caller(session, request: gr.Request | None, state: dict | None, role: Role):
    """The logged-in user; the State must belong to them (session_hash is the browser's choice)."""
    name = getattr(request, "username", None)
    user = storage.require_role(session, name, role)
    if state is not None and state.get("user") != user.name:
        raise AccessDenied("session does not belong to this user")
    return user


def build_ui(engine: Engine, *, title: str = "medalign: physician judging") -> gr.Blocks:
    def screen_for(session, user, study, state: dict, *, revising: int | None = None) -> Screen:
        if revising is not None:
            view = storage.show_pair(session, user, revising)
            previous = storage.judgment_as_shown(session, user, revising)
            return Screen(
                state={**state, "assignment_id": revising, "revising": True},
                status=f"Revising your last judgment ({view.judged} of {view.total} judged)",
                bar=progress_bar(view.judged, view.total), question=view.question, context=view.context,
                answer_a=view.answer_a, answer_b=view.answer_b, evasive_a=previous["evasive_a"],
                evasive_b=previous["evasive_b"], choice=previous["choice"], rationale=previous["rationale"],
                judging=True, guidelines=study.guidelines, token=view.token,
            )
        assignment = storage.next_assignment(session, study, user)
        if assignment is None:
            done = storage.progress(session, study, user)
            return Screen(
                state={**state, "assignment_id": None, "revising": False},
                status=f"All done: {done.judged} of {done.total} judged. Thank you!",
                bar=progress_bar(done.judged, done.total), done=True, guidelines=study.guidelines,
            )
        view = storage.show_pair(session, user, assignment.id)
        return Screen(
            state={**state, "assignment_id": assignment.id, "revising": False},
            status=f"{view.judged} of {view.total} judged",
            bar=progress_bar(view.judged, view.total), question=view.question, context=view.context,
            answer_a=view.answer_a, answer_b=view.answer_b, judging=True, guidelines=study.guidelines, token=view.token,
        )

    def on_load(request: gr.Request):
        """Fill the study list; open the study straight away when there is only one."""
        with storage.transaction(engine) as session:
            user = storage.require_role(session, getattr(request, "username", None), None)
            names = [s.name for s in storage.list_studies(session)]
            is_researcher = user.role is Role.researcher
        if is_researcher:  # researchers do not judge: open their own tab, with nothing to pick in Judge
            return gr.update(choices=[], value=None), gr.update(visible=True), gr.Tabs(selected="research")
        picker = gr.update(choices=names, value=names[0] if len(names) == 1 else None)
        return picker, gr.update(visible=False), gr.Tabs(selected="judge")

    def open_study(study_name: str | None, request: gr.Request):
        if not study_name:
            return Screen(state=None, status="Choose a study.").updates()
        try:
            with storage.transaction(engine) as session:
                user = _caller(session, request, None, Role.physician)
                study = storage.get_study(session, study_name)
                return screen_for(session, user, study, {"user": user.name, "study": study.name}).updates()
        except (AccessDenied, StorageError) as exc:
            raise gr.Error(str(exc)) from None

    def submit(state: dict | None, token: str, choice: str | None, evasive_a: bool, evasive_b: bool, rationale: str,
               request: gr.Request):
        if not token and not (state and state.get("assignment_id")):
            raise gr.Error("Nothing to submit: choose a study first.")
        if choice not in CHOICES:
            gr.Warning("Choose A better, B better, Tie or Both bad first (keys 1-4).")
            return (gr.skip(),) * len(screen_outputs)
        try:
            with storage.transaction(engine) as session:
                user = _caller(session, request, state, Role.physician)
                # The token names the pair that was on screen: after a restart (empty State) or a
                # lost reply, a retry still lands on that pair, where it changes nothing.
                assignment = (storage.assignment_by_token(session, user, token) if token
                              else storage.owned_assignment(session, user, state["assignment_id"]))
                study = storage.study_of(session, assignment)
                state = {**(state or {}), "user": user.name, "study": study.name}
                args = dict(evasive_a=bool(evasive_a), evasive_b=bool(evasive_b), rationale=rationale or "")
                if state.get("revising") and state.get("assignment_id") == assignment.id:
                    storage.revise_judgment(session, user, assignment.id, choice, **args)
                else:
                    storage.submit_judgment(session, user, assignment.id, choice, **args)
                # Same transaction: one commit (one fsync) per submit, and the reply that
                # acknowledges the judgment is only sent after that commit.
                return screen_for(session, user, study, state).updates()
        except (AccessDenied, StorageError) as exc:
            raise gr.Error(str(exc)) from None

    def revise_last(state: dict | None, request: gr.Request):
        if not state or not state.get("study"):
            raise gr.Error("Choose a study first.")
        try:
            with storage.transaction(engine) as session:
                user = _caller(session, request, state, Role.physician)
                study = storage.get_study(session, state["study"])
                last = storage.last_judged_assignment(session, study, user)
                if last is None:
                    raise gr.Error("You have not judged anything yet.")
                return screen_for(session, user, study, state, revising=last.id).updates()
        except (AccessDenied, StorageError) as exc:
            raise gr.Error(str(exc)) from None

    def researcher_view(study_name: str | None, request: gr.Request):
        try:
            with storage.transaction(engine) as session:
                _caller(session, request, None, Role.researcher)
                if not study_name:
                    return "Choose a study.", [], ""
                study = storage.get_study(session, study_name)
                counts = storage.study_counts(session, study)
                rows = storage.study_progress(session, study)
                judgments = storage.export_judgments(session, study)
        except (AccessDenied, StorageError) as exc:
            raise gr.Error(str(exc)) from None
        table = [
            [r["physician"] + (" (simulated)" if r["simulated"] else ""), r["assigned"], r["judged"], r["gold_judged"],
             "-" if r["gold_accuracy"] is None else round(r["gold_accuracy"], 3)]
            for r in rows
        ]
        summary = html.escape(
            f"{study.system_1} vs {study.system_2}: {counts['judgments']} judgments of "
            f"{counts['target']} planned ({counts['items']} items x overlap {study.overlap}; "
            f"{counts['gold_items']} gold items). " + win_rate_text(judgments, study.system_2)
        )
        base = "/export/" + quote(study.name, safe="")
        links = " | ".join(
            f'<a href="{html.escape(base)}/{name}" download>{label}</a>'
            for name, label in (("judgments.csv", "Judgments (CSV)"), ("judgments.jsonl", "Judgments (JSONL)"),
                                ("dpo_pairs.jsonl", "DPO pairs (JSONL)"))
        )
        return summary, table, links

    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        state = gr.State(None)
        gr.Markdown("## medalign: which answer is better?")
        with gr.Tabs(selected="judge") as tabs, gr.Tab("Judge", id="judge"):
            study_picker = gr.Dropdown(label="Study", choices=[], interactive=True, allow_custom_value=True, elem_id="study_picker")
            status = gr.Markdown("Choose a study.", elem_id="status")
            bar = gr.HTML(progress_bar(0, 1))
            with gr.Accordion("Guidelines", open=False):
                # Plain text, like every other researcher- or model-written text on this screen.
                guidelines = gr.Textbox(show_label=False, interactive=False, lines=3, max_lines=20, elem_id="guidelines")
            with gr.Column(visible=False) as judging_panel:
                question = gr.Textbox(label="Question", interactive=False, lines=2, max_lines=8, elem_id="question")
                with gr.Accordion("Abstract context", open=False):
                    context = gr.Textbox(label="Context", interactive=False, lines=4, max_lines=20, show_label=False,
                                         elem_id="context")
                with gr.Row(elem_id="answers", equal_height=True):
                    with gr.Column(min_width=320):
                        answer_a = gr.Textbox(label="Answer A", interactive=False, lines=6, max_lines=30, elem_id="answer_a")
                        evasive_a = gr.Checkbox(label="Answer A is evasive or non-committal (E)", elem_id="evasive_a")
                    with gr.Column(min_width=320):
                        answer_b = gr.Textbox(label="Answer B", interactive=False, lines=6, max_lines=30, elem_id="answer_b")
                        evasive_b = gr.Checkbox(label="Answer B is evasive or non-committal (R)", elem_id="evasive_b")
                choice = gr.Radio(CHOICES, label="Which answer is better? (keys 1-4)", elem_id="choice")
                rationale = gr.Textbox(label="Rationale (optional)", lines=2, elem_id="rationale")
                with gr.Row():
                    submit_button = gr.Button("Submit (Enter)", variant="primary", elem_id="submit")
                    revise_button = gr.Button("Revise my last judgment", elem_id="revise")
                pair_token = gr.Textbox(visible=False, elem_id="pair_token")
            with gr.Column(visible=False) as done_panel:
                gr.Markdown("### End of study\nYou have judged every pair available to you. Thank you. "
                            "You may close this tab; use *Revise my last judgment* to change your last answer.")
                revise_done = gr.Button("Revise my last judgment", elem_id="revise_done")
        with tabs, gr.Tab("Researcher", id="research", visible=False) as researcher_tab:
            research_picker = gr.Dropdown(label="Study", choices=[], interactive=True, allow_custom_value=True, elem_id="research_picker")
            refresh = gr.Button("Refresh")
            research_summary = gr.Markdown(elem_id="research_summary")
            research_table = gr.Dataframe(
                headers=["physician", "assigned", "judged", "gold judged", "gold accuracy"], interactive=False
            )
            research_links = gr.HTML()
        gr.Button("Log out", link="/logout", size="sm", elem_id="logout")

        screen_outputs = [state, status, bar, question, context, answer_a, answer_b, evasive_a, evasive_b, choice,
                          rationale, judging_panel, done_panel, guidelines, pair_token]
        blocks.load(on_load, None, [study_picker, researcher_tab, tabs], api_visibility="private")
        study_picker.change(open_study, [study_picker], screen_outputs, api_name="open_study")
        judge_inputs = [state, pair_token, choice, evasive_a, evasive_b, rationale]
        submit_button.click(submit, judge_inputs, screen_outputs, api_name="submit", concurrency_limit=None)
        revise_button.click(revise_last, [state], screen_outputs, api_name="revise_last")
        revise_done.click(revise_last, [state], screen_outputs, api_visibility="private")
        research_outputs = [research_summary, research_table, research_links]
        research_picker.change(researcher_view, [research_picker], research_outputs, api_name="researcher_view")
        refresh.click(researcher_view, [research_picker], research_outputs, api_visibility="private")
        blocks.load(_research_choices(engine), None, [research_picker], api_visibility="private")
    return blocks


def _research_choices(engine: Engine):
    def load(request: gr.Request):
        with storage.transaction(engine) as session:
            user = storage.get_user(session, getattr(request, "username", None) or "")
            if user is None or user.role is not Role.researcher or user.disabled:
                return gr.update(choices=[])
            return gr.update(choices=[s.name for s in storage.list_studies(session)])
    return load


def win_rate_text(judgments: list[dict], system: str) -> str:
    """Live win rate of `system` with a Wilson 95% interval (from the evaluation package)."""
    from evaluation.winrate import win_rate

    rows = [j for j in judgments if not j["is_gold"]]
    if not rows:
        return "No judgments yet."
    result = win_rate(rows, system)
    return (f"Win rate of {system}: {result.rate:.2f} (95% Wilson {result.ci_low:.2f}-{result.ci_high:.2f}), "
            f"n = {result.n}; ties {result.ties}, both bad {result.both_bad}.")
