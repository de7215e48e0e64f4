"""The physician's screen in Chromium (issue 14): the action bar in view after a key press with
the context open (desktop and phone), the login page keeping the user name, and the researcher
dashboard refused to a physician (server side) while a researcher sees it. Keys from every
focus: test_browser_keys.py; session loss and other refusals: test_browser_refusals.py."""

from __future__ import annotations

import pytest
from gradio_client import Client

from medalign.testing.browser import CHROMIUM_ARGS, browser_page, choose_study, chromium_path, log_in
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LONG_CONTEXT = "RESULTS: " + " ".join(f"Finding {i} was observed in the cohort." for i in range(120))


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1
            and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1)


@pytest.fixture
def long_study(engine, tmp_path):
    import json

    from app import storage
    from app.study_files import read_study_items

    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps({
        "id": f"q{i}", "question": f"Is treatment {i} effective?", "context": LONG_CONTEXT,
        "outputs": {"sft": f"Short answer {i}. " * 30, "dpo": f"Other answer {i}. " * 30}}) + "\n" for i in range(6)))
    with storage.transaction(engine) as session:
        return storage.create_study(session, name="long-context", systems=("sft", "dpo"),
                                    items=read_study_items(path, ("sft", "dpo")),
                                    guidelines="Prefer **accurate** answers. <script>window.__xss=1</script> "
                                               "[see](javascript:window.__xss=2) ![x](x onerror=window.__xss=3)")


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_action_bar_in_view_after_a_key_with_the_context_open(server, long_study, make_user, width, height):
    from playwright.sync_api import sync_playwright

    make_user("dr_bar")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        log_in(page, server, "dr_bar", PASSWORD)
        page.wait_for_selector("text=0 of 6 judged", timeout=30_000)
        page.get_by_text("Abstract context").click()
        page.wait_for_selector("#context .prose", timeout=10_000)
        page.mouse.wheel(0, 3000)  # scrolled down into the long context
        page.locator("body").click(position={"x": 2, "y": 2})
        page.keyboard.press("2")
        assert page.locator("#choice input[type=radio]").nth(1).is_checked()
        for selector in ("#choice", "#submit", "#status"):
            assert in_view(page, selector), f"{selector} is off screen at {width}x{height}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # no sideways scrolling
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Saved (1 of 6)", timeout=30_000)
        assert in_view(page, "#status")
        # the four choices are one radio group (arrow keys move within it), the progress bar is labelled
        names = page.eval_on_selector_all("#choice input[type=radio]", "els => els.map((e) => e.name)")
        assert len(names) == 4 and len(set(names)) == 1 and names[0]
        assert page.get_attribute("progress", "aria-label") == "Progress: 1 of 6 judged"
        assert "long-context" in page.locator("[data-study]").inner_text()
        # guidelines: Markdown rendered, HTML shown as text and never run
        page.get_by_text("Guidelines").click()
        assert page.locator("#guidelines strong").inner_text() == "accurate"
        assert "<script>" in page.locator("#guidelines").inner_text()
        hrefs = page.eval_on_selector_all("#guidelines a", "els => els.map((a) => a.getAttribute('href') || '')")
        assert not any(h.lower().startswith("javascript") for h in hrefs)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None
        browser.close()


def test_researcher_dashboard_refuses_a_physician(server, long_study, make_user):
    make_user("dr_nosy")
    make_user("boss_dash", "researcher")
    physician = Client(server, auth=("dr_nosy", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="researcher"):
        physician.predict("long-context", False, api_name="/researcher_view")
    with browser_page() as page:
        log_in(page, server, "dr_nosy", PASSWORD)
        page.wait_for_selector("text=0 of 6 judged", timeout=30_000)
        assert page.get_by_role("tab", name="Researcher").count() == 0
        assert page.locator("#research_timeline").count() == 0 or not page.locator("#research_timeline").is_visible()
    with browser_page() as page:
        log_in(page, server, "boss_dash", PASSWORD)
        page.wait_for_selector("#research_picker", timeout=30_000)
        page.wait_for_function("() => ![...document.querySelectorAll('[role=tab]')]"
                               ".some((t) => t.innerText.trim() === 'Judge' && t.getClientRects().length)",
                               timeout=10_000)  # hidden from researchers
        choose_study(page, "long-context")
        page.wait_for_selector("text=0 judgments of", timeout=30_000)
        assert page.locator("#exclude_simulated input").is_visible()


def test_login_page_says_when_throttled_and_keeps_the_name(server, make_user):
    make_user("dr_slow")
    with browser_page() as page:
        page.goto(server)
        assert page.url.endswith("/login") and page.title() == "medalign: log in"
        page.get_by_label("username").fill("dr_slow")  # typed once: it stays through every refusal
        for _ in range(4):  # the test server allows 3 failures a minute
            page.get_by_label("password").fill("not the password")
            page.get_by_role("button", name="Login").click()
            page.wait_for_selector("#error:not([hidden])", timeout=30_000)
        assert "too many failed logins" in page.locator("#error").inner_text()
        assert page.get_by_label("username").input_value() == "dr_slow"
