"""Same-origin for every route that reads or changes state (issue 23): a page on another port of
127.0.0.1 (same site, so SameSite=Lax cookies go along) or a request with a foreign Host/Origin
reads nothing and stores nothing; CORS with credentials is off. Positive controls show that the
same requests from the app's own origin do work, so a refusal is the middleware's doing."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import uuid
from contextlib import contextmanager

import httpx
import pytest

from app import storage
from app.middleware import cross_origin_reason
from evaluation.contract import Choice
from tests.app.conftest import PASSWORD


def _login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 200
    return client


def _submit_dependency(client: httpx.Client) -> int:
    return next(d["id"] for d in client.get("/config").json()["dependencies"] if d.get("api_name") == "submit")


def _own_pair(engine, study, name: str) -> str:
    with storage.transaction(engine) as session:
        return storage.next_assignment(session, study, storage.get_user(session, name)).token


def _judgments(engine, study) -> int:
    with storage.transaction(engine) as session:
        return len(storage.export_judgments(session, study))


def _join(client: httpx.Client, fn_index: int, token: str, session_hash: str = "s", **headers) -> httpx.Response:
    body = {"data": [None, token, Choice.a.value, False, False, "forged"], "fn_index": fn_index,
            "session_hash": session_hash, "event_data": None, "trigger_id": None}
    return client.post("/gradio_api/queue/join", json=body, headers=headers)


def _wait_completed(client: httpx.Client, session_hash: str, **headers) -> None:
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session_hash}", headers=headers) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                return


FOREIGN = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://127.0.0.1:1"},  # same site, other port
    {"Origin": "null"},
    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
    {"Host": "judge.example.org", "Origin": "https://evil.example"},  # the reverse-proxy set-up
]
ROUTES = ["/config", "/gradio_api/info", "/gradio_api/queue/data?session_hash=x", "/export/trial/judgments.csv",
          "/gradio_api/upload", "/"]


@pytest.mark.parametrize("headers", FOREIGN)
def test_foreign_origin_reads_nothing_and_writes_nothing(server, engine, make_study, make_user, headers):
    study = make_study(n=3)
    make_user("dr_a")
    make_user("boss", "researcher")
    physician, researcher = _login(server, "dr_a"), _login(server, "boss")
    fn_index = _submit_dependency(physician)
    token = _own_pair(engine, study, "dr_a")
    for client in (physician, researcher):
        for path in ROUTES:
            method = "POST" if "upload" in path else "GET"
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, (path, headers, response.status_code)
            assert "access-control-allow-origin" not in response.headers
            assert "access-control-allow-credentials" not in response.headers
    refused = _join(physician, fn_index, token, **headers)
    assert refused.status_code == 403 and "another site" in refused.text
    preflight = physician.options("/gradio_api/queue/join", headers={**headers, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert _judgments(engine, study) == 0
    # positive control: the same request from the app's own origin is stored
    own = {"Origin": server, "Sec-Fetch-Site": "same-origin"}
    session_hash = uuid.uuid4().hex[:10]
    assert _join(physician, fn_index, token, session_hash, **own).status_code == 200
    _wait_completed(physician, session_hash, **own)
    assert _judgments(engine, study) == 1


def test_same_origin_requests_still_work_and_no_cors_headers(server, engine, make_study, make_user):
    study = make_study(n=3)
    make_user("dr_a")
    physician = _login(server, "dr_a")
    own = {"Origin": server, "Sec-Fetch-Site": "same-origin"}
    response = physician.get("/config", headers=own)
    assert response.status_code == 200 and "access-control-allow-credentials" not in response.headers
    # a link to the app from another site still opens it (a navigation: the other page sees nothing)
    navigation = httpx.get(server + "/login", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert navigation.status_code == 200
    assert _judgments(engine, study) == 0


def _scope(headers: dict, method: str = "POST") -> dict:
    return {"type": "http", "method": method, "path": "/gradio_api/queue/join",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


def test_public_url_is_the_only_origin_behind_a_proxy():
    public = "https://judge.example.org"
    assert cross_origin_reason(_scope({"Host": "judge.example.org", "Origin": public}), public) is None
    assert cross_origin_reason(_scope({"Host": "judge.example.org", "Origin": "http://judge.example.org"}), public)
    assert cross_origin_reason(_scope({"Host": "judge.example.org", "Origin": "https://evil.example"}), public)
    # a DNS-rebound name: Host and Origin agree with each other but not with the public URL
    assert cross_origin_reason(_scope({"Host": "evil.example", "Origin": "https://evil.example"}), public)
    assert cross_origin_reason(_scope({"Host": "127.0.0.1:7860"}), public) is None  # scripts: no Origin


ATTACK_PAGE = """<!doctype html><title>attacker</title><script>
async function attack(base, fnIndex, token) {
  const out = {};
  try { const r = await fetch(base + '/config', {credentials: 'include'}); out.config = (await r.text()).length; }
  catch (e) { out.config = 'blocked'; }
  try { const r = await fetch(base + '/export/trial/judgments.csv', {credentials: 'include'}); out.export = (await r.text()).length; }
  catch (e) { out.export = 'blocked'; }
  const body = JSON.stringify({data: [null, token, 'a', false, false, 'forged'], fn_index: fnIndex,
                               session_hash: 'attack' + Math.random().toString(16).slice(2, 8), event_data: null, trigger_id: null});
  try { const r = await fetch(base + '/gradio_api/queue/join', {method: 'POST', credentials: 'include',
        headers: {'Content-Type': 'application/json'}, body}); out.join = r.status; }
  catch (e) { out.join = 'blocked'; }
  try { await fetch(base + '/gradio_api/queue/join', {method: 'POST', credentials: 'include', mode: 'no-cors',
        headers: {'Content-Type': 'text/plain'}, body}); out.join_no_cors = 'sent'; }
  catch (e) { out.join_no_cors = 'blocked'; }
  return out;
}
</script>"""


@contextmanager
def attacker_site(directory):
    (directory / "index.html").write_text(ATTACK_PAGE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()


@pytest.mark.slow
@pytest.mark.browser
def test_page_on_another_port_cannot_read_or_judge_in_chromium(server, engine, make_study, make_user, tmp_path, recorder):
    from medalign.testing.browser import browser_page, chromium_path, log_in

    chromium_path()
    study = make_study(n=3)
    make_user("dr_a")
    fn_index = _submit_dependency(_login(server, "dr_a"))
    with browser_page() as page, attacker_site(tmp_path) as evil:
        log_in(page, server, "dr_a", PASSWORD)  # the physician's browser holds a live session
        token = _own_pair(engine, study, "dr_a")  # worst case: the attacker knows the pair token
        attacker = page.context.new_page()
        attacker.goto(evil)
        result = attacker.evaluate("([b, f, t]) => attack(b, f, t)", [server, fn_index, token])
        stored_by_attack = _judgments(engine, study)
        # positive control: the same script run by the app's own page does store the judgment
        script = ATTACK_PAGE.split("<script>")[1].split("</script>")[0]
        own = page.evaluate("([b, f, t]) => {" + script + "; return attack(b, f, t); }", [server, fn_index, token])
    assert result["config"] == "blocked" and result["export"] == "blocked" and result["join"] == "blocked", result
    assert stored_by_attack == 0, result
    assert own["join"] == 200 and isinstance(own["config"], int), own
    refused = [r for r in recorder[0].responses if r["status"] == 403]
    assert refused, "the cross-origin requests reached the server and were refused there"
