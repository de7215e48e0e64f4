"""The researcher's study management on the dashboard (issue 22): a study's physicians (add,
remove), one-time sign-up links for new physicians (create, list, revoke an open one), and a new
study from an uploaded answers file.

Each handler checks that the caller is a researcher itself and calls the same library code as
the command line (app/storage/membership.py as `study members`, app/storage/invitations.py,
app/study_create.py as `study create`), so the browser refuses what the command refuses, in the
same words. Handlers are synchronous: Gradio runs them in worker threads, off the event loop.
"""

from __future__ import annotations

import functools
import html
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr

from app import storage
from app.models import Role
from app.storage import invitations, membership
from app.ui.common import Context, caller

# Display labels only: the stored values are the right-hand codes.
KIND_CHOICES = [("Pairwise: two answers side by side", "pairwise"), ("Rating: one answer on a rubric", "rating")]
PRIMARY_CHOICES = [("Decisive votes: wins / (wins + losses)", "decisive"), ("All judgments: wins / all judgments", "all")]
NO_RUBRIC = "(none: upload one, or a pairwise study)"
# Gradio's upload boxes and multiselect input draw text in a pale grey (below 4.5:1 on white): darker here.
PANEL_CSS = ("#create_box [data-testid='upload-text'], #create_box [data-testid='upload-text'] *, "
             "#create_box .subdued, #member_names .subdued { color: #374151 !important; }")
INVITATION_HEADERS = ["physician", "study", "state", "expires", "created by", "revoked"]


@dataclass
class AdminPanel:
    members: gr.Markdown
    member_names: gr.Dropdown
    member_add: gr.Button
    member_remove: gr.Button
    member_note: gr.Markdown
    invite_name: gr.Textbox
    invite_days: gr.Number
    invite_to_study: gr.Checkbox
    invite_create: gr.Button
    invite_link: gr.Textbox
    invite_list: gr.Dataframe
    revoke_name: gr.Dropdown  # the physicians whose link is still open
    revoke_button: gr.Button
    revoke_note: gr.Markdown
    create_fields: list
    create_button: gr.Button
    create_note: gr.Markdown
    created: gr.Textbox  # hidden: the name of the study just created ("" when refused)


def shipped_rubrics() -> list[str]:
    from data.config_files import shipped_config

    folder = shipped_config("rubrics")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def build_admin_panel() -> AdminPanel:
    gr.HTML(f"<style>{PANEL_CSS}</style>", padding=False)
    with gr.Accordion("Physicians of this study", open=False, elem_id="members_box"):
        members = gr.Markdown(elem_id="research_members")
        member_names = gr.Dropdown(label="Physicians to add or remove", choices=[], multiselect=True,
                                   interactive=True, elem_id="member_names",
                                   allow_custom_value=True)  # storage checks every name
        with gr.Row():
            member_add = gr.Button("Add to this study", elem_id="member_add", size="sm")
            member_remove = gr.Button("Remove from this study", elem_id="member_remove", size="sm")
        member_note = gr.Markdown(elem_id="member_note")
    with gr.Accordion("Invite a new physician (one-time sign-up link)", open=False, elem_id="invite_box"):
        with gr.Row():
            invite_name = gr.Textbox(label="User name for the new physician", max_lines=1, elem_id="invite_name")
            invite_days = gr.Number(label="Link valid for (days)", value=7, minimum=1, maximum=invitations.MAX_DAYS,
                                    precision=0, elem_id="invite_days")
            invite_to_study = gr.Checkbox(label="Also make them a physician of the study chosen above", value=True,
                                          elem_id="invite_to_study")
        invite_create = gr.Button("Create the sign-up link", elem_id="invite_create", size="sm")
        invite_link = gr.Textbox(label="Sign-up link: send it to the physician (shown once; it works once)",
                                 interactive=False, max_lines=2, elem_id="invite_link", buttons=["copy"])
        invite_list = gr.Dataframe(headers=INVITATION_HEADERS, label="Invitations", interactive=False,
                                   elem_id="invite_list")
        with gr.Row():
            # storage checks the name: a stale list (another researcher revoked it) is refused in words
            revoke_name = gr.Dropdown(label="Open link to revoke", choices=[], interactive=True,
                                      allow_custom_value=True, elem_id="revoke_name")
            revoke_button = gr.Button("Revoke this link", elem_id="revoke_invitation", size="sm")
        revoke_note = gr.Markdown(elem_id="revoke_note")
    with gr.Accordion("Create a study from an answers file", open=False, elem_id="create_box"):
        gr.Markdown("The same checks and messages as `medalign study create`; nothing is stored unless the whole "
                    "file is valid.")
        with gr.Row():
            name = gr.Textbox(label="Study name (physicians see it)", max_lines=1, elem_id="create_name")
            kind = gr.Radio(KIND_CHOICES, value="pairwise", label="Kind of study", elem_id="create_kind")
        with gr.Row():
            answers = gr.File(label="Answers file (JSONL from `medalign generate`)", file_types=[".jsonl"],
                              type="filepath", elem_id="create_answers")
            gold = gr.File(label="Gold items (JSONL, optional, pairwise)", file_types=[".jsonl"], type="filepath",
                           elem_id="create_gold")
        with gr.Row():
            # No system's name in any default or label: Gradio sends this form's configuration to
            # physicians' browsers too (blinding, SECURITY.md).
            systems = gr.Textbox(label="Systems (comma-separated, as named in the answers file)", max_lines=1,
                                 elem_id="create_systems")
            pairs = gr.Textbox(label="Pairs (pairwise, optional, e.g. first:second)", max_lines=1,
                               elem_id="create_pairs")
            rubric = gr.Dropdown(label="Rubric (rating)", choices=[NO_RUBRIC, *shipped_rubrics()], value=NO_RUBRIC,
                                 elem_id="create_rubric")
            rubric_file = gr.File(label="Or upload a rubric (YAML)", file_types=[".yaml", ".yml"], type="filepath",
                                  elem_id="create_rubric_file")
        with gr.Row():
            overlap = gr.Number(label="Overlap (physicians per unit)", value=1, minimum=1, precision=0,
                                elem_id="create_overlap")
            seed = gr.Number(label="Seed", value=0, minimum=0, precision=0, elem_id="create_seed")
            max_share = gr.Number(label="Largest share of judgments per physician (0-1, blank: no cap)", value=None,
                                  elem_id="create_max_share")
            strict = gr.Checkbox(label="Refuse answers that could unblind physicians", value=False,
                                 elem_id="create_strict")
        with gr.Row():
            primary = gr.Radio(PRIMARY_CHOICES, value="decisive", label="Primary estimand (analysis plan)",
                               elem_id="create_primary")
            target = gr.Textbox(label="Target system (blank: as `study create`)", max_lines=1, elem_id="create_target")
            planned_physicians = gr.Number(label="Planned physicians (optional)", value=None, precision=0,
                                           elem_id="create_planned_physicians")
            planned_items = gr.Number(label="Planned items (optional)", value=None, precision=0,
                                      elem_id="create_planned_items")
        create_button = gr.Button("Create the study", elem_id="create_study", variant="primary")
        create_note = gr.Markdown(elem_id="create_note")
        created = gr.Textbox(visible=False, elem_id="create_created")
    fields = [name, answers, kind, systems, pairs, rubric, rubric_file, overlap, seed, gold, primary, target,
              max_share, planned_physicians, planned_items, strict]
    return AdminPanel(members, member_names, member_add, member_remove, member_note, invite_name, invite_days,
                      invite_to_study, invite_create, invite_link, invite_list, revoke_name, revoke_button, revoke_note,
                      fields, create_button, create_note, created)


def _member_text(study: str, names: list[str]) -> str:
    if not names:
        return html.escape(f"{study}: no physicians named, so the study is open to every physician.")
    return html.escape(f"{study}: {len(names)} physicians: {', '.join(names)} (only they see and are assigned it).")


def _membership(session, study_name: str) -> tuple[str, list[str]]:
    study = storage.get_study(session, study_name)
    return (_member_text(study.name, [u.name for u in storage.study_members(session, study)]),
            [u.name for u in membership.physicians(session)])


def _refusal(exc: Exception) -> str:
    return html.escape(f"Refused: {exc}")


def researchers_only(fn):
    """A refused role is an error for the caller (a physician's page has no such panel to keep)."""
    @functools.wraps(fn)
    def handler(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except storage.AccessDenied as exc:
            raise gr.Error(str(exc)) from None
    return handler


@researchers_only
def members_view(study_name: str | None, request: gr.Request, *, ctx: Context):
    """The chosen study's physicians, every physician to pick from, and the invitations."""
    panel = ctx.ui.researcher.admin
    with storage.transaction(ctx.engine) as session:
        caller(session, request, None, Role.researcher)
        sent = _invitations(session, panel)
        if not study_name:
            return {panel.members: "Choose a study above.", panel.member_names: gr.update(choices=[], value=[]),
                    panel.member_note: "", **sent}
        text, everyone = _membership(session, study_name)
    return {panel.members: text, panel.member_names: gr.update(choices=everyone, value=[]), panel.member_note: "",
            **sent}


def _change_members(study_name: str | None, names: list[str] | None, request: gr.Request, ctx: Context, add: bool):
    panel = ctx.ui.researcher.admin
    if not study_name or not names:
        return {panel.member_note: "Choose a study above and one or more physicians first."}
    try:
        with storage.transaction(ctx.engine) as session:
            caller(session, request, None, Role.researcher)
            study = storage.get_study(session, study_name)
            changed = (storage.add_members if add else membership.remove_members)(session, study, list(names))
            text, everyone = _membership(session, study_name)
    except storage.AccessDenied:
        raise
    except storage.StorageError as exc:  # an unknown name, or not a physician: said as `study members` says it
        return {panel.member_note: _refusal(exc)}
    done = ("Added: " if add else "Removed: ") + (", ".join(changed) or "nobody (no change)")
    return {panel.members: text, panel.member_names: gr.update(choices=everyone, value=[]),
            panel.member_note: html.escape(done + ".")}


@researchers_only
def add_study_members(study_name, names, request: gr.Request, *, ctx: Context):
    return _change_members(study_name, names, request, ctx, add=True)


@researchers_only
def remove_study_members(study_name, names, request: gr.Request, *, ctx: Context):
    return _change_members(study_name, names, request, ctx, add=False)


def _site(request: gr.Request) -> str:
    """The address physicians open: MEDALIGN_PUBLIC_URL behind a proxy, else the page's own origin."""
    public = os.environ.get("MEDALIGN_PUBLIC_URL")
    if public:
        return public.rstrip("/")
    headers = getattr(request, "headers", None) or {}
    origin = headers.get("origin") or ""
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else f"http://{headers.get('host', '')}"


def _invitations(session, panel: AdminPanel) -> dict:
    """The invitations table and the open links that may be revoked, as outputs."""
    rows = invitations.list_invitations(session)
    table = [[r["physician"], r["study"], r["state"], r["expires"], r["created_by"], r["revoked"]] for r in rows]
    still_open = [(f"{r['physician']} ({r['study'] or 'no study'}, expires {r['expires']})", r["physician"])
                  for r in rows if r["state"] == "open"]
    return {panel.invite_list: table, panel.revoke_name: gr.update(choices=still_open, value=None)}


@researchers_only
def create_invitation_link(name: str, days, to_study: bool, study_name: str | None, request: gr.Request, *,
                           ctx: Context):
    panel = ctx.ui.researcher.admin
    try:
        with storage.transaction(ctx.engine) as session:
            user = caller(session, request, None, Role.researcher)
            study = storage.get_study(session, study_name) if to_study and study_name else None
            token = invitations.create_invitation(session, name or "", user.name, days=float(days or 0), study=study)
            sent = _invitations(session, panel)
    except storage.AccessDenied:
        raise
    except storage.StorageError as exc:  # a text box: plain text
        return {panel.invite_link: f"Refused: {exc}", panel.invite_list: gr.skip(), panel.revoke_name: gr.skip()}
    return {panel.invite_link: f"{_site(request)}/signup?token={token}", **sent}


@researchers_only
def revoke_invitation_link(name: str | None, request: gr.Request, *, ctx: Context):
    """Revoke the chosen physician's open link (app/storage/invitations.py); the row and who did it are kept."""
    panel = ctx.ui.researcher.admin
    try:
        with storage.transaction(ctx.engine) as session:
            user = caller(session, request, None, Role.researcher)
            if not name:
                return {panel.revoke_note: "Choose an open link to revoke first.", panel.invite_list: gr.skip(),
                        panel.revoke_name: gr.skip()}
            row = invitations.revoke_invitation(session, name, user.name)
            sent = _invitations(session, panel)
    except storage.AccessDenied:
        raise
    except storage.StorageError as exc:  # no open link (used, expired, revoked meanwhile): said in words
        return {panel.revoke_note: _refusal(exc), panel.invite_list: gr.skip(), panel.revoke_name: gr.skip()}
    done = f"Revoked the sign-up link of {row['physician']} ({row['revoked']}); the link now says it was withdrawn."
    return {panel.revoke_note: html.escape(done), **sent}


@researchers_only
def create_study_upload(name, answers, kind, systems, pairs, rubric, rubric_file, overlap, seed, gold, primary,
                        target, max_share, planned_physicians, planned_items, strict, request: gr.Request, *,
                        ctx: Context):
    """`medalign study create` from the form: the same checks and messages (app/study_create.py)."""
    from app.server import upload_limit
    from app.study_create import StudyRequest, create_study_from_files

    panel = ctx.ui.researcher.admin
    with storage.transaction(ctx.engine) as session:
        caller(session, request, None, Role.researcher)
    if not answers:
        return {panel.create_note: "Refused: choose the answers file first.", panel.created: ""}
    files = [Path(f) for f in (answers, gold, rubric_file) if f]
    too_big = next((f for f in files if f.stat().st_size > upload_limit()), None)
    if too_big is not None:
        return {panel.create_note: html.escape(f"Refused: {too_big.name} is over {upload_limit():,} bytes; use "
                                               "`medalign study create` for larger files."), panel.created: ""}
    from data.config_files import shipped_config

    rubric_path = Path(rubric_file) if rubric_file else (
        shipped_config(f"rubrics/{rubric}.yaml") if rubric in shipped_rubrics() else None)
    warnings: list[str] = []
    try:
        told = create_study_from_files(ctx.engine, StudyRequest(
            name=name or "", answers=Path(answers), systems=systems or "", kind=kind, pairs=pairs or None,
            rubric=rubric_path, overlap=int(overlap or 0), seed=int(seed or 0), gold=Path(gold) if gold else None,
            primary=primary, target=target or None, max_share=max_share, physician_sample=None, strict=bool(strict),
            planned_physicians=int(planned_physicians) if planned_physicians else None,
            planned_items=int(planned_items) if planned_items else None,
            shown={f: f.name for f in files}),
            warnings.append)
    except (ValueError, OSError) as exc:  # the command line's refusals (medalign/errors.py guard)
        return {panel.create_note: _refusal(exc), panel.created: ""}
    shown = [*(f"Warning: {w}" for w in warnings), *told]
    return {panel.create_note: "<br>".join(html.escape(line) for line in shown), panel.created: name}


@researchers_only
def open_created(created: str | None, request: gr.Request, *, ctx: Context):
    """After a study is created: the dashboard's study list, with the new study chosen."""
    with storage.transaction(ctx.engine) as session:
        caller(session, request, None, Role.researcher)
        if not created:
            return gr.skip()
        names = [s.name for s in storage.list_studies(session)]
    return gr.update(choices=names, value=created if created in names else None)


def wire_admin(research, ctx: Context) -> None:
    """The panel's events (app/ui/shell.py calls this once, beside the dashboard's own)."""
    from app.ui.common import bind

    panel: AdminPanel = research.admin
    private = {"api_visibility": "private"}
    members_out = [panel.members, panel.member_names, panel.member_note]
    invitations_out = [panel.invite_list, panel.revoke_name]
    research.picker.change(bind(members_view, ctx), [research.picker], [*members_out, *invitations_out], **private)
    panel.member_add.click(bind(add_study_members, ctx), [research.picker, panel.member_names], members_out,
                           api_name="add_members")
    panel.member_remove.click(bind(remove_study_members, ctx), [research.picker, panel.member_names], members_out,
                              api_name="remove_members")
    panel.invite_create.click(bind(create_invitation_link, ctx),
                              [panel.invite_name, panel.invite_days, panel.invite_to_study, research.picker],
                              [panel.invite_link, *invitations_out], api_name="create_invitation")
    panel.revoke_button.click(bind(revoke_invitation_link, ctx), [panel.revoke_name],
                              [panel.revoke_note, *invitations_out], api_name="revoke_invitation")
    panel.create_button.click(bind(create_study_upload, ctx), panel.create_fields, [panel.create_note, panel.created],
                              api_name="create_study").success(
        bind(open_created, ctx), [panel.created], [research.picker], **private)
