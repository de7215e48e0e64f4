"""A physician in a real browser: keyboard judging, reload and resume, blinding, no XSS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app import storage
from app.study_files import read_study_items
from evaluation.contract import Choice
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SYSTEMS = ("sysalpha_sft", "sysbeta_dpo")
XSS = '<img src=x onerror="window.__xss=1;alert(1)"> <script>window.__xss=2;alert(2)</script>'


@pytest.fixture
def blinded_study(engine, tmp_path):
    rows = []
    for i in range(4):
        rows.append({"id": f"item{i}", "question": f"Is treatment {i} effective?", "context": f"METHODS: trial {i}.",
                     "outputs": {SYSTEMS[0]: f"First style answer {i}.", SYSTEMS[1]: f"Second style answer {i}."}})
    rows[0]["outputs"][SYSTEMS[1]] = XSS
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with storage.transaction(engine) as session:
        return storage.create_study(session, name="blinded-pilot", systems=SYSTEMS,
                                    items=read_study_items(path, SYSTEMS), guidelines="Prefer **accurate** answers.")


def status_text(page) -> str:
    return page.locator("#status").inner_text() if page.locator("#status").count() else page.content()


def test_keyboard_judging_resume_blinding_and_xss(server, recorder, engine, blinded_study, make_user, tmp_path):
    screenshot_dir = Path(os.environ.get("MEDALIGN_SCREENSHOTS", tmp_path))
    chromium_path()
    make_user("dr_browser")
    with browser_page() as page:
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, server, "dr_browser", PASSWORD)
        page.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        seen = set()
        for n in range(1, 4):
            seen.add((shown_text(page, "answer_a"), shown_text(page, "answer_b")))
            page.locator("body").click(position={"x": 5, "y": 5})
            page.keyboard.press("2")
            page.keyboard.press("e")
            page.keyboard.press("Enter")
            page.wait_for_selector(f"text={n} of 4 judged", timeout=30_000)
        # the XSS payload was shown as text, somewhere among the pairs, and ran nothing
        texts = {t for pair in seen for t in pair}
        current = (shown_text(page, "answer_a"), shown_text(page, "answer_b"))
        texts |= set(current)
        assert XSS in texts
        page.reload()
        page.wait_for_selector("text=3 of 4 judged", timeout=30_000)
        resumed = (shown_text(page, "answer_a"), shown_text(page, "answer_b"))
        assert resumed == current  # the same open pair after a reload
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        page.screenshot(path=str(screenshot_dir / "judging.png"), full_page=True)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, blinded_study)
    assert len(rows) == 3
    assert all(r["choice"] == Choice.b and r["evasive_a"] and r["preferred_system"] == r["system_b"] for r in rows)
    bodies = recorder[0].texts()  # every response the server sent, SSE streams included
    everything = "\n".join(bodies).lower()
    assert len(bodies) > 10 and any("/queue/data" in b for b in bodies)
    assert "first style answer" in everything  # the recorder saw the payloads that carried the answers
    for system in SYSTEMS:
        assert system not in everything
    for leak in ("left_system", "system_1", "system_2", "preferred_system", "assignment_id"):
        assert leak not in everything
