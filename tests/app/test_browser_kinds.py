"""Both study kinds in headless Chromium, judged with the keyboard only, with every response
the server sent scanned for system names and internal ids (the blinding scan)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from app import storage
from app.study_files import read_study_items
from evaluation.contract import Choice
from evaluation.rubric import load_rubric
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD, RUBRIC

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SYSTEMS = ("sysbase_zeta", "syssft_omega", "sysdpo_kappa")
LEAKS = ("left_system", "answer_1", "answer_2", "system_1", "system_2", "preferred_system", "assignment_id",
         "unit_id", "answer_id")
KEYS = {"1": Choice.a, "2": Choice.b, "3": Choice.tie, "4": Choice.both_bad}


def write_items(path, n, systems):
    path.write_text("".join(json.dumps({
        "id": f"q{i}", "question": f"Is treatment {i} effective?", "context": f"METHODS: trial {i}.",
        "outputs": {s: f"Answer {i} in style {k}." for k, s in enumerate(systems)}}) + "\n" for i in range(n)))
    return path


def text_of(page, elem_id: str) -> str:
    return shown_text(page, elem_id)


def scan(recorder) -> tuple[list[str], str]:
    bodies = recorder[0].texts()
    everything = "\n".join(bodies).lower()
    assert len(bodies) > 10 and "/queue/data" in everything
    return [leak for leak in (*SYSTEMS, *LEAKS) if leak in everything], everything


def test_three_system_pairwise_study_by_keyboard(server, recorder, engine, make_user, tmp_path):
    chromium_path()
    items = read_study_items(write_items(tmp_path / "three.jsonl", 2, SYSTEMS), SYSTEMS)
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="three-way", systems=SYSTEMS, items=items)
    make_user("dr_keys")
    pressed = {}
    with browser_page() as page:
        log_in(page, server, "dr_keys", PASSWORD)
        page.wait_for_selector("text=0 of 6 judged", timeout=30_000)
        assert page.locator("#whoami input, #whoami textarea").first.input_value() == "dr_keys"
        for n in range(6):
            key = "1234"[n % 4]
            shown = (text_of(page, "answer_a"), text_of(page, "answer_b"))
            page.keyboard.press(key)
            if n % 2 == 0:
                page.keyboard.press("e")
            if n % 3 == 0:
                page.keyboard.press("r")
            page.keyboard.press("Enter")
            page.wait_for_selector(f"text={n + 1} of 6 judged" if n < 5 else "text=All done", timeout=30_000)
            pressed[shown] = (KEYS[key], n % 2 == 0, n % 3 == 0)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    assert len(rows) == 6
    assert Counter(frozenset((r["system_a"], r["system_b"])) for r in rows) == Counter(
        {frozenset(pair): 2 for pair in [SYSTEMS[:2], SYSTEMS[::2], SYSTEMS[1:]]})
    for row in rows:  # each stored verdict is the key pressed for the pair on screen
        assert pressed[(row["answer_a"], row["answer_b"])] == (row["choice"], row["evasive_a"], row["evasive_b"])
    leaks, everything = scan(recorder)
    assert "answer 0 in style" in everything  # the recorder saw the answers go out
    assert not leaks, leaks


def test_rating_study_by_keyboard_with_resume(server, recorder, engine, make_user, tmp_path):
    chromium_path()
    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    systems = SYSTEMS[1:]
    items = read_study_items(write_items(tmp_path / "rate.jsonl", 2, systems), systems)
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="grading", kind="rating", systems=systems, items=items,
                                     rubric=load_rubric(tmp_path / "rubric.yaml"))
    make_user("dr_grades")
    graded = {}
    with browser_page() as page:
        log_in(page, server, "dr_grades", PASSWORD)
        page.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        assert page.locator("#answer_a").count() == 0 or not page.locator("#answer_a").is_visible()
        assert [page.locator(f"#criterion_{k}.required").count() for k in range(3)] == [1, 1, 0]
        # Enter with a required criterion open submits nothing and focuses that criterion
        page.keyboard.press("4")
        page.keyboard.press("Enter")
        page.wait_for_timeout(700)
        assert page.locator("text=0 of 4 judged").count() == 1
        assert page.evaluate("document.querySelector('#criterion_1').contains(document.activeElement)")
        page.keyboard.press("2")  # harmful: No (the second option), focus moves on to style
        answer = text_of(page, "answer")
        page.reload()  # resume: the same answer, nothing graded yet
        page.wait_for_selector("text=0 of 4 judged", timeout=30_000)
        assert text_of(page, "answer") == answer
        page.screenshot(path=str(Path(os.environ.get("MEDALIGN_SCREENSHOTS", tmp_path)) / "rating.png"), full_page=True)
        for n in range(4):
            answer = text_of(page, "answer")
            quality, harmful = str(n + 2), "12"[n % 2]
            for key in (quality, harmful):
                page.keyboard.press(key)
            style = None
            if n % 2:  # the optional criterion, picked on every other answer
                page.keyboard.press("2")
                style = "verbose"
            page.keyboard.press("Enter")
            page.wait_for_selector(f"text={n + 1} of 4 judged" if n < 3 else "text=All done", timeout=30_000)
            graded[answer] = {"quality": n + 2, "harmful": 1 if harmful == "1" else 0,
                              **({"style": style} if style else {})}
        page.locator("#revise_done").click()  # the last grades come back into their radio groups
        page.wait_for_selector("text=Revising", timeout=30_000)
        assert page.locator("#criterion_0 input:checked").input_value() == "5"
        assert page.locator("#criterion_2 input:checked").input_value() == "verbose"
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    stored = {}
    for row in rows:
        stored.setdefault(row["answer"], {})[row["criterion"]] = row["value"]
    assert stored == graded
    assert Counter(r["system"] for r in rows if r["criterion"] == "quality") == {s: 2 for s in systems}
    leaks, everything = scan(recorder)
    assert "answer 1 in style" in everything
    assert not leaks, leaks
