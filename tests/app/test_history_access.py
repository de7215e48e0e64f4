"""Issue 22: "Cannot judge" and "My judgments" check the caller themselves. Through Gradio's HTTP
queue (as a browser or a script sends events): a physician cannot skip, or open to revise,
another physician's unit by its token, a researcher cannot skip, and nothing is stored."""

from __future__ import annotations

import json
import uuid

import pytest

from app import storage
from evaluation.contract import Choice
from tests.app.test_security import _login

pytestmark = pytest.mark.slow


def events(client, session_hash: str, fn_index: int, data: list) -> dict:
    """One event in the given session (its gr.State carries over between events)."""
    join = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session_hash,
                                                       "event_data": None, "trigger_id": None})
    assert join.status_code == 200, join.text
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session_hash}") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event stream ended without a result")


def dependency(config: dict, *, api_name: str | None = None, output_elem: str | None = None, input_elem: str | None = None):
    by_id = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for dep in config["dependencies"]:
        if api_name and dep.get("api_name") == api_name:
            return dep
        if input_elem and input_elem in {by_id.get(i) for i in dep["inputs"]} and \
                (output_elem is None or output_elem in {by_id.get(o) for o in dep["outputs"]}):
            return dep
    raise AssertionError(f"no event {api_name or input_elem}")


def test_skip_and_open_refuse_another_physicians_unit(server, engine, make_study, make_user):
    study = make_study("guarded", n=3)
    for name in ("dr_owner", "dr_other"):
        make_user(name)
    make_user("boss_skip", "researcher")
    with storage.transaction(engine) as session:
        owner = storage.get_user(session, "dr_owner")
        judged = storage.next_assignment(session, study, owner)
        storage.submit_judgment(session, owner, judged.id, choice=Choice.a.value)
        open_unit = storage.next_assignment(session, study, owner)
        tokens = {"judged": judged.token, "open": open_unit.token}
    other = _login(server, "dr_other")
    config = other.get("/config").json()
    skip = dependency(config, api_name="skip")
    open_study = dependency(config, api_name="open_study")
    open_judgment = dependency(config, input_elem="history_list", output_elem="question")
    session_hash = uuid.uuid4().hex[:10]
    assert events(other, session_hash, open_study["id"], ["guarded"])["success"] is True  # dr_other's own state
    state_slots = len(skip["inputs"]) - 3  # the State is filled in by the server
    tried = events(other, session_hash, skip["id"], [None] * state_slots + [tokens["open"], "outside_expertise", ""])
    assert tried["success"] is False and "not your assignment" in json.dumps(tried)
    tried = events(other, session_hash, open_judgment["id"], [None, tokens["judged"]])
    # refused: Gradio's own check (not one of the choices this session was given) or ours (not yours)
    assert tried["success"] is False
    assert "SFT answer" not in json.dumps(tried) and "DPO answer" not in json.dumps(tried)
    researcher = _login(server, "boss_skip")
    tried = events(researcher, uuid.uuid4().hex[:10], skip["id"], [None] * state_slots + [tokens["open"], "other", "x"])
    assert tried["success"] is False and "physician" in json.dumps(tried)
    with storage.transaction(engine) as session:  # nothing was skipped, the judgment is as it was
        owner = storage.get_user(session, "dr_owner")
        entries = storage.judgment_history(session, owner, study)
    assert [(e.summary, e.revisions, e.skipped_reason) for e in entries] == [("a", 0, None)]
