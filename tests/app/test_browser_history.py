"""Issue 22, "Cannot judge" and "My judgments" in Chromium: a skip with a reason in both study
kinds (the unit counts as done and goes to another physician), a refused skip ("Other" without a
note) that keeps the form and every value entered, and any judgment (not only the last) opened
from the history in its original layout with its stored values, revised and counted."""

from __future__ import annotations

import pytest

from app import storage
from app.models import Assignment
from app.study_files import read_study_items
from evaluation.rubric import load_rubric
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD, RUBRIC, write_answers
from tests.app.test_browser_refusals import checked, no_error_state, notice

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def history(engine, user: str, study: str):
    with storage.transaction(engine) as session:
        return storage.judgment_history(session, storage.get_user(session, user), storage.get_study(session, study))


def skipped(engine, study: str) -> list[tuple[str, str, str]]:
    """(physician, reason, note) of every stored skip of the study."""
    from sqlmodel import select

    with storage.transaction(engine) as session:
        found = storage.get_study(session, study)
        rows = session.exec(select(Assignment).where(Assignment.study_id == found.id,
                                                     Assignment.skipped_reason.is_not(None))).all()
        return [(_name(session, r.user_id), r.skipped_reason, r.skipped_note)
                for r in rows]


def _name(session, user_id: int) -> str:
    from app.models import User

    return session.get(User, user_id).name


def open_form(page) -> None:
    page.locator("body").click(position={"x": 2, "y": 2})
    page.keyboard.press("c")
    page.wait_for_selector("#skip_form", state="visible", timeout=10_000)
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#skip_reason')",
                           timeout=10_000)


def test_pairwise_skip_refused_without_a_note_keeps_everything_then_skips(server, make_study, make_user, engine):
    chromium_path()
    make_study("skips", n=3)
    make_user("dr_skip")
    with browser_page() as page:
        log_in(page, server, "dr_skip", PASSWORD)
        page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
        question = shown_text(page, "question")
        page.locator("#choice input[type=radio]").nth(1).check()
        page.locator("#evasive_b input").check()
        page.locator("#rationale textarea").fill("B hedges.")
        assert page.locator("#skip_form").is_hidden()
        open_form(page)
        page.keyboard.press("4")  # "Other reason": a note is required
        page.keyboard.press("Enter")
        text = notice(page)
        assert "Not skipped" in text and "note" in text and "Other reason" in text
        no_error_state(page)
        assert page.locator("#skip_form").is_visible()  # the form stays open with its choice
        assert checked(page, "#skip_reason") == [False, False, False, True]
        assert shown_text(page, "question") == question
        assert checked(page, "#choice")[1] and page.locator("#evasive_b input").is_checked()
        assert page.locator("#rationale textarea").input_value() == "B hedges."
        page.locator("#skip_note input").fill("Needs a paediatrician.")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Skipped; it counts as done (1 of 3)", timeout=30_000)
        assert page.locator("#skip_form").is_hidden()
        assert shown_text(page, "question") != question
        assert checked(page, "#choice") == [False] * 4 and page.locator("#rationale textarea").input_value() == ""
        page.keyboard.press("c")  # the form opens empty for the next pair
        page.wait_for_selector("#skip_form", state="visible", timeout=10_000)
        assert checked(page, "#skip_reason") == [False] * 4
        assert page.locator("#skip_note input").input_value() == ""
        page.keyboard.press("Escape")
        page.wait_for_selector("#skip_form", state="hidden", timeout=10_000)
    assert skipped(engine, "skips") == [("dr_skip", "other", "Needs a paediatrician.")]
    with storage.transaction(engine) as session:  # no judgment was stored for the skipped pair
        assert storage.export_judgments(session, storage.get_study(session, "skips")) == []


def test_rating_skip_by_the_button(server, engine, make_user, tmp_path):
    chromium_path()
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    with storage.transaction(engine) as session:
        storage.create_study(session, name="grades-skip", kind="rating", systems=("sft", "dpo"),
                             items=read_study_items(write_answers(tmp_path / "r.jsonl", 2), ("sft", "dpo")),
                             rubric=load_rubric(tmp_path / "rubric.yaml"))
    make_user("dr_rskip")
    with browser_page() as page:
        log_in(page, server, "dr_rskip", PASSWORD)
        page.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        answer = shown_text(page, "answer")
        page.locator("#criterion_0 input[type=radio]").nth(1).check()
        page.locator("#rating_skip_open").click()
        page.get_by_label("An answer is unreadable or garbled").check()
        page.locator("#skip_confirm").click()
        page.wait_for_selector("text=Skipped; it counts as done (1 of 4)", timeout=30_000)
        no_error_state(page)
        assert shown_text(page, "answer") != answer
        assert checked(page, "#criterion_0") == [False] * 5
        page.locator("#criterion_0 input[type=radio]").nth(3).check()  # good
        page.locator("#criterion_1 input[type=radio]").nth(0).check()
        page.locator("#rating_submit").click()
        page.wait_for_selector("text=Saved (2 of 4)", timeout=30_000)
        page.locator("#history_accordion .label-wrap").click()  # My judgments: grades in the words shown
        page.wait_for_selector("#history_list label >> nth=1", timeout=30_000)
        labels = page.eval_on_selector_all("#history_list label", "els => els.map((e) => e.innerText.trim())")
        assert "Overall quality? 4: good" in labels[0] and "harm" in labels[0] and "quality:" not in labels[0]
        assert labels[1].endswith("skipped: An answer is unreadable or garbled")
    assert skipped(engine, "grades-skip") == [("dr_rskip", "answer_unreadable", "")]
    entries = history(engine, "dr_rskip", "grades-skip")
    assert [e.skipped_reason for e in entries] == [None, "answer_unreadable"]


def test_a_skipped_unit_goes_to_another_physician(server, make_study, make_user, engine):
    chromium_path()
    make_study("one-unit", n=1)  # one pair, one physician each (overlap 1)
    make_user("dr_first")
    make_user("dr_second")
    with browser_page() as page:
        log_in(page, server, "dr_first", PASSWORD)
        page.wait_for_selector("text=0 of 1 judged", timeout=30_000)
        question = shown_text(page, "question")
        other = page.context.browser.new_context().new_page()
        log_in(other, server, "dr_second", PASSWORD)  # the one pair is dr_first's: nothing for dr_second yet
        other.wait_for_selector("text=All done: 0 of 0 judged", timeout=30_000)
        open_form(page)
        page.keyboard.press("1")  # outside my expertise
        page.keyboard.press("Enter")
        page.wait_for_selector("text=All done: 1 of 1 judged", timeout=30_000)
        page.keyboard.press("h")  # My judgments opens from the end screen too, the skip listed
        page.wait_for_selector("#history_list label:has-text('skipped: Outside my expertise')", timeout=30_000)
        other.reload()
        other.wait_for_selector("text=0 of 1 judged", timeout=30_000)
        assert shown_text(other, "question") == question
        other.keyboard.press("2")
        other.keyboard.press("Enter")
        other.wait_for_selector("text=All done: 1 of 1 judged", timeout=30_000)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "one-unit"))
    assert [(r["rater"], r["choice"]) for r in rows] == [("dr_second", "b")]
    assert skipped(engine, "one-unit") == [("dr_first", "outside_expertise", "")]


def test_revise_an_older_judgment_from_my_judgments(server, make_study, make_user, engine):
    chromium_path()
    make_study("revisions", n=4)
    make_user("dr_rev")
    with browser_page() as page:
        log_in(page, server, "dr_rev", PASSWORD)
        page.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        first = {"question": shown_text(page, "question"), "a": shown_text(page, "answer_a"),
                 "b": shown_text(page, "answer_b")}
        page.locator("#choice input[type=radio]").nth(0).check()
        page.locator("#evasive_b input").check()
        page.locator("#rationale textarea").fill("A is grounded.")
        page.locator("#submit").click()
        page.wait_for_selector("text=Saved (1 of 4)", timeout=30_000)
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Saved (2 of 4)", timeout=30_000)
        open_form(page)
        page.keyboard.press("3")  # the question is unclear
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Skipped; it counts as done (3 of 4)", timeout=30_000)
        fourth = shown_text(page, "question")
        page.keyboard.press("h")  # My judgments: newest first, the skip included
        page.wait_for_selector("#history_list input[type=radio]", timeout=30_000)
        page.wait_for_function("() => document.activeElement && document.activeElement.closest('#history_list')",
                               timeout=10_000)
        labels = page.eval_on_selector_all("#history_list label", "els => els.map((e) => e.innerText.trim())")
        assert len(labels) == 3
        assert "skipped: The question is unclear" in labels[0]
        assert labels[1].endswith("B better") and labels[2].endswith("A better")
        assert first["question"].split()[0] in labels[2]
        assert not any(name in " ".join(labels) for name in ("sft", "dpo"))  # never a system name
        page.keyboard.press("Enter")  # nothing chosen yet: said, nothing changes
        assert "Nothing opened: choose one of your judgments" in notice(page)
        page.locator("#history_list input[type=radio]").nth(0).check()
        page.locator("#history_open").click()  # a skip cannot be reopened: it went to another physician
        page.wait_for_selector("text=Not opened: you skipped #3", timeout=30_000)
        no_error_state(page)
        assert shown_text(page, "question") == fourth
        page.locator("#history_list input[type=radio]").nth(0).focus()  # back in the list, by the keyboard
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")  # the oldest, not the latest
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Revising your judgment #1", timeout=30_000)
        # the original layout (same Answer A / B) and the stored values
        assert {"question": shown_text(page, "question"), "a": shown_text(page, "answer_a"),
                "b": shown_text(page, "answer_b")} == first
        assert checked(page, "#choice") == [True, False, False, False]
        assert page.locator("#evasive_b input").is_checked() and not page.locator("#evasive_a input").is_checked()
        assert page.locator("#rationale textarea").input_value() == "A is grounded."
        assert page.locator("#submit").inner_text().strip() == "Save revision (Enter)"
        assert page.locator("#skip_open").is_hidden() and page.locator("#back").is_visible()
        page.locator("body").click(position={"x": 2, "y": 2})
        page.keyboard.press("3")  # Tie
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Revision saved (3 of 4)", timeout=30_000)
        assert shown_text(page, "question") == fourth  # back to the next open unit
        assert page.locator("#submit").inner_text().strip() == "Submit (Enter)"
        page.keyboard.press("h")
        page.wait_for_function("() => [...document.querySelectorAll('#history_list label')]"
                               ".some((e) => e.innerText.includes('Tie (revised 1×)'))", timeout=30_000)
        # Back to judging leaves an opened judgment as it was
        page.locator("#history_list input[type=radio]").nth(1).check()  # "B better"
        page.locator("#history_open").click()
        page.wait_for_selector("text=Revising your judgment #2", timeout=30_000)
        assert checked(page, "#choice") == [False, True, False, False]
        page.locator("#choice input[type=radio]").nth(3).check()
        page.locator("#back").click()
        page.wait_for_function(f"() => document.querySelector('#question .prose').textContent.trim() === {fourth!r}",
                               timeout=30_000)
        assert page.locator("#submit").inner_text().strip() == "Submit (Enter)"
    entries = history(engine, "dr_rev", "revisions")
    oldest = min(entries, key=lambda e: e.sequence)
    assert (oldest.summary, oldest.revisions) == ("tie", 1)
    assert sorted((e.summary, e.revisions) for e in entries if e is not oldest and e.summary) == [("b", 0)]
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "revisions"))
    revised = next(r for r in rows if r["choice"] == "tie")
    assert revised["rationale"] == "A is grounded." and revised["evasive_b"] is True


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_the_form_and_the_list_pass_axe_with_44px_targets_on_the_phone(server, make_study, make_user, width, height):
    from medalign.testing.browser import axe_violations

    chromium_path()
    make_study("a11y-skip", n=3)
    make_user("dr_a11y_skip")
    with browser_page() as page:
        page.set_viewport_size({"width": width, "height": height})
        log_in(page, server, "dr_a11y_skip", PASSWORD)
        page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Saved (1 of 3)", timeout=30_000)
        open_form(page)
        page.wait_for_timeout(300)
        outline = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
        assert outline not in ("", "none")  # the focused reason shows it
        page.locator("#history_accordion .label-wrap").click()  # the list opens too (H is text in the form)
        page.wait_for_selector("#history_list input[type=radio]", timeout=30_000)
        page.wait_for_timeout(300)
        assert axe_violations(page) == []
        names = page.eval_on_selector_all("[role=radiogroup]", "els => els.filter((e) => e.getClientRects().length)"
                                          ".map((e) => e.getAttribute('aria-label'))")
        assert "Why can't you judge this one? (keys 1-4)" in names
        assert any(n and n.startswith("My judgments in this study") for n in names)
        if width < 600:
            small = page.evaluate("""() => [...document.querySelectorAll(
                '#skip_form button, #skip_reason label, #skip_note input, #history_accordion button, #history_list label,'
                + ' #skip_open, #revise, #logout')]
                .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
                .map((e) => [e.id || e.innerText.trim().slice(0, 30), e.getBoundingClientRect()])
                .filter(([, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
                .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
            assert small == []
            logout = page.locator("#logout").bounding_box()
            assert logout["height"] < 60  # "Log out" on one line
