"""Security headers on every response, API description pages not served, and a page that works
under its Content-Security-Policy in a real browser (issue 13)."""

from __future__ import annotations

import httpx
import pytest

from app.middleware import SECURITY_HEADERS
from tests.app.conftest import PASSWORD
from tests.app.test_login import client_from, log_in

ROUTES = [("GET", "/"), ("GET", "/config"), ("GET", "/healthz"), ("GET", "/gradio_api/info"), ("GET", "/login_check"),
          ("GET", "/no/such/page"), ("GET", "/export/trial/judgments.csv"), ("POST", "/login"),
          ("GET", "/gradio_api/queue/data?session_hash=x")]
DESCRIPTION_PAGES = ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect", "/gradio_api/openapi.json",
                     "/gradio_api/docs", "/openapi.json/"]


def assert_hardened(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers.get(name))
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "default-src 'self'" in policy


@pytest.mark.parametrize("logged_in", [False, True])
def test_every_response_carries_the_security_headers(server, make_study, make_user, logged_in):
    make_study(n=2)
    make_user("boss", "researcher")
    with client_from(server) as client:
        if logged_in:
            assert_hardened(log_in(client, "boss", PASSWORD))
        for method, path in ROUTES:
            form = {"username": "boss", "password": "wrong-password"} if method == "POST" else None
            with client.stream(method, path, data=form) as response:  # headers only: queue/data streams
                assert_hardened(response)
    assert SECURITY_HEADERS["x-frame-options"] == "DENY"
    assert SECURITY_HEADERS["x-content-type-options"] == "nosniff"


def test_api_description_pages_are_not_served_even_to_researchers(server, make_user):
    make_user("boss", "researcher")
    anonymous = client_from(server)
    researcher = client_from(server)
    assert log_in(researcher, "boss", PASSWORD).status_code == 200
    for client in (anonymous, researcher):
        for path in DESCRIPTION_PAGES:
            response = client.get(path)
            assert response.status_code == 404, (path, response.status_code)
            assert "openapi" not in response.text.lower() and "swagger" not in response.text.lower()
            assert_hardened(response)
    # the client library's own description stays available to a logged-in user
    assert researcher.get("/gradio_api/info").status_code == 200
    assert anonymous.get("/gradio_api/info").status_code == 401


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_works_under_its_policy_and_shows_who_is_signed_in(server, make_study, make_user):
    from medalign.testing.browser import browser_page, chromium_path

    chromium_path()
    make_study(n=2)
    make_user("dr_visible")
    with browser_page() as page:
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.add_init_script("document.addEventListener('securitypolicyviolation', e => (window.__csp = window.__csp || [])"
                             ".push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' ')));")
        page.goto(server)
        page.get_by_label("username").fill("dr_visible")
        page.get_by_label("password").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#logout", timeout=30_000)
        # the name of the account in use is on screen (a login forced by another site would show)
        page.wait_for_function("document.querySelector('#whoami textarea, #whoami input')?.value === 'dr_visible'",
                               timeout=30_000)
        page.wait_for_selector("text=0 of 2 judged", timeout=30_000)  # the judging screen loaded and works
        page.wait_for_selector(".medalign-progress", timeout=30_000)  # gr.HTML draws only if the policy allows it
        page.wait_for_timeout(500)
        assert page.evaluate("window.__csp || []") == [] and violations == []
        # a page of another origin cannot frame the app
        framed = page.evaluate("""async (url) => {
            const f = document.createElement('iframe'); f.src = url; document.body.appendChild(f);
            await new Promise(r => setTimeout(r, 1500));
            try { return f.contentDocument && f.contentDocument.body ? f.contentDocument.body.innerHTML.length : -1; }
            catch (e) { return -1; } }""", server)
        assert framed <= 0


def test_unknown_event_is_one_log_line_not_a_traceback(server, make_study, make_user, caplog):
    """An out-of-range fn_index (Gradio: a KeyError traceback) is refused with 422 and logged as
    one line (issue 23); a body over the limit is refused with 413."""
    import logging

    make_study(n=2)
    make_user("dr_a")
    with client_from(server) as client:
        assert log_in(client, "dr_a", PASSWORD).status_code == 200
        with caplog.at_level(logging.WARNING):
            for fn_index in (9999, -1, "x"):
                response = client.post("/gradio_api/queue/join", json={"data": [], "fn_index": fn_index,
                                                                       "session_hash": "s", "event_data": None})
                assert response.status_code == 422, response.text
        assert "Traceback" not in caplog.text and "KeyError" not in caplog.text
        assert sum("refused an event call" in r.getMessage() for r in caplog.records) == 3
        big = client.post("/gradio_api/queue/join", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
        assert big.status_code == 413


def test_anonymous_streams_are_refused(server):
    for path in ("/gradio_api/heartbeat/abc", "/gradio_api/queue/data?session_hash=abc"):
        assert httpx.get(server + path, timeout=10).status_code == 401, path
