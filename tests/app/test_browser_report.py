"""report.html (pairwise and rating) opened from disk in Chromium: it requests no other file
(plots are inline), shows every figure, and does not scroll sideways on a 390 px phone; the
figures are also written as SVG and PDF for print, with words rather than TRL metric names."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from medalign.cli import app
from medalign.testing.browser import CHROMIUM_ARGS, choose_study, chromium_path
from tests.evaluation.conftest import synthetic_study

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def pairwise_report(tmp_path):
    rows = synthetic_study(0.63, items=60, raters=4, overlap=2, seed=3, tie_share=0.1)
    judgments = tmp_path / "judgments.jsonl"
    judgments.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "epoch": s / 10, "rewards/margins": s * 0.5, "rewards/accuracies": min(1, s / 5)}) + "\n"
        for s in range(1, 11)))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", "--judgments", str(judgments), "--run", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def rating_report(tmp_path):
    from evaluation.rating_report import write_rating_report
    from tests.evaluation.test_ratings import crossed_study

    rows = crossed_study(seed=5, shift=0.8)
    settings = {"study": "grading", "kind": "rating", "systems": ["sft", "dpo"],
                "rubric": {"name": "r", "criteria": [
                    {"id": "quality", "question": "Quality?",
                     "scale": {"type": "likert", "points": 5, "anchors": {str(k): f"p{k}" for k in range(1, 6)}}}]}}
    out = tmp_path / "rating"
    write_rating_report(rows, settings, out, rounds=200)
    return out


def open_alone(out, width: int, height: int) -> tuple[list[str], int, int, int]:
    """Copy report.html alone into an empty folder and open it: every request, the images
    drawn, the page's scroll width."""
    from playwright.sync_api import sync_playwright

    alone = out.parent / (out.name + "-alone")
    alone.mkdir()
    shutil.copy(out / "report.html", alone / "report.html")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto((alone / "report.html").as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate("[...document.images].filter((i) => i.complete && i.naturalWidth > 0).length")
        total = page.evaluate("document.images.length")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    return requests, drawn, total, scroll


def test_pairwise_report_html_is_one_file_that_fits_a_phone(tmp_path):
    chromium_path()
    out = pairwise_report(tmp_path)
    for stem in ("win_rate", "reward_margin", "position_bias"):
        for form, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
            assert (out / f"{stem}.{form}").read_bytes().startswith(magic), f"{stem}.{form}"
    margin_svg = (out / "reward_margin.svg").read_text()
    assert "rewards/margins" not in margin_svg and "rewards/accuracies" not in margin_svg
    page_text = (out / "report.html").read_text()
    assert 'src="win_rate.png"' not in page_text and "data:image/svg+xml;base64," in page_text
    requests, drawn, total, scroll = open_alone(out, 390, 844)
    assert requests == [(out.parent / "report-alone" / "report.html").as_uri()]
    assert total >= 3 and drawn == total
    assert scroll <= 390


def test_rating_report_html_is_one_file(tmp_path):
    chromium_path()
    out = rating_report(tmp_path)
    assert (out / "criterion_quality.pdf").read_bytes().startswith(b"%PDF")
    requests, drawn, total, scroll = open_alone(out, 390, 844)
    assert requests == [(out.parent / "rating-alone" / "report.html").as_uri()]
    assert total >= 1 and drawn == total
    assert scroll <= 390


def judge_everything(engine, study_name: str, physicians: list[str]) -> None:
    from app import storage

    for name in physicians:
        while True:
            with storage.transaction(engine) as session:
                study, user = storage.get_study(session, study_name), storage.get_user(session, name)
                assignment = storage.next_assignment(session, study, user)
                if assignment is None:
                    break
                storage.submit_judgment(session, user, assignment.id, choice="b" if assignment.id % 3 else "a")


def test_report_downloaded_from_the_dashboard_researchers_only(server, engine, make_study, make_user, tmp_path):
    """The report is built on demand by the server and downloaded from the dashboard: one HTML file
    with its figures inline. A physician (and anyone logged out) is refused over raw HTTP."""
    import httpx

    from medalign.testing.browser import browser_page, log_in
    from tests.app.conftest import PASSWORD

    chromium_path()
    make_study("reported", n=12, overlap=2)
    for name in ("dr_r1", "dr_r2"):
        make_user(name)
    make_user("boss_report", "researcher")
    judge_everything(engine, "reported", ["dr_r1", "dr_r2"])
    with browser_page() as page:
        log_in(page, server, "boss_report", PASSWORD)
        choose_study(page, "reported")
        page.wait_for_selector("#report_link", timeout=30_000)
        assert "DPO pairs" in page.locator("#research_links").inner_text()  # a pairwise study has them
        with page.expect_download(timeout=180_000) as download:
            page.locator("#report_link").click()
        saved = tmp_path / "downloaded.html"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "report-reported.html"
    page_text = saved.read_text()
    assert page_text.lstrip().lower().startswith("<!doctype html") and "data:image/svg+xml;base64," in page_text
    assert "reported" in page_text
    url = f"{server}/report/reported/report.html"
    physician = httpx.Client(timeout=60)
    assert physician.post(f"{server}/login", data={"username": "dr_r1", "password": PASSWORD}).status_code == 200
    refused = physician.get(url)
    assert refused.status_code == 403 and "<html" not in refused.text.lower()
    assert httpx.get(url, timeout=60).status_code == 403  # logged out
    researcher = httpx.Client(timeout=180)
    assert researcher.post(f"{server}/login", data={"username": "boss_report", "password": PASSWORD}).status_code == 200
    assert researcher.get(f"{server}/report/nothing-here/report.html").status_code == 404


def test_rating_study_gets_no_pairwise_links(server, engine, make_user, tmp_path):
    from app import storage
    from app.study_files import read_study_items
    from evaluation.rubric import load_rubric
    from medalign.testing.browser import browser_page, log_in
    from tests.app.conftest import PASSWORD, RUBRIC, write_answers

    chromium_path()
    rubric_file = tmp_path / "rubric.yaml"
    rubric_file.write_text(RUBRIC)
    items = read_study_items(write_answers(tmp_path / "a.jsonl", 2), ("sft", "dpo"))
    with storage.transaction(engine) as session:
        storage.create_study(session, name="graded", kind="rating", systems=("sft", "dpo"), items=items,
                             rubric=load_rubric(rubric_file))
    make_user("boss_rating", "researcher")
    with browser_page() as page:
        log_in(page, server, "boss_rating", PASSWORD)
        choose_study(page, "graded")
        page.wait_for_selector("#report_link", timeout=30_000)
        links = page.locator("#research_links").inner_text()
        anchors = page.eval_on_selector_all("#research_links a", "els => els.map((a) => a.getAttribute('href'))")
    assert "Judgments (CSV)" in links and "report" in links
    assert "DPO" not in links and not any("dpo_pairs" in a for a in anchors) and len(anchors) == 3
