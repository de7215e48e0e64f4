"""Issue 22, a study created in the browser from an uploaded answers file: it equals the study
`medalign study create` makes from the same file and options (pairwise and rating), and a bad
file is refused with the command line's own one-line message, naming the file as uploaded, with
nothing stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from app import storage
from app.models import Answer, Item, Unit
from medalign.testing.browser import browser_page, chromium_path, log_in
from tests.app.conftest import PASSWORD, write_answers

pytestmark = [pytest.mark.slow, pytest.mark.browser]
MEDALIGN = str(Path(sys.executable).with_name("medalign"))


def cli_create(engine, folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MEDALIGN, "study", "create", *args, "--db", str(engine.url)], capture_output=True,
                          text=True, timeout=120, cwd=folder)


def snapshot(engine, name: str) -> dict:
    """Everything a study is, but its name and creation time."""
    with storage.transaction(engine) as session:
        study = storage.get_study(session, name)
        settings = {k: v for k, v in storage.study_settings(session, study).items() if k != "study"}
        items = session.exec(select(Item).where(Item.study_id == study.id).order_by(Item.position)).all()
        answers = {(i.external_id, a.system): a.text for i in items
                   for a in session.exec(select(Answer).where(Answer.item_id == i.id))}
        units = sorted((u.comparison, u.is_gold) for u in session.exec(select(Unit).where(Unit.study_id == study.id)))
        return {"settings": settings, "items": [(i.external_id, i.question, i.context, i.reference, i.is_gold)
                                                for i in items],
                "answers": answers, "units": units, "guidelines": study.guidelines, "seed": study.seed}


def upload(page, elem_id: str, path: Path) -> None:
    clear = page.locator(f"#{elem_id} button[aria-label='Clear']")
    if clear.count():  # the file of the previous try
        clear.click()
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    # the file listed once uploaded (Gradio shows the name's stem and suffix apart)
    page.wait_for_function("([id, stem]) => document.querySelector('#' + id)?.innerText.includes(stem)",
                           arg=[elem_id, path.stem], timeout=30_000)


def create(page, name: str, answers: Path, *, note: str) -> str:
    page.locator("#create_name input, #create_name textarea").first.fill(name)
    upload(page, "create_answers", answers)
    page.locator("#create_study").click()
    page.wait_for_function("(n) => document.querySelector('#create_note')?.innerText.includes(n)", arg=note,
                           timeout=60_000)
    return page.locator("#create_note").inner_text()


def test_browser_study_equals_cli_study_and_bad_file_stores_nothing(server, engine, make_user, tmp_path):
    chromium_path()
    make_user("boss_create", "researcher")
    answers = write_answers(tmp_path / "answers.jsonl", 5)
    bad = tmp_path / "bad.jsonl"
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    del rows[1]["outputs"]["dpo"]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    made = cli_create(engine, tmp_path, "--name", "cli-made", "--answers", "answers.jsonl", "--pairs", "sft:dpo",
                      "--overlap", "2", "--max-share", "0.5", "--primary", "all", "--seed", "3")
    assert made.returncode == 0, made.stderr
    rated = cli_create(engine, tmp_path, "--name", "cli-rated", "--answers", "answers.jsonl", "--kind", "rating",
                       "--systems", "sft,dpo", "--rubric", "rubrics/clinical-axes.yaml")
    assert rated.returncode == 0, rated.stderr
    refused = cli_create(engine, tmp_path, "--name", "cli-bad", "--answers", "bad.jsonl")
    assert refused.returncode == 2
    cli_message = refused.stderr.strip().removeprefix("error: ")
    assert cli_message.startswith("bad.jsonl:2") and "outputs.dpo" in cli_message
    with browser_page() as page:
        log_in(page, server, "boss_create", PASSWORD)
        page.get_by_text("Create a study from an answers file").click()
        # no default names a system: the form's configuration reaches physicians' browsers too
        assert page.locator("#create_systems input, #create_systems textarea").first.input_value() == ""
        page.locator("#create_systems input, #create_systems textarea").first.fill("sft,dpo")
        # a bad file: the command line's message, the file named as uploaded, nothing stored
        shown = create(page, "web-bad", bad, note="Refused")
        assert shown == f"Refused: {cli_message}"
        # the pairwise study, with the options the command line got
        page.locator("#create_pairs input, #create_pairs textarea").first.fill("sft:dpo")
        page.locator("#create_overlap input").fill("2")
        page.locator("#create_seed input").fill("3")
        page.locator("#create_max_share input").fill("0.5")
        page.locator("#create_primary").get_by_label("All judgments: wins / all judgments").check()
        shown = create(page, "web-made", answers, note="pairwise study 'web-made'")
        assert "5 items, 0 gold, sft vs dpo, overlap 2" in shown
        page.wait_for_function("document.querySelector('#research_picker input')?.value === 'web-made'",
                               timeout=30_000)  # opened on the dashboard
        # the rating study on a shipped rubric
        page.locator("#create_kind").get_by_label("Rating: one answer on a rubric").check()
        page.locator("#create_pairs input, #create_pairs textarea").first.fill("")
        page.locator("#create_overlap input").fill("1")
        page.locator("#create_seed input").fill("0")
        page.locator("#create_max_share input").fill("")
        page.locator("#create_primary").get_by_label("Decisive votes: wins / (wins + losses)").check()
        page.locator("#create_rubric input").click()
        page.get_by_role("option", name="clinical-axes").click()
        shown = create(page, "web-rated", answers, note="rating study 'web-rated'")
    assert snapshot(engine, "web-made") == snapshot(engine, "cli-made")
    assert snapshot(engine, "web-rated") == snapshot(engine, "cli-rated")
    with storage.transaction(engine) as session:
        names = {s.name for s in storage.list_studies(session)}
    assert names == {"cli-made", "cli-rated", "web-made", "web-rated"}  # no bad study, from either
