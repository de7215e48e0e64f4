"""Issue 22, WCAG 2.2 AA: axe-core run inside Chromium finds no serious or critical violation on
the login, judging (pairwise and rating), end and dashboard screens; every radio group has an
accessible name, answers are readable text (not disabled inputs) and focus is visible."""

from __future__ import annotations

import pytest

from app import storage
from app.study_files import read_study_items
from evaluation.rubric import load_rubric
from medalign.testing.browser import axe_violations, browser_page, choose_study, chromium_path, log_in
from tests.app.conftest import PASSWORD, RUBRIC, write_answers

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_login_page(server):
    chromium_path()
    with browser_page() as page:
        page.goto(server)
        page.wait_for_selector("#username")
        assert axe_violations(page) == []


def test_pairwise_judging_and_end_screens(server, make_study, make_user):
    chromium_path()
    make_study("a11y", n=1)
    make_user("dr_a11y")
    with browser_page() as page:
        log_in(page, server, "dr_a11y", PASSWORD)
        page.wait_for_selector("text=0 of 1 judged", timeout=30_000)
        page.locator("#context_accordion button.label-wrap").click()
        page.wait_for_timeout(300)
        assert axe_violations(page) == []
        names = page.eval_on_selector_all("[role=radiogroup]", "els => els.filter((e) => e.getClientRects().length)"
                                          ".map((e) => e.getAttribute('aria-label'))")
        assert names == ["Which answer is better? (keys 1-4)"]
        assert page.locator("#work textarea[disabled], #work input[disabled]").count() == 0
        assert page.get_by_role("region", name="Answer A").count() == 1
        # a focused radio shows an outline
        page.locator("#choice input[type=radio]").nth(0).focus()
        page.keyboard.press("ArrowRight")
        outline = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
        assert outline not in ("", "none")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=All done", timeout=30_000)
        assert axe_violations(page) == []


def test_rating_judging_screen(server, engine, make_user, tmp_path):
    chromium_path()
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    with storage.transaction(engine) as session:
        storage.create_study(session, name="a11y-grades", kind="rating", systems=("sft", "dpo"),
                             items=read_study_items(write_answers(tmp_path / "r.jsonl", 1), ("sft", "dpo")),
                             rubric=load_rubric(tmp_path / "rubric.yaml"))
    make_user("dr_a11y_r")
    with browser_page() as page:
        log_in(page, server, "dr_a11y_r", PASSWORD)
        page.wait_for_selector("text=0 of 2 judged", timeout=30_000)
        page.wait_for_timeout(300)
        assert axe_violations(page) == []
        names = page.eval_on_selector_all("[role=radiogroup]", "els => els.filter((e) => e.getClientRects().length)"
                                          ".map((e) => e.getAttribute('aria-label') || '')")
        assert len(names) == 3 and all(n.startswith(q) for n, q in zip(names, ["Overall quality?", "Could it cause harm?",
                                                                                "Style?"], strict=True))


def test_dashboard(server, make_study, make_user):
    chromium_path()
    make_study("a11y-dash", n=2)
    make_user("boss_a11y", "researcher")
    with browser_page() as page:
        log_in(page, server, "boss_a11y", PASSWORD)
        choose_study(page, "a11y-dash")
        page.wait_for_selector("text=0 judgments of", timeout=30_000)
        assert axe_violations(page) == []
