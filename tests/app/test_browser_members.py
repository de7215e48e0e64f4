"""Issue 22, study membership: `medalign study members STUDY --add NAME[,NAME]`; a physician
sees, opens and is assigned only their studies (a study without members stays open to all); the
researcher's progress lists every member, including those who have not started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from app import storage
from medalign.testing.browser import browser_page, choose_study, chromium_path, log_in
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]
MEDALIGN = str(Path(sys.executable).with_name("medalign"))


def members(engine, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MEDALIGN, "study", "members", *args, "--db", str(engine.url)], capture_output=True,
                          text=True, timeout=120)


def test_members_see_and_judge_only_their_studies(server, engine, make_study, make_user):
    chromium_path()
    make_study("ward-a", n=2)
    make_study("open-study", n=2)
    for name in ("dr_in", "dr_late", "dr_out"):
        make_user(name)
    make_user("boss_members", "researcher")
    refused = members(engine, "ward-a", "--add", "dr_in,nobody")
    assert refused.returncode != 0 and "nobody" in refused.stdout + refused.stderr
    done = members(engine, "ward-a", "--add", "dr_in,dr_late")
    assert done.returncode == 0, done.stderr
    assert "members of ward-a: dr_in, dr_late" in done.stdout
    with storage.transaction(engine) as session:
        assert [u.name for u in storage.study_members(session, storage.get_study(session, "ward-a"))] == ["dr_in",
                                                                                                         "dr_late"]
    # a physician who is not a member neither sees nor opens it (server side)
    outsider = Client(server, auth=("dr_out", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="not one of yours"):
        outsider.predict("ward-a", api_name="/open_study")
    with browser_page() as page:
        log_in(page, server, "dr_out", PASSWORD)
        page.wait_for_selector("text=0 of 2 judged", timeout=30_000)  # the only study left opens by itself
        assert "open-study" in page.locator("[data-study]").inner_text()
        page.locator("#study_picker input").click()
        options = page.get_by_role("option").all_inner_texts()
        assert [o.replace("✓", "").strip() for o in options] == ["open-study"]
    with browser_page() as page:
        log_in(page, server, "dr_in", PASSWORD)
        page.locator("#study_picker input").click()
        page.get_by_role("option", name="ward-a").click()
        page.wait_for_selector("text=0 of 2 judged", timeout=30_000)
        page.locator("body").click(position={"x": 2, "y": 2})
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Saved (1 of 2)", timeout=30_000)
    with browser_page() as page:  # progress lists every member, dr_late too (not started)
        log_in(page, server, "boss_members", PASSWORD)
        choose_study(page, "ward-a")
        page.wait_for_function("document.querySelector('#research_progress')?.innerText.includes('dr_late')",
                               timeout=30_000)
        assert "dr_in" in page.locator("#research_progress").inner_text()


def pick_research_study(page, name: str) -> None:
    """Choose the study on the dashboard and open its physicians (a closed accordion draws nothing)."""
    choose_study(page, name)
    page.get_by_text("Physicians of this study").click()
    page.wait_for_function("(n) => document.querySelector('#research_members')?.textContent.includes(n)", arg=name,
                           timeout=30_000)


def choose_physicians(page, names: list[str]) -> None:
    for name in names:
        page.locator("#member_names input").click()
        page.get_by_role("option", name=name).click()
    page.locator("#research_members").click()  # closes the list


def test_researcher_adds_and_removes_members_in_the_browser(server, engine, make_study, make_user):
    """The dashboard's membership controls call the same storage functions as `study members`:
    what the browser adds the command line lists, and a removed physician no longer sees the study."""
    chromium_path()
    make_study("ward-b", n=2)
    make_study("other-b", n=2)
    for name in ("dr_b1", "dr_b2"):
        make_user(name)
    make_user("boss_b", "researcher")
    with browser_page() as page:
        log_in(page, server, "boss_b", PASSWORD)
        pick_research_study(page, "ward-b")
        page.wait_for_selector("text=open to every physician", timeout=30_000)
        choose_physicians(page, ["dr_b1", "dr_b2"])
        page.locator("#member_add").click()
        page.wait_for_function("document.querySelector('#member_note')?.innerText.includes('Added: dr_b1, dr_b2')",
                               timeout=30_000)
        assert "2 physicians: dr_b1, dr_b2" in page.locator("#research_members").inner_text()
        listed = members(engine, "ward-b")
        assert "members of ward-b: dr_b1, dr_b2" in listed.stdout  # the command line sees the browser's change
        choose_physicians(page, ["dr_b2"])
        page.locator("#member_remove").click()
        page.wait_for_function("document.querySelector('#member_note')?.innerText.includes('Removed: dr_b2')",
                               timeout=30_000)
        assert "1 physicians: dr_b1" in page.locator("#research_members").inner_text()
    outsider = Client(server, auth=("dr_b2", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="not one of yours"):
        outsider.predict("ward-b", api_name="/open_study")
    # a physician cannot call the membership event (checked on the server, whatever the page shows)
    with pytest.raises(AppError, match="this needs the researcher role"):
        outsider.predict("ward-b", ["dr_b2"], api_name="/add_members")
    with storage.transaction(engine) as session:
        assert [u.name for u in storage.study_members(session, storage.get_study(session, "ward-b"))] == ["dr_b1"]
