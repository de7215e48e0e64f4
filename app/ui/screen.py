"""The judging screen as data: what one physician sees next, whatever the study kind.

`Screen.public()` is the JSON the screen component carries (and API clients read by name); it
holds texts, counts and the pair token, never a system name or an assignment id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app import storage
from app.models import Assignment, Role, Study, User
from app.ui.common import caller
from evaluation.kinds import get_kind
from evaluation.rubric import Rubric


@dataclass
class Screen:
    state: dict | None
    status: str = ""
    kind: str | None = None  # the study's kind (evaluation.kinds.KINDS)
    judged: int = 0
    total: int = 0
    question: str = ""
    context: str = ""
    answer_a: str = ""  # the one answer of a rating study
    answer_b: str = ""  # "" in a rating study
    token: str = ""
    guidelines: str = ""
    judging: bool = False
    done: bool = False
    revising: bool = False
    revising_what: str = ""  # which judgment is being revised, in words ("your last judgment", "#3 ...")
    previous: dict | None = None  # the judgment being revised, as storage.judgment_as_shown gives it
    rubric: Rubric | None = None
    study: str = ""
    saved: bool = False  # this screen follows a stored judgment: the bar says "Saved (n of N)"
    remaining: list[str] | None = None  # on the end screen: other studies with work left for this user

    @property
    def panel(self) -> str | None:
        """The name of the panel that shows this screen's unit (its study kind says which)."""
        return get_kind(self.kind).panel if self.kind else None

    skipped: bool = False  # this screen follows a skip: the bar says so
    revised: bool = False  # this screen follows a saved revision

    def shown_status(self) -> str:
        """The status line on screen (the public `status` stays as API clients know it)."""
        if self.skipped:
            return f"Skipped; it counts as done ({self.judged} of {self.total}). " + self.status
        if self.revised:
            return f"Revision saved ({self.judged} of {self.total}). " + self.status
        return (f"Saved ({self.judged} of {self.total}). " if self.saved else "") + self.status

    def submit_label(self) -> str:
        return "Save revision (Enter)" if self.revising else "Submit (Enter)"

    def end_note(self) -> str:
        if not self.done:
            return ""
        if self.remaining:
            return ("### End of this study\nYou have judged every pair of this study available to you. "
                    "Studies with work left for you: " + ", ".join(self.remaining) +
                    " (choose one above). Use *My judgments* to change any of your answers.")
        return ("### End of study\nYou have judged everything available to you in every study. Thank you. "
                "You may close this tab; use *My judgments* to change any of your answers.")

    def public(self) -> dict:
        out = {"kind": self.kind, "status": self.status, "judged": self.judged,
               "total": self.total, "done": self.done, "revising": self.revising, "token": self.token,
               "question": self.question, "context": self.context}
        if self.kind and get_kind(self.kind).answers_per_unit == 2:
            out.update(answer_a=self.answer_a, answer_b=self.answer_b)
        elif self.kind:
            out["answer"] = self.answer_a
        if self.rubric is not None:
            out["criteria"] = [
                {"id": c.id, "question": c.question, "required": c.required, "higher_is_better": c.higher_is_better,
                 "options": [{"value": value, "label": label} for value, label in c.options()]}
                for c in self.rubric.criteria
            ]
            free = self.rubric.free_text
            out["free_text"] = None if free is None else {"question": free.question, "required": free.required}
        return out


def next_screen(session, user: User, study: Study, state: dict, *, revising: int | None = None,
                revising_what: str = "your last judgment") -> Screen:
    """The physician's open unit (or a new one), the unit they are revising (in the layout it was
    judged in, with the stored values), or the end screen."""
    kind, rubric = study.kind, storage.study_rubric(study)
    common = {"kind": kind, "rubric": rubric, "guidelines": study.guidelines, "study": study.name}
    if revising is None:
        assignment = storage.next_assignment(session, study, user)
        if assignment is None:
            done = storage.progress(session, study, user)
            return Screen(state={**state, "assignment_id": None, "revising": False}, done=True,
                          status=f"All done: {done.judged} of {done.total} judged. Thank you!",
                          judged=done.judged, total=done.total, remaining=_studies_left(session, study, user),
                          **common)
        assignment_id = assignment.id
    else:
        assignment_id = revising
    view = storage.show_unit(session, user, assignment_id)
    screen = Screen(state={**state, "assignment_id": view.assignment_id, "revising": revising is not None},
                    status=f"{view.judged} of {view.total} judged", judged=view.judged, total=view.total,
                    question=view.question, context=view.context, answer_a=view.answer_a,
                    answer_b=view.answer_b or "", token=view.token, judging=True, **common)
    if revising is not None:
        screen.revising, screen.revising_what = True, revising_what
        screen.previous = storage.judgment_as_shown(session, user, revising)
        screen.status = (f"Revising {revising_what} ({view.judged} of {view.total} judged): change it, then "
                         "Save revision; Back to judging leaves it as it was.")
    return screen


def _studies_left(session, study: Study, user: User) -> list[str]:
    out = []
    for other in storage.studies_for(session, user):
        if other.id != study.id:
            left = storage.progress(session, other, user)
            if left.judged < left.total:
                out.append(other.name)
    return out


def unit_on_screen(session, request, state: dict | None, token: str) -> tuple[User, Assignment, Study, dict]:
    """(user, assignment, study, state) of the unit the token names (else the State's), after
    checking the caller, that the unit is theirs and that the study is one of theirs."""
    user = caller(session, request, state, Role.physician)
    assignment = (storage.assignment_by_token(session, user, token) if token
                  else storage.owned_assignment(session, user, state["assignment_id"]))
    study = storage.study_of(session, assignment)
    if not storage.may_judge(session, study, user):
        raise storage.AccessDenied(f"the study {study.name!r} is not one of yours")
    return user, assignment, study, {**(state or {}), "user": user.name, "study": study.name}


def judge(engine, request, state: dict | None, token: str, panel: str, fields: Callable[[Study], dict]) -> Screen:
    """Store (or revise) the judgment of the unit the token names, then the next screen.

    The token names the unit that was on screen: after a restart (empty State) or a lost reply,
    a retry still lands on that unit, where the same values change nothing. `panel` names the
    panel that sent it; `fields(study)` gives the judgment's values (a rating panel needs the
    study's rubric to name its grades).
    """
    if not token and not (state and state.get("assignment_id")):
        raise storage.StorageError("Nothing to submit: choose a study first.")
    with storage.transaction(engine) as session:
        user, assignment, study, state = unit_on_screen(session, request, state, token)
        if get_kind(study.kind).panel != panel:
            raise storage.StorageError(f"this is a {study.kind} study; reload the page")
        revised = bool(state.get("revising") and state.get("assignment_id") == assignment.id)
        if revised:  # any of this physician's judgments, opened from My judgments or Revise (U)
            storage.revise_judgment(session, user, assignment.id, **fields(study))
        else:
            storage.submit_judgment(session, user, assignment.id, **fields(study))
        # Same transaction: one commit per submit, and the reply that acknowledges the
        # judgment is only sent after that commit.
        screen = next_screen(session, user, study, state)
        screen.saved, screen.revised = True, revised
        return screen


def skip(engine, request, state: dict | None, token: str, reason: str, note: str) -> Screen:
    """'Cannot judge': the unit on screen is skipped for `reason` (a stored code) and passed on;
    then the next screen."""
    if not token:
        raise storage.StorageError("Nothing to skip: choose a study first.")
    with storage.transaction(engine) as session:
        user, assignment, study, state = unit_on_screen(session, request, state, token)
        if state.get("revising") and state.get("assignment_id") == assignment.id:
            raise storage.StorageError("Not skipped: this one is already judged; save your revision or go back "
                                       "to judging")
        storage.skip_assignment(session, user, assignment.id, reason, note)
        screen = next_screen(session, user, study, state)
        screen.skipped = True
        return screen
