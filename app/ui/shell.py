"""The shared shell: who is logged in, the study picker, progress, guidelines, the question and
its context, one panel per study kind, the end screen and the researcher tab; and the wiring.

Handlers return {component: value} built by `UI.updates` from a Screen (app/ui/screen.py), so
no output is addressed by its position. The `screen` JSON component carries the screen's
public fields for API clients (app/simulate.py, bench/loadtest.py), which read it by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
from gradio.data_classes import GradioModel, GradioRootModel
from gradio.utils import is_prop_update
from sqlalchemy.engine import Engine

from app import storage
from app.models import Role
from app.ui.common import (
    Context,
    Refused,
    bind,
    caller,
    guidelines_markdown,
    notice_html,
    progress_bar,
    shown_text,
    storage_errors,
    text_pane,
)
from app.ui.history import HistoryPanel, build_history_panel, list_history, open_judgment
from app.ui.pairwise import PairwisePanel, build_pairwise_panel, pairwise_actions, submit_pairwise
from app.ui.rating import RatingPanel, build_rating_panel, rating_actions, submit_rating
from app.ui.research_admin import wire_admin
from app.ui.researcher import ResearcherTab, build_researcher_tab, research_choices, researcher_view
from app.ui.screen import Screen, next_screen
from app.ui.skip import CLOSE_JS, OPEN_JS, SkipForm, build_skip_form, skip_unit

SCREEN_LABEL = "screen"  # API clients find the screen's JSON output by this label (app/simulate.py)
# The on-screen key help (app/ui/keyboard.py implements the keys).
KEY_HELP = """**Keys** (not while typing in a text box):
1-4 choose (pairwise) or grade the focused question (rating; 0 is the 10th option) ·
E / R flag Answer A / B as evasive · Enter submits (Ctrl+Enter from the rationale or comment) ·
U revises your last judgment · C opens *Cannot judge* (there 1-4 pick a reason, Enter skips, Esc closes) ·
H opens *My judgments* (arrow keys choose, Enter opens one to revise)."""


@dataclass
class UI:
    state: gr.State
    whoami: gr.Textbox
    tabs: gr.Tabs
    picker: gr.Dropdown
    status: gr.Markdown
    bar: gr.HTML
    guidelines: gr.Markdown
    judge_tab: gr.Tab
    end_note: gr.Markdown
    work: gr.Column
    question: gr.Markdown
    context: gr.Markdown
    notice: gr.HTML
    token: gr.Textbox
    screen: gr.JSON
    done_panel: gr.Column
    revise_done: gr.Button
    pairwise: PairwisePanel
    rating: RatingPanel
    skip: SkipForm
    history: HistoryPanel
    researcher: ResearcherTab

    def screen_outputs(self) -> list:
        return [self.state, self.status, self.notice, self.bar, self.guidelines, self.work, self.question, self.context,
                self.token,
                self.screen, self.done_panel, self.end_note, self.revise_done, *self.pairwise.components(), *self.rating.components(),
                *self.skip.components()]

    def unchanged(self) -> dict:
        # Not {}: Gradio reads an empty dict as one output value.
        return dict.fromkeys(self.screen_outputs(), gr.skip())

    def refused(self, message: str, exc: Exception | None = None) -> dict:
        """A refusal: every component keeps its value (what was entered stays), the notice says why;
        after a conflicting retry the Revise button the message names is shown."""
        out = {**self.unchanged(), self.notice: notice_html(message)}
        if isinstance(exc, storage.AlreadyJudged):
            out.update({self.pairwise.revise: gr.update(visible=True), self.rating.revise: gr.update(visible=True)})
        return out

    def updates(self, screen: Screen) -> dict:
        return {
            self.state: screen.state, self.status: screen.shown_status(), self.notice: notice_html(""),
            self.bar: progress_bar(screen.judged, screen.total, screen.study, screen.token),
            self.guidelines: guidelines_markdown(screen.guidelines), self.work: gr.update(visible=screen.judging),
            self.question: shown_text(screen.question), self.context: shown_text(screen.context),
            self.token: screen.token,
            self.screen: screen.public(), self.done_panel: gr.update(visible=screen.done),
            self.end_note: screen.end_note(), self.revise_done: gr.update(visible=screen.done and screen.judged > 0),
            **self.pairwise.updates(screen), **self.rating.updates(screen), **self.skip.updates(screen),
        }


@storage_errors
def on_load(request: gr.Request, *, ctx: Context) -> dict:
    """Who is logged in; the study list (opened straight away when there is only one, or when
    the login page brought the physician back to one after a session loss: ?study=NAME);
    researchers land on their own tab and see no Judge tab."""
    ui = ctx.ui
    with storage.transaction(ctx.engine) as session:
        user = storage.require_role(session, getattr(request, "username", None), None)
        names = [s.name for s in storage.studies_for(session, user)]  # a physician sees their studies only
    if user.role is Role.researcher:
        return {ui.picker: gr.update(choices=[], value=None), ui.researcher.tab: gr.update(visible=True),
                ui.judge_tab: gr.update(visible=False), ui.tabs: gr.Tabs(selected="research"),
                ui.researcher.timer: gr.Timer(active=True),
                ui.whoami: f"{user.name} (researcher)"}
    wanted = dict(getattr(request, "query_params", None) or {}).get("study")
    chosen = wanted if wanted in names else (names[0] if len(names) == 1 else None)
    return {ui.picker: gr.update(choices=names, value=chosen), ui.researcher.tab: gr.update(visible=False),
            ui.judge_tab: gr.update(visible=True), ui.tabs: gr.Tabs(selected="judge"), ui.whoami: user.name}


@storage_errors
def open_study(study_name: str | None, request: gr.Request, *, ctx: Context) -> dict:
    if not study_name:
        return ctx.ui.updates(Screen(state=None, status="Choose a study."))
    with storage.transaction(ctx.engine) as session:
        user = caller(session, request, None, Role.physician)
        study = storage.get_study(session, study_name)
        if not storage.may_judge(session, study, user):
            raise storage.AccessDenied(f"the study {study_name!r} is not one of yours")
        return ctx.ui.updates(next_screen(session, user, study, {"user": user.name, "study": study.name}))


@storage_errors
def revise_last(state: dict | None, request: gr.Request, *, ctx: Context) -> dict:
    if not state or not state.get("study"):
        raise Refused("Not saved: choose a study first.")
    with storage.transaction(ctx.engine) as session:
        user = caller(session, request, state, Role.physician)
        study = storage.get_study(session, state["study"])
        last = storage.last_judged_assignment(session, study, user)
        if last is None:
            raise Refused("Nothing to revise: you have not judged anything in this study yet.")
        return ctx.ui.updates(next_screen(session, user, study, state, revising=last.id))


def _layout() -> UI:
    state = gr.State(None)
    with gr.Row(elem_id="top_row", equal_height=True):
        gr.HTML('<h1 class="app-title">medalign: judging answers</h1>', elem_id="app_title")
        # A Textbox, not Markdown: the user name is shown as plain text.
        whoami = gr.Textbox(label="Signed in as", interactive=False, max_lines=1, elem_id="whoami", scale=0, min_width=260)
        gr.Button("Log out", link="/logout", size="sm", elem_id="logout", scale=0, min_width=90)
    with gr.Tabs(selected="judge") as tabs:
        with gr.Tab("Judge", id="judge", visible=False) as judge_tab:  # shown to physicians by on_load
            with gr.Row(elem_id="study_row", equal_height=True):
                picker = gr.Dropdown(label="Study", choices=[], interactive=True, allow_custom_value=True,
                                     elem_id="study_picker", scale=1)
                with gr.Accordion("Guidelines", open=False, elem_id="guidelines_accordion"):
                    # Markdown made safe by guidelines_markdown (escaped first, sanitised after).
                    guidelines = gr.Markdown(elem_id="guidelines", sanitize_html=True)
                history = build_history_panel()
                with gr.Accordion("Keys", open=False, elem_id="keys_accordion"):
                    gr.Markdown(KEY_HELP, elem_id="key_help")
            with gr.Column(visible=False) as work:
                with gr.Column(elem_id="work"):
                    question = text_pane("Question", "question")
                    # Its own scroll pane of bounded height (CSS): open, it never pushes the answers
                    # below the window.
                    with gr.Accordion("Abstract context", open=False, elem_id="context_accordion"):
                        context = text_pane("Abstract context", "context", show_label=False)
                    pairwise = build_pairwise_panel()
                    rating = build_rating_panel()
            token = gr.Textbox(visible=False, elem_id="pair_token")
            screen = gr.JSON(label=SCREEN_LABEL, visible=False, elem_id="screen")
            with gr.Column(visible=False) as done_panel:
                end_note = gr.Markdown(elem_id="end_note")
                revise_done = gr.Button("Revise my last judgment", elem_id="revise_done", visible=False)
            # Fixed to the bottom of the window: progress, status ("Saved (n of N)"), refusals, the
            # choice and Submit are in view at any scroll position (app/ui/keyboard.py CSS).
            with gr.Row(elem_classes=["action-bar"], elem_id="action_bar"):
                with gr.Column(scale=1, min_width=240, elem_id="bar_status"):
                    status = gr.Markdown("Choose a study.", elem_id="status")
                    bar = gr.HTML(progress_bar(0, 0), elem_id="progress")
                    notice = gr.HTML(notice_html(""), elem_id="notice")
                    gr.HTML('<div class="key-note" role="status" aria-live="polite"></div>', elem_id="key_note")
                with gr.Column(scale=3, min_width=300, elem_id="bar_actions"):
                    skip = build_skip_form()
                    pairwise_actions(pairwise)
                    rating_actions(rating)
        researcher = build_researcher_tab()
    return UI(state, whoami, tabs, picker, status, bar, guidelines, judge_tab, end_note, work, question, context, notice,
              token, screen, done_panel, revise_done, pairwise, rating, skip, history, researcher)


def _wire(blocks: gr.Blocks, ui: UI, ctx: Context) -> None:
    outputs = ui.screen_outputs()
    private = {"api_visibility": "private"}
    blocks.load(bind(on_load, ctx), None, [ui.picker, ui.researcher.tab, ui.judge_tab, ui.tabs, ui.whoami,
                                                ui.researcher.timer], **private)
    ui.picker.change(bind(open_study, ctx), [ui.picker], outputs, api_name="open_study")
    p, r = ui.pairwise, ui.rating
    # A submit stays in its study, so the other kind's panel stays hidden as it is: not an output.
    # Gradio rebuilds every output component sent a property update (or gr.skip()), and a rating
    # panel holds 25 of the 52 (its 16 radio groups among them).
    # The values leave the handler postprocessed (`postprocessed`), so Gradio's per-output thread hops are skipped.
    pair_out, rating_out = _without(outputs, r.components()), _without(outputs, p.components())
    p.submit.click(_only(bind(submit_pairwise, ctx), pair_out),
                   [ui.state, ui.token, p.choice, p.evasive_a, p.evasive_b, p.rationale], pair_out, api_name="submit",
                   concurrency_limit=None, postprocess=False)
    r.submit.click(_only(bind(submit_rating, ctx), rating_out), [ui.state, ui.token, r.free_text, *r.criteria],
                   rating_out, api_name="submit_rating", concurrency_limit=None, postprocess=False)
    p.revise.click(bind(revise_last, ctx), [ui.state], outputs, api_name="revise_last")
    for button in (r.revise, ui.revise_done):
        button.click(bind(revise_last, ctx), [ui.state], outputs, **private)
    _wire_side_trips(ui, ctx)
    research = ui.researcher
    research.picker.change(bind(researcher_view, ctx), research.inputs(), research.outputs(), api_name="researcher_view")
    for trigger in (research.refresh.click, research.exclude_simulated.change, research.timer.tick):
        trigger(bind(researcher_view, ctx), research.inputs(), research.outputs(), **private)
    blocks.load(bind(research_choices, ctx), None, [research.picker], **private)
    wire_admin(research, ctx)  # the researcher's study management (app/ui/research_admin.py)


def _without(outputs: list, left_out: list) -> list:
    gone = {id(c) for c in left_out}
    return [c for c in outputs if id(c) not in gone]


def _only(handler: Callable, outputs: list) -> Callable:
    """`handler` answering for `outputs` only (Gradio refuses a returned component that is not
    an output), its values postprocessed; its signature and resolved hints (common.bind) are kept
    through functools.wraps."""
    kept = {id(c) for c in outputs}

    @functools.wraps(handler)
    def only(*args, **kwargs):
        return postprocessed({c: v for c, v in handler(*args, **kwargs).items() if id(c) in kept})

    return only


def postprocessed(updates: dict) -> dict:
    """The values as Gradio sends them (each component's own postprocess, as Gradio would run
    it), for an event wired with postprocess=False: Gradio runs each plain value's postprocess in
    a worker thread of its own, one thread hop per output (19 a submit: 5.2 -> 1.9 ms of CPU for
    Gradio's postprocess of one submit, in-process, same output)."""
    out = {}
    for component, value in updates.items():
        if getattr(component, "stateful", False) or (is_prop_update(value) and "value" not in value):
            out[component] = value  # State, and property updates (gr.update(visible=...), gr.skip())
        elif is_prop_update(value):
            out[component] = {**value, "value": _postprocess(component, value["value"])}
        else:
            out[component] = _postprocess(component, value)
    return out


def _postprocess(component, value):
    value = component.postprocess(value)
    return value.model_dump() if isinstance(value, GradioModel | GradioRootModel) else value


def _wire_side_trips(ui: UI, ctx: Context) -> None:
    """Cannot judge (the form opens and closes in the browser only), My judgments, Back to judging."""
    outputs, private = ui.screen_outputs(), {"api_visibility": "private"}
    p, r, form, history = ui.pairwise, ui.rating, ui.skip, ui.history
    for button in (p.skip, r.skip):
        button.click(None, None, None, js=OPEN_JS, **private)
    form.cancel.click(None, None, None, js=CLOSE_JS, **private)
    form.confirm.click(bind(skip_unit, ctx), [ui.state, ui.token, form.reason, form.note], outputs, api_name="skip",
                       concurrency_limit=None)
    history.accordion.expand(bind(list_history, ctx), [ui.state], history.outputs(ui.notice), **private)
    history.open_button.click(bind(open_judgment, ctx), [ui.state, history.entries], [*outputs, history.accordion],
                              **private)
    for button in (p.back, r.back):
        button.click(bind(open_study, ctx), [ui.picker], outputs, **private)


def build_ui(engine: Engine, *, title: str = "medalign: physician judging") -> gr.Blocks:
    ctx = Context(engine)
    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        ctx.ui = _layout()
        _wire(blocks, ctx.ui, ctx)
    return blocks
