"""Issue 22, keys: digit + Enter submit from any focus except a text box (the context header, a
tab, a checkbox, the radio group, an answer pane); Ctrl+Enter submits from the rationale and the
focus returns to the page; each new pair starts at its top, with the choice cleared."""

from __future__ import annotations

import pytest

from app import storage
from medalign.testing.browser import browser_page, chromium_path, log_in
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def fresh_pair(page, judged: int, total: int) -> None:
    page.wait_for_selector(f"text=Saved ({judged} of {total})", timeout=30_000)
    page.wait_for_function("() => document.activeElement === document.body", timeout=10_000)
    assert page.eval_on_selector_all("#choice input[type=radio]", "els => els.filter((e) => e.checked).length") == 0
    assert page.locator("#rationale textarea").input_value() == ""
    top = page.evaluate("document.querySelector('#work').getBoundingClientRect().top")
    assert top >= 0  # the new pair starts at its top: the question is not scrolled away


def test_digit_and_enter_submit_from_every_focus_but_a_text_box(server, make_study, make_user, engine):
    chromium_path()
    study = make_study("keys", n=7)
    make_user("dr_focus")
    with browser_page() as page:
        log_in(page, server, "dr_focus", PASSWORD)
        page.wait_for_selector("text=0 of 7 judged", timeout=30_000)
        # 1. the context header, clicked to read the context: Enter submits, it does not fold the context
        header = page.locator("#context_accordion button.label-wrap")
        header.click()
        page.wait_for_selector("#context .prose", timeout=10_000)
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        fresh_pair(page, 1, 7)
        # 2. a stray Tab onto the "Judge" tab
        page.get_by_role("tab", name="Judge").focus()
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        fresh_pair(page, 2, 7)
        # 3. a checkbox, clicked: E/R still flag, digits still choose, Enter submits
        page.locator("#evasive_a input").click()
        page.keyboard.press("r")
        page.keyboard.press("3")
        assert page.locator("#evasive_a input").is_checked() and page.locator("#evasive_b input").is_checked()
        page.keyboard.press("Enter")
        fresh_pair(page, 3, 7)
        # 4. the radio group (arrow keys move inside it), then Enter
        page.locator("#choice input[type=radio]").nth(0).click()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        fresh_pair(page, 4, 7)
        # 5. an answer pane, scrolled with the keyboard
        page.locator("#answer_b .prose").first.focus()
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        fresh_pair(page, 5, 7)
        # 6. the rationale: keys are text; Ctrl+Enter submits and hands the focus back to the page
        page.keyboard.press("1")
        page.locator("#rationale textarea").click()
        page.keyboard.type("4 er")
        page.keyboard.press("Control+Enter")
        fresh_pair(page, 6, 7)
        # the next pair's keys act on the page, not in the (cleared) rationale
        page.keyboard.press("4")
        page.keyboard.press("e")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=All done", timeout=30_000)
    with storage.transaction(engine) as session:
        rows = sorted(storage.export_judgments(session, study), key=lambda r: r["created_at"])
    assert [r["choice"] for r in rows] == ["a", "b", "tie", "both_bad", "b", "a", "both_bad"]
    flags = [(r["evasive_a"], r["evasive_b"]) for r in rows]
    assert flags[2] == (True, True) and flags[6] == (True, False) and flags[5] == (False, False)
    assert rows[5]["rationale"] == "4 er" and all(r["rationale"] == "" for i, r in enumerate(rows) if i != 5)
