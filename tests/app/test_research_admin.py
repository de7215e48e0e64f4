"""The researcher's management events (issue 22) check the caller's role on the server: a
physician calling them directly (gradio_client: plain HTTP to the queue) is refused and nothing
changes; removing members checks every name first (nothing half-removed)."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from sqlmodel import select

from app import storage
from app.models import Invitation
from app.storage import invitations, membership
from app.ui.research_admin import NO_RUBRIC
from tests.app.conftest import PASSWORD, write_answers


def test_physician_cannot_call_the_researcher_events(server, engine, make_study, make_user, tmp_path):
    make_study("guarded", n=2)
    make_user("dr_in_g")
    make_user("dr_sneaky")
    with storage.transaction(engine) as session:
        storage.add_members(session, storage.get_study(session, "guarded"), ["dr_in_g"])
    client = Client(server, auth=("dr_sneaky", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="researcher"):
        client.predict("guarded", ["dr_in_g"], api_name="/remove_members")
    with pytest.raises(Exception, match="researcher"):
        client.predict("guarded", ["dr_sneaky"], api_name="/add_members")
    with pytest.raises(Exception, match="researcher"):
        client.predict("dr_friend", 7, True, "guarded", api_name="/create_invitation")
    with storage.transaction(engine) as session:
        invitations.create_invitation(session, "dr_pending", "boss")
    with pytest.raises(Exception, match="researcher"):
        client.predict("dr_pending", api_name="/revoke_invitation")
    answers = write_answers(tmp_path / "answers.jsonl", 2)
    with pytest.raises(Exception, match="researcher"):
        client.predict("sneaky-study", handle_file(str(answers)), "pairwise", "sft,dpo", "", NO_RUBRIC, None, 1, 0,
                       None, "decisive", "", None, None, None, False, api_name="/create_study")
    with storage.transaction(engine) as session:
        assert [u.name for u in storage.study_members(session, storage.get_study(session, "guarded"))] == ["dr_in_g"]
        assert [(i.user_name, i.revoked_at) for i in session.exec(select(Invitation))] == [("dr_pending", None)]
        assert storage.get_user(session, "dr_friend") is None
        assert [s.name for s in storage.list_studies(session)] == ["guarded"]


def test_remove_members_checks_every_name_first(engine, make_study, make_user):
    make_study("wardr", n=2)
    for name in ("dr_x", "dr_y"):
        make_user(name)
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "wardr")
        storage.add_members(session, study, ["dr_x", "dr_y"])
    with pytest.raises(storage.StorageError, match="no user named 'nobody'"), storage.transaction(engine) as session:
        membership.remove_members(session, storage.get_study(session, "wardr"), ["dr_x", "nobody"])
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "wardr")
        assert [u.name for u in storage.study_members(session, study)] == ["dr_x", "dr_y"]
        assert membership.remove_members(session, study, ["dr_x", "dr_x"]) == ["dr_x"]
        assert membership.remove_members(session, study, ["dr_x"]) == []  # not a member any more: no change
        assert [u.name for u in storage.study_members(session, study)] == ["dr_y"]
        assert [u.name for u in membership.physicians(session)] == ["dr_x", "dr_y"]


def test_uploads_are_bounded(server, make_user):
    """An answers file over the request-body bound (1 MB by default) is refused before it is stored."""
    import httpx

    from app.server import upload_limit

    make_user("boss_upload", "researcher")
    researcher = httpx.Client(base_url=server, timeout=60)
    assert researcher.post("/login", data={"username": "boss_upload", "password": PASSWORD}).status_code == 200
    small = researcher.post("/gradio_api/upload", files={"files": ("answers.jsonl", b'{"id": 1}\n')})
    assert small.status_code == 200
    big = researcher.post("/gradio_api/upload", files={"files": ("answers.jsonl", b"x" * (upload_limit() + 1))})
    assert big.status_code == 413


def test_researcher_revokes_an_open_link_from_the_panel(server, engine, make_user):
    """The panel's revoke event (plain HTTP, as the browser sends it): the link is revoked, the
    researcher recorded; a second revoke of the same name is refused in words, nothing changed."""
    make_user("boss_rev", "researcher")
    with storage.transaction(engine) as session:
        invitations.create_invitation(session, "dr_leaving", "someone_else")
    client = Client(server, auth=("boss_rev", PASSWORD), verbose=False)
    note, table, _ = client.predict("dr_leaving", api_name="/revoke_invitation")
    assert "Revoked the sign-up link of dr_leaving (by boss_rev" in note
    assert [row[:3] for row in table["data"]] == [["dr_leaving", "", "revoked"]]
    assert table["data"][0][5].startswith("by boss_rev, ")
    again, _, _ = client.predict("dr_leaving", api_name="/revoke_invitation")
    assert "Refused: &#x27;dr_leaving&#x27;&#x27;s link was already revoked by boss_rev" in again
    with storage.transaction(engine) as session:
        row = session.exec(select(Invitation)).one()
        assert row.revoked_by == "boss_rev" and row.revoked_at is not None and row.used_at is None
