"""Issue 22, sessions that survive restarts and scale out: two `medalign serve` processes on one
PostgreSQL database share login sessions and the login throttle. A physician logs in through one
and judges through the other; that one restarts mid-study; nobody is logged out and no
judgment is lost. The idle timeout ends a session and the login page says so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app import storage
from medalign.testing.browser import browser_page, chromium_path, log_in, shown_text
from tests.app.conftest import PASSWORD

pytestmark = [pytest.mark.slow]
MEDALIGN = str(Path(sys.executable).with_name("medalign"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(url: str, port: int, *extra: str):
    """`medalign serve` in its own process; stopped (SIGTERM) on the way out."""
    process = subprocess.Popen([MEDALIGN, "serve", "--db", url, "--port", str(port), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"medalign serve did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()  # uvicorn waits for open event streams: a restart does not wait long
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def make_study_on(tmp_path):
    from app.study_files import read_study_items
    from tests.app.conftest import write_answers

    def make(engine, name: str, n: int):
        items = read_study_items(write_answers(tmp_path / f"{name}.jsonl", n), ("sft", "dpo"))
        with storage.transaction(engine) as session:
            return storage.create_study(session, name=name, systems=("sft", "dpo"), items=items)
    return make


def judge_one(page, judged: int, total: int, key: str = "1") -> None:
    page.locator("body").click(position={"x": 2, "y": 2})
    page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text=Saved ({judged} of {total})", timeout=60_000)


@pytest.mark.browser
def test_two_processes_share_sessions_and_a_restart_logs_nobody_out(postgres_url, pg_engine, make_study_on):
    chromium_path()
    make_study_on(pg_engine, "shared", n=6)
    with storage.transaction(pg_engine) as session:
        storage.add_user(session, "dr_two", "physician", PASSWORD)
    first_port, second_port = free_port(), free_port()
    with serving(postgres_url, first_port) as first, browser_page() as page:
        with serving(postgres_url, second_port) as second:
            log_in(page, first, "dr_two", PASSWORD)  # logged in through the first process
            page.goto(second)  # judged through the second: the same cookie, a session it never issued
            page.wait_for_selector("text=0 of 6 judged", timeout=60_000)
            judge_one(page, 1, 6)
            judge_one(page, 2, 6, "2")
        with serving(postgres_url, second_port):  # the second process restarted mid-study
            open_pair = shown_text(page, "answer_a")
            judge_one(page, 3, 6, "3")  # the page left open goes on: no login, the pair on screen saved
            assert page.locator("#relogin").count() == 0
            page.goto(first)
            page.wait_for_selector("text=3 of 6 judged", timeout=60_000)
            judge_one(page, 4, 6)
            # the login throttle is shared too: failures through one process count in the other
            for _ in range(5):
                httpx.post(f"{first}/login", data={"username": "dr_two", "password": "wrong password"})
            refused = httpx.post(f"http://127.0.0.1:{second_port}/login",
                                 data={"username": "dr_two", "password": PASSWORD})
            assert refused.status_code == 400 and "too many failed logins" in refused.json()["detail"]
    with storage.transaction(pg_engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "shared"))
    assert sorted(r["choice"] for r in rows) == ["a", "a", "b", "tie"]  # every judgment kept, none twice
    assert open_pair in {r["answer_a"] for r in rows}


@pytest.mark.browser
def test_idle_timeout_ends_the_session_and_the_login_page_says_so(engine, make_study, make_user):
    from app.server import create_app
    from tests.app.test_login import running

    chromium_path()
    make_study("idle", n=3)
    make_user("dr_idle")
    with running(create_app(engine, idle_timeout_s=8)) as base, browser_page() as page:
        log_in(page, base, "dr_idle", PASSWORD)
        page.wait_for_selector("text=0 of 3 judged", timeout=30_000)
        time.sleep(10)  # longer than the idle timeout; the page's heartbeats do not count as activity
        page.goto(f"{base}/?study=idle")
        page.wait_for_url("**/login?expired=idle&study=idle", timeout=30_000)
        assert "logged out after 8 seconds without activity" in page.locator("#expired").inner_text()
