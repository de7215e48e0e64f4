"""Headless Debian Chromium through Python Playwright (never `playwright install`: no downloads)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        import pytest  # a dev dependency: only the tests and bench, which have it, come here

        pytest.skip("Debian 'chromium' is not installed (apt-get install chromium); .ci/run installs it")
    return path


@contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def log_in(page, base_url: str, name: str, password: str) -> None:
    page.goto(base_url)
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#logout", timeout=30_000)


def choose_study(page, name: str) -> None:
    """A researcher picks a study on the dashboard."""
    page.locator("#research_picker input").click()
    page.get_by_role("option", name=name).click()


def shown_text(page, elem_id: str) -> str:
    """The text a plain-text pane (app.ui.common.text_pane) shows: its text, not Gradio's overlay."""
    return page.locator(f"#{elem_id} .prose").first.text_content().strip()


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core (the copy bundled in the axe-playwright-python package) run on the page once Gradio's updates settle:
    the WCAG 2.x A/AA violations of the given impact, one line each (rule, impact, first targets)."""
    from pathlib import Path

    import axe_playwright_python

    # Gradio fades an output to opacity 0.2 while its event is still running, and back over a 0.1-0.2 s
    # CSS transition; axe would measure that transient fade as a contrast failure, so it runs once no
    # component is pending and no CSS transition is running (Gradio's endless loading animations are not transitions).
    page.wait_for_function("() => document.querySelectorAll('.pending').length === 0 && document.getAnimations()"
                           ".every((a) => !(a instanceof CSSTransition) || a.playState !== 'running')", timeout=15_000)
    script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    page.evaluate(script)
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"] if v["impact"] in impacts]
