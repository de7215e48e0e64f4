"""Issue 22, invitations in Chromium: the researcher creates a one-time sign-up link on the
dashboard for a named physician and a study; the physician opens it, sets a password and lands
logged in, in that study; the same link opened again, and an expired link, say so in words; a
link the researcher revokes on the dashboard says it was withdrawn; the dashboard's new controls
have no serious or critical axe-core violation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app import storage
from app.storage import invitations
from medalign.testing.browser import axe_violations, browser_page, choose_study, chromium_path, log_in
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHOSEN = "my-own-password-7"


def test_invitation_link_signs_up_once(server, engine, make_study, make_user):
    chromium_path()
    make_study("ward-inv", n=2)
    make_study("other-inv", n=2)
    make_user("boss_inv", "researcher")
    with browser_page() as page:
        log_in(page, server, "boss_inv", PASSWORD)
        choose_study(page, "ward-inv")
        page.wait_for_selector("text=0 judgments of", timeout=30_000)
        page.get_by_text("Invite a new physician").click()
        page.get_by_label("User name for the new physician").fill("dr_invited")
        page.locator("#invite_create").click()
        page.wait_for_function("document.querySelector('#invite_link textarea')?.value.includes('/signup?token=')",
                               timeout=30_000)
        link = page.locator("#invite_link textarea").input_value()
        assert link.startswith(server + "/signup?token=")
        page.wait_for_function("document.querySelector('#invite_list')?.innerText.includes('dr_invited')",
                               timeout=30_000)
        for box in ("Physicians of this study", "Create a study from an answers file"):
            page.get_by_text(box).click()
        page.wait_for_timeout(500)
        assert axe_violations(page) == []  # the dashboard with every new control open
    with storage.transaction(engine) as session:  # a member from the invitation on (shown in progress)
        members = storage.study_members(session, storage.get_study(session, "ward-inv"))
        assert [(u.name, u.disabled) for u in members] == [("dr_invited", True)]
    with browser_page() as page:
        page.goto(link)
        assert "dr_invited" in page.locator("main").inner_text() and "ward-inv" in page.locator("main").inner_text()
        assert axe_violations(page) == []
        page.get_by_label("new password", exact=True).fill(CHOSEN)
        page.get_by_label("new password again").fill("not-the-same-1")
        page.get_by_role("button", name="Set my password and start").click()
        page.wait_for_selector("text=The two passwords differ", timeout=10_000)
        page.get_by_label("new password again").fill(CHOSEN)
        page.get_by_role("button", name="Set my password and start").click()
        page.wait_for_selector("#logout", timeout=30_000)  # logged in at once, in the study of the invitation
        page.wait_for_selector("text=0 of 2 judged", timeout=30_000)
        assert "ward-inv" in page.locator("[data-study]").inner_text()
    with browser_page() as page:  # the link works once
        page.goto(link)
        refused = page.locator("#refused").inner_text()
        assert "already been used" in refused and page.locator("#signup").count() == 0
        log_in(page, server, "dr_invited", CHOSEN)  # the password chosen holds


def test_expired_link_says_so(server, engine):
    chromium_path()
    with storage.transaction(engine) as session:
        token = invitations.create_invitation(session, "dr_expired", "boss", days=2,
                                              now=datetime.now(UTC) - timedelta(days=3))
    with browser_page() as page:
        page.goto(f"{server}/signup?token={token}")
        text = page.locator("#refused").inner_text()
        assert "expired on" in text and "ask your study coordinator for a new one" in text
        assert page.locator("#signup").count() == 0
        assert axe_violations(page) == []


def test_researcher_revokes_a_link_and_it_says_withdrawn(server, engine, make_study, make_user):
    chromium_path()
    make_study("ward-rev", n=2)
    make_user("boss_rev", "researcher")
    with storage.transaction(engine) as session:
        token = invitations.create_invitation(session, "dr_revoked", "boss_rev")
    with browser_page() as page:
        log_in(page, server, "boss_rev", PASSWORD)
        choose_study(page, "ward-rev")
        page.wait_for_selector("text=0 judgments of", timeout=30_000)
        page.get_by_text("Invite a new physician").click()
        page.locator("#revoke_name input").click()
        page.get_by_role("option", name=re.compile(r"^dr_revoked \(no study, expires ")).click()
        page.locator("#revoke_invitation").click()
        page.wait_for_selector("#revoke_note >> text=Revoked the sign-up link of dr_revoked (by boss_rev",
                               timeout=30_000)
        page.wait_for_function("document.querySelector('#invite_list')?.innerText.includes('revoked')",
                               timeout=30_000)
        assert axe_violations(page) == []
    with browser_page() as page:
        page.goto(f"{server}/signup?token={token}")
        assert "withdrawn by the study team" in page.locator("#refused").inner_text()
        assert page.locator("#signup").count() == 0
