"""A password change or a disabled account ends every session of that user at once (issue 13),
on every route: the page config, the API info, the event queue and the export downloads."""

from __future__ import annotations

import time

import httpx
import pytest

from app import storage
from tests.app.conftest import PASSWORD
from tests.app.test_login import client_from, log_in

NEW_PASSWORD = "a-brand-new-passphrase"
RECHECK_S = 1.0  # the server's default: credentials are re-read at most once a second per user


def requests_refused(client: httpx.Client, study: str) -> dict[str, int]:
    """What a logged-in session can reach, by route: the status each one answers."""
    join = client.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "abc123",
                                                       "event_data": None, "trigger_id": None})
    return {
        "/config": client.get("/config").status_code,
        "/gradio_api/info": client.get("/gradio_api/info").status_code,
        "/gradio_api/queue/join": join.status_code,
        "/gradio_api/queue/data": client.get("/gradio_api/queue/data?session_hash=abc123").status_code,
        "/export": client.get(f"/export/{study}/judgments.jsonl").status_code,
    }


def wait_until_refused(client: httpx.Client, limit_s: float = 3 * RECHECK_S) -> float:
    started = time.monotonic()
    while client.get("/config").status_code == 200:
        assert time.monotonic() - started < limit_s, "the old session still works"
        time.sleep(0.05)
    return time.monotonic() - started


def record(name: str, value) -> None:
    from tests.app.test_security import record_figure

    record_figure(name, value)


@pytest.mark.parametrize("change", ["password", "disable"])
def test_a_credential_change_ends_every_session_of_that_user(server, engine, make_study, make_user, change):
    study = make_study(n=2)
    make_user("boss", "researcher")
    make_user("dr_b")
    old_sessions = [client_from(server) for _ in range(2)]  # two browsers of the same researcher
    for client in old_sessions:
        assert log_in(client, "boss", PASSWORD).status_code == 200
        assert set(requests_refused(client, study.name).values()) == {200}
    bystander = client_from(server)
    assert log_in(bystander, "dr_b", PASSWORD).status_code == 200

    with storage.transaction(engine) as session:
        if change == "password":
            storage.set_password(session, "boss", NEW_PASSWORD)
        else:
            storage.set_disabled(session, "boss")
    took = [wait_until_refused(client) for client in old_sessions]
    for client in old_sessions:
        statuses = requests_refused(client, study.name)
        assert all(status in (401, 403) for status in statuses.values()), statuses
    assert bystander.get("/config").status_code == 200  # other users keep their sessions

    fresh = client_from(server)
    if change == "password":
        assert log_in(fresh, "boss", PASSWORD).status_code == 400
        assert log_in(fresh, "boss", NEW_PASSWORD).status_code == 200
        time.sleep(RECHECK_S + 0.2)  # past the recheck: the new session is newer than the change
        assert set(requests_refused(fresh, study.name).values()) == {200}
    else:
        assert log_in(fresh, "boss", PASSWORD).status_code == 400
        with storage.transaction(engine) as session:
            storage.set_disabled(session, "boss", False)
        assert log_in(fresh, "boss", PASSWORD).status_code == 200
        assert old_sessions[0].get("/config").status_code == 401  # re-enabling revives nothing
    record(f"sessions_ended_by_{change}", {"sessions": len(old_sessions), "ended": len(took),
                                          "slowest_s": round(max(took), 2), "bystander_kept": True})


def test_a_token_not_issued_by_the_login_route_is_refused(server, recorder, make_user):
    """Gradio's token table is shared; a token placed there by anything else is not honoured."""
    from app.server import _gradio_app

    make_user("dr_a")
    gradio_app = _gradio_app(recorder[0].app)
    gradio_app.tokens["planted-token"] = "dr_a"
    planted = httpx.Client(base_url=server, cookies={f"access-token-unsecure-{gradio_app.cookie_id}": "planted-token"})
    assert planted.get("/config").status_code == 401
    assert "planted-token" not in gradio_app.tokens


def test_the_session_check_does_not_wait_for_a_writer(server, engine, make_user):
    """SQLite: a long write elsewhere (a batch import, a backup) must not hold up every request."""
    import sqlite3

    make_user("dr_a")
    with client_from(server) as client:
        assert log_in(client, "dr_a", PASSWORD).status_code == 200
        writer = sqlite3.connect(engine.url.database, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held through the requests below
        try:
            time.sleep(RECHECK_S + 0.1)  # so the next request re-reads the credentials
            started = time.monotonic()
            assert client.get("/config").status_code == 200
            assert writer.in_transaction
            # a read that queued for the lock would wait out SQLite's busy timeout (15 s) first
            assert time.monotonic() - started < 15 / 3
        finally:
            writer.execute("ROLLBACK")
            writer.close()


def test_a_password_change_ends_sessions_on_postgresql(pg_engine):
    """The same through a PostgreSQL database (the reads there go through the app's own engine)."""
    from app.server import create_app
    from tests.app.test_login import running

    with storage.transaction(pg_engine) as session:
        storage.add_user(session, "dr_pg", "physician", PASSWORD)
    with running(create_app(pg_engine)) as base, client_from(base) as client:
        assert log_in(client, "dr_pg", PASSWORD).status_code == 200
        assert client.get("/config").status_code == 200
        with storage.transaction(pg_engine) as session:
            storage.set_password(session, "dr_pg", NEW_PASSWORD)
        wait_until_refused(client)
        assert client.get("/gradio_api/info").status_code == 401
        with client_from(base) as fresh:
            assert log_in(fresh, "dr_pg", NEW_PASSWORD).status_code == 200
            time.sleep(RECHECK_S + 0.2)
            assert fresh.get("/config").status_code == 200
