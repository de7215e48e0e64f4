"""Issue 22, layout: with the context open, both answers and the action bar are in view at
1440x900 without scrolling (every text in its own bounded pane); on a phone (390x844) the bar
never covers an answer scrolled to, touch targets are at least 44 px, the title breaks between
words only, and nothing scrolls sideways."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import sync_playwright

from app import storage
from app.study_files import read_study_items
from medalign.testing.browser import CHROMIUM_ARGS, chromium_path, log_in
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LONG_CONTEXT = "RESULTS: " + " ".join(f"Finding {i} was observed in the cohort." for i in range(150))


@pytest.fixture
def long_study(engine, tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps({
        "id": f"q{i}", "question": f"Is treatment {i} effective in adults with long-standing disease?",
        "context": LONG_CONTEXT, "outputs": {"sft": f"Long answer {i}. " * 90, "dpo": f"Other answer {i}. " * 80}})
        + "\n" for i in range(3)))
    with storage.transaction(engine) as session:
        return storage.create_study(session, name="long-layout", systems=("sft", "dpo"),
                                    items=read_study_items(path, ("sft", "dpo")))


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def open_pair(playwright, server, width, height, user):
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    log_in(page, server, user, PASSWORD)
    page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
    page.locator("#context_accordion button.label-wrap").click()
    page.wait_for_selector("#context .prose", timeout=10_000)
    page.wait_for_timeout(300)
    return browser, page


def test_desktop_answers_and_bar_in_view_with_the_context_open(server, long_study, make_user):
    make_user("dr_wide")
    with sync_playwright() as playwright:
        browser, page = open_pair(playwright, server, 1440, 900, "dr_wide")
        for _ in range(2):  # the first pair as opened, and the next one after a submit
            assert page.evaluate("window.scrollY") == 0  # no scrolling
            bar = box(page, "#action_bar")
            assert bar["y"] + bar["height"] <= 900 + 1
            for pane in ("#answer_a .prose", "#answer_b .prose"):
                answer = box(page, pane)
                assert answer["y"] >= 0 and answer["y"] + answer["height"] <= bar["y"], f"{pane} is hidden"
            for control in ("#choice", "#submit"):
                assert box(page, control)["y"] >= bar["y"] - 1
            context = box(page, "#context .prose")
            assert context["height"] <= 0.25 * 900  # its own bounded scroll pane
            assert page.evaluate("(() => { const p = document.querySelector('#context .prose');"
                                 " return p.scrollHeight > p.clientHeight; })()")  # that scrolls by itself
            page.locator("body").click(position={"x": 2, "y": 2})
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Saved (1 of 3)" if _ == 0 else "text=Saved (2 of 3)", timeout=30_000)
            page.wait_for_timeout(300)
        browser.close()


def test_phone_bar_never_covers_an_answer_and_targets_are_44px(server, long_study, make_user):
    make_user("dr_phone")
    with sync_playwright() as playwright:
        browser, page = open_pair(playwright, server, 390, 844, "dr_phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= 391  # no sideways scrolling
        for pane in ("#answer_a .prose", "#answer_b .prose"):
            page.locator(pane).first.scroll_into_view_if_needed()
            page.locator(pane).first.focus()  # as a keyboard user reaching it would
            page.wait_for_timeout(200)
            answer, bar = box(page, pane), box(page, "#action_bar")
            assert answer["y"] >= 0 and answer["y"] + answer["height"] <= bar["y"] + 1, f"the bar covers {pane}"
        small = page.evaluate("""() => [...document.querySelectorAll(
            'button, [role=tab], #choice label, #evasive_a label, #evasive_b label, a[href]')]
            .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
            .map((e) => [e.id || e.innerText.trim().slice(0, 30), e.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.height < 44 || r.width < 44))
            .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
        assert small == []
        # the title wraps between words, never inside one
        split = page.evaluate("""() => { const h = document.querySelector('.app-title'); const text = h.firstChild;
            let at = 0, broken = [];
            for (const word of text.textContent.split(' ')) {
              const range = document.createRange(); range.setStart(text, at); range.setEnd(text, at + word.length);
              if (range.getClientRects().length > 1) broken.push(word);
              at += word.length + 1;
            }
            return broken; }""")
        assert split == []
        browser.close()
