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
from tests.app.conftest import PASSWORD
from tests.app.xss_payloads import PAYLOADS
from tests.browser import browser_page, chromium_path, log_in

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
        shown_texts.add(page.locator("#guidelines textarea").input_value())
        for n in range(1, 8):
            for field in ("#answer_a textarea", "#answer_b textarea", "#question textarea"):
                shown_texts.add(page.locator(field).input_value())
            shown_texts.add(page.locator("#context textarea").input_value())
            page.locator("#rationale textarea").fill(PAYLOADS[n])  # a rationale carrying a payload
            page.locator("#choice input[value='Tie']").click()
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
    result = call_event(physician, submit["id"], [None, other.token, "A better", False, False, ""])
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
