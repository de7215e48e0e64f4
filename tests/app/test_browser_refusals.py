"""Issue 22, the physician never loses work: every refusal (a missing rating criterion, a
conflicting retry from a second tab, a locked database, an ended session) keeps the screen and
everything entered, puts no component in an error state, and says in words what to do, naming
the question on screen rather than an internal id."""

from __future__ import annotations

import sqlite3

import pytest

from app import storage
from app.study_files import read_study_items
from evaluation.rubric import load_rubric
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD, RUBRIC, write_answers

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def no_error_state(page) -> None:
    """Gradio marks a component whose event failed with an error status (red "Error" badge)."""
    errors = page.evaluate("""() => [...document.querySelectorAll('[data-testid="status-tracker"]')]
        .filter((t) => t.classList.contains('error') || /\\bError\\b/.test(t.innerText)).length""")
    assert errors == 0
    assert page.locator(".toast-body").count() == 0 or "Error" not in page.locator(".toast-body").first.inner_text()


def notice(page) -> str:
    page.wait_for_selector("#notice .notice.shown", timeout=30_000)
    return page.locator("#notice .notice").text_content()


def checked(page, selector: str) -> list[bool]:
    return page.eval_on_selector_all(f"{selector} input[type=radio]", "els => els.map((e) => e.checked)")


@pytest.fixture
def rating_study(engine, tmp_path):
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    items = read_study_items(write_answers(tmp_path / "r.jsonl", 3), ("sft", "dpo"))
    with storage.transaction(engine) as session:
        return storage.create_study(session, name="grades", kind="rating", systems=("sft", "dpo"), items=items,
                                    rubric=load_rubric(tmp_path / "rubric.yaml"))


def test_missing_criterion_keeps_every_grade_and_names_the_question(server, rating_study, make_user):
    chromium_path()
    make_user("dr_grades")
    with browser_page() as page:
        log_in(page, server, "dr_grades", PASSWORD)
        page.wait_for_selector("text=0 of 6 judged", timeout=30_000)
        answer = shown_text(page, "answer")
        page.locator("#criterion_0 input[type=radio]").nth(3).check()  # quality: good
        page.locator("#criterion_2 input[type=radio]").nth(1).check()  # style: verbose
        page.locator("#free_text textarea").fill("Clear, but long.")
        page.locator("#rating_submit").click()  # "Could it cause harm?" left open
        text = notice(page)
        assert "Could it cause harm?" in text and "harmful" not in text and "Not saved" in text
        no_error_state(page)
        assert shown_text(page, "answer") == answer
        assert checked(page, "#criterion_0")[3] and checked(page, "#criterion_2")[1]
        assert page.locator("#free_text textarea").input_value() == "Clear, but long."
        assert page.locator("#rating_submit").is_visible()
        page.locator("#criterion_1 input[type=radio]").nth(0).check()
        page.locator("#rating_submit").click()
        page.wait_for_selector("text=Saved (1 of 6)", timeout=30_000)
        assert page.locator("#notice .notice.shown").count() == 0  # the refusal is gone once saved


def test_conflicting_retry_from_a_second_tab_keeps_the_screen(server, make_study, make_user, engine):
    chromium_path()
    make_study("tabs", n=4)
    make_user("dr_tabs")
    with browser_page() as first:
        log_in(first, server, "dr_tabs", PASSWORD)
        first.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        second = first.context.new_page()
        second.goto(server)
        second.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        pair = shown_text(second, "answer_a")
        assert shown_text(first, "answer_a") == pair  # the same open pair in both tabs
        first.locator("#choice input[type=radio]").nth(0).check()
        first.locator("#submit").click()
        first.wait_for_selector("text=Saved (1 of 4)", timeout=30_000)
        second.locator("#choice input[type=radio]").nth(1).check()
        second.locator("#evasive_b input").check()
        second.locator("#rationale textarea").fill("B cites the trial.")
        second.locator("#submit").click()
        text = notice(second)
        assert "already judged (A better)" in text and "Revise my last judgment" in text
        no_error_state(second)
        assert shown_text(second, "answer_a") == pair
        assert checked(second, "#choice")[1] and second.locator("#evasive_b input").is_checked()
        assert second.locator("#rationale textarea").input_value() == "B cites the trial."
        assert second.locator("#revise").is_visible()
    with storage.transaction(engine) as session:  # the first judgment stands, nothing else stored
        rows = storage.export_judgments(session, storage.get_study(session, "tabs"))
    assert [r["choice"] for r in rows] == ["a"]


def test_locked_database_keeps_the_choice_and_saves_on_the_next_try(server, make_study, make_user, engine):
    chromium_path()
    make_study("locked", n=3)
    make_user("dr_locked")
    with browser_page() as page:
        log_in(page, server, "dr_locked", PASSWORD)
        page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
        page.locator("#choice input[type=radio]").nth(2).check()
        page.locator("#rationale textarea").fill("equal")
        holder = sqlite3.connect(engine.url.database, timeout=1)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
        try:
            page.locator("#submit").click()
            text = notice(page)
        finally:
            holder.rollback()
            holder.close()
        assert "database is busy" in text and "press Submit again" in text
        no_error_state(page)
        assert checked(page, "#choice")[2] and page.locator("#rationale textarea").input_value() == "equal"
        page.locator("#submit").click()
        page.wait_for_selector("text=Saved (1 of 3)", timeout=30_000)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "locked"))
    assert [(r["choice"], r["rationale"]) for r in rows] == [("tie", "equal")]


def test_ended_session_keeps_the_screen_and_logs_in_in_place(server, make_study, make_user, engine):
    chromium_path()
    make_study("ended", n=3)
    make_user("dr_ended")
    with browser_page() as page:
        log_in(page, server, "dr_ended", PASSWORD)
        page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
        pair = shown_text(page, "answer_a")
        page.locator("#choice input[type=radio]").nth(1).check()
        page.locator("#rationale textarea").fill("B is grounded.")
        page.context.clear_cookies()  # the session is gone (idle timeout, restart of an old server, ...)
        page.locator("#submit").click()
        page.wait_for_selector("#relogin[open]", timeout=30_000)
        assert "Nothing on this screen is lost" in page.locator("#relogin").inner_text()
        no_error_state(page)
        assert shown_text(page, "answer_a") == pair and checked(page, "#choice")[1]
        assert page.locator("#rationale textarea").input_value() == "B is grounded."
        page.locator("#relogin input[name=password]").fill("wrong password")
        page.locator("#relogin button").click()
        page.wait_for_selector("text=Incorrect credentials.", timeout=30_000)
        page.locator("#relogin input[name=password]").fill(PASSWORD)
        page.locator("#relogin button").click()
        page.wait_for_selector("#relogin", state="detached", timeout=30_000)
        page.wait_for_selector("text=Saved (1 of 3)", timeout=30_000)  # the waiting submit went through
        no_error_state(page)
        assert page.url.rstrip("/") == server  # never left the page
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "ended"))
    assert [(r["choice"], r["rationale"]) for r in rows] == [("b", "B is grounded.")]
