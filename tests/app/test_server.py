"""The running server through gradio_client and plain HTTP: login, judging, roles, exports."""

from __future__ import annotations

import json

import httpx
import pytest
from gradio_client import Client

from app import storage
from tests.app.conftest import PASSWORD

pytestmark = pytest.mark.slow


def login(base: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False)
    response = client.post("/login", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return client


def test_physician_judges_through_client_and_researcher_exports(server, engine, make_study, make_user):
    study = make_study(n=3)
    make_user("dr_a")
    make_user("boss", "researcher")
    client = Client(server, auth=("dr_a", PASSWORD), verbose=False)
    screen = client.predict(study.name, api_name="/open_study")
    assert "0 of 3 judged" in json.dumps(screen)
    text = json.dumps(screen)
    assert "sft" not in text.lower().replace("sft answer", "") and '"dpo"' not in text.lower()
    for _ in range(3):
        screen = client.predict(screen[-1], "B better", False, True, "clear", api_name="/submit")
    assert "All done: 3 of 3" in json.dumps(screen)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    assert len(rows) == 3 and all(r["rationale"] == "clear" for r in rows)

    researcher = login(server, "boss")
    csv = researcher.get(f"/export/{study.name}/judgments.csv")
    assert csv.status_code == 200 and csv.text.count("\n") == 4 and "preferred_system" in csv.text
    pairs = researcher.get(f"/export/{study.name}/dpo_pairs.jsonl")
    assert pairs.status_code == 200 and len(pairs.text.splitlines()) == 3


def test_refusals(server, make_study, make_user):
    study = make_study(n=2)
    make_user("dr_a")
    # no login: the API refuses
    anonymous = httpx.get(f"{server}/config")
    assert anonymous.status_code in (401, 403) or "auth_required" in anonymous.text
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error types
        Client(server, verbose=False).predict(study.name, api_name="/open_study")
    # a physician calling the researcher endpoint by name gets an error and no data
    client = Client(server, auth=("dr_a", PASSWORD), verbose=False)
    with pytest.raises(Exception, match="researcher"):
        client.predict(study.name, api_name="/researcher_view")
    # nor the export route
    physician = login(server, "dr_a")
    assert physician.get(f"/export/{study.name}/judgments.csv").status_code == 403
    assert httpx.get(f"{server}/export/{study.name}/judgments.csv").status_code == 403


def test_login_failures_are_throttled(server, make_user):
    make_user("dr_a")
    for _ in range(3):
        assert httpx.post(f"{server}/login", data={"username": "dr_a", "password": "wrong-password"}).status_code == 400
    # locked now, even with the right password
    assert httpx.post(f"{server}/login", data={"username": "dr_a", "password": PASSWORD}).status_code == 400
