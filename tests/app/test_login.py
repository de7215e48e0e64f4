"""Logins (issue 13): failed logins never block the event loop, throttling per address and per
(user, address) so an outsider cannot lock a physician out, a global cap on hashing work, and
no login posted from another site."""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from app.security import HashBudget, LoginThrottle
from tests.app.conftest import PASSWORD

WRONG = "wrong-password-guess"


@contextmanager
def running(app):
    """`app` under uvicorn on a free loopback port (as tests/app/conftest.py's `server`)."""
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None,
                                           timeout_graceful_shutdown=3))  # open heartbeat streams never end
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def start_server(engine):
    """Start the real app with the given throttle and budget; yields a starter function."""
    from app.server import create_app

    stack = []

    def start(**kwargs) -> str:
        context = running(create_app(engine, **kwargs))
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def client_from(base: str, address: str = "127.0.0.1", **kwargs) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is a loopback address)."""
    return httpx.Client(base_url=base, timeout=60, transport=httpx.HTTPTransport(local_address=address), **kwargs)


def log_in(client: httpx.Client, name: str, password: str, **headers) -> httpx.Response:
    return client.post("/login", data={"username": name, "password": password}, headers=headers)


def healthz_latencies(base: str, n: int, stop: threading.Event | None = None) -> list[float]:
    out = []
    with httpx.Client(base_url=base, timeout=120) as client:
        while len(out) < n and not (stop is not None and stop.is_set() and len(out) >= 5):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            out.append(time.perf_counter() - started)
            time.sleep(0.02)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) >= 2 else values[0]


def flood(base: str, n: int = 40, at_once: int = 10, name: str = "dr_a") -> tuple[list[int], float]:
    """`n` wrong logins, `at_once` at a time, each from its own connection; (statuses, seconds)."""
    def one(_):
        with client_from(base) as client:
            return log_in(client, name, WRONG).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        statuses = list(pool.map(one, range(n)))
    return statuses, time.perf_counter() - started


@pytest.mark.slow
def test_wrong_logins_do_not_block_the_server(start_server, make_user):
    make_user("dr_a")
    delay_s = 1.0  # every failure waits this long; a blocked loop would make /healthz wait as long
    base = start_server(throttle=LoginThrottle(max_failures=5, window_s=60, delay_s=delay_s))
    baseline = healthz_latencies(base, 30)
    stop = threading.Event()
    during: list[float] = []
    prober = threading.Thread(target=lambda: during.extend(healthz_latencies(base, 10_000, stop)))
    prober.start()
    statuses, flood_s = flood(base)
    stop.set()
    prober.join()
    assert statuses == [400] * 40
    # Run in series (the old handler), 40 failures cost at least 40 delays; run concurrently
    # they overlap, 10 at a time (5 password checks, then throttled answers).
    assert flood_s < 40 * delay_s / 2
    # A blocked event loop makes a /healthz during the flood wait for whole failure delays;
    # here it only competes for CPU with the hashing.
    assert len(during) >= 20
    assert p99(during) < delay_s / 2, (p99(baseline), p99(during))
    assert max(during) < delay_s


def test_an_attacker_cannot_lock_a_physician_out(start_server, make_user):
    make_user("dr_a")
    base = start_server(throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.05))
    with client_from(base, "127.0.0.2") as attacker:
        for _ in range(6):
            assert log_in(attacker, "dr_a", WRONG).status_code == 400
        # the attacker's address is throttled for dr_a, even with the right password, and
        # claiming another address through X-Forwarded-For does not help (not a trusted proxy)
        refused = log_in(attacker, "dr_a", PASSWORD, **{"X-Forwarded-For": "127.0.0.9"})
        assert refused.status_code == 400 and "too many" in refused.json()["detail"]
        assert "retry-after" in refused.headers
    with client_from(base, "127.0.0.1") as physician:
        assert log_in(physician, "dr_a", PASSWORD).status_code == 200
        assert physician.get("/config").status_code == 200


def test_an_address_guessing_many_names_is_throttled_for_all(start_server, make_user):
    make_user("dr_a")
    make_user("dr_b")
    base = start_server(throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.01, max_address_failures=6))
    with client_from(base, "127.0.0.3") as attacker:
        for k in range(6):
            assert log_in(attacker, f"guess{k}", WRONG).status_code == 400
        assert "too many" in log_in(attacker, "dr_b", PASSWORD).json()["detail"]
        # signing in to one's own account elsewhere does not reset the address
        assert "too many" in log_in(attacker, "dr_a", PASSWORD).json()["detail"]
    with client_from(base, "127.0.0.1") as physician:
        assert log_in(physician, "dr_b", PASSWORD).status_code == 200


def test_own_typos_then_right_password_works(start_server, make_user):
    make_user("dr_a")
    base = start_server(throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.01))
    with client_from(base) as physician:
        for _ in range(2):
            assert log_in(physician, "dr_a", WRONG).status_code == 400
        assert log_in(physician, "dr_a", PASSWORD).status_code == 200
        # the success cleared this pair's count: two more typos are allowed again
        for _ in range(2):
            assert log_in(physician, "dr_a", WRONG).json()["detail"] == "Incorrect credentials."
        assert log_in(physician, "dr_a", PASSWORD).status_code == 200


def test_hashing_work_is_capped_across_addresses(start_server, make_user, monkeypatch):
    import app.login

    make_user("dr_a")
    checks: list[float] = []
    real_check = app.login._check_password

    def counted(*args):
        checks.append(time.monotonic())
        return real_check(*args)

    monkeypatch.setattr(app.login, "_check_password", counted)
    per_second, burst = 2.0, 2
    base = start_server(throttle=LoginThrottle(max_failures=100, window_s=60, delay_s=0.01),
                        budget=HashBudget(per_second=per_second, burst=burst, max_wait_s=1.0))

    def one(k):  # each guess from its own address, so no per-address throttle applies
        with client_from(base, f"127.0.1.{k + 1}") as client:
            return log_in(client, "dr_a", WRONG).json()["detail"]

    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        details = list(pool.map(one, range(30)))
    elapsed = time.monotonic() - started
    busy = details.count("the server is busy checking logins; try again in a few seconds")
    assert busy > 0 and busy + details.count("Incorrect credentials.") == 30
    assert len(checks) == 30 - busy
    assert len(checks) <= burst + per_second * elapsed + 1
    # the right password still gets in once the flood has passed
    time.sleep(1.0)
    with client_from(base) as physician:
        assert log_in(physician, "dr_a", PASSWORD).status_code == 200


def test_hash_budget_reserves_moments_and_refuses_beyond_the_wait():
    budget = HashBudget(per_second=2.0, burst=2, max_wait_s=1.0)
    waits = [budget.reserve() for _ in range(5)]
    assert waits[0] == 0 and waits[1] == 0
    assert waits[2] == pytest.approx(0.5, abs=0.05) and waits[3] == pytest.approx(1.0, abs=0.05)
    assert waits[4] is None


def test_throttle_counts_per_address_and_per_pair():
    throttle = LoginThrottle(max_failures=2, window_s=60, max_address_failures=3)
    assert throttle.attempt("dr_a", "10.0.0.1") and throttle.attempt("dr_a", "10.0.0.1")
    assert throttle.refused("dr_a", "10.0.0.1") and throttle.attempt("dr_a", "10.0.0.1") is None
    assert not throttle.refused("dr_a", "10.0.0.2") and not throttle.refused("dr_b", "10.0.0.1")
    stamp = throttle.attempt("dr_b", "10.0.0.1")
    assert throttle.refused("dr_c", "10.0.0.1")  # the address reached 3
    throttle.withdraw("dr_b", "10.0.0.1", stamp)  # never checked: not a failure
    assert not throttle.refused("dr_c", "10.0.0.1")
    stamp = throttle.attempt("dr_d", "10.0.0.1")
    throttle.succeeded("dr_d", "10.0.0.1", stamp)
    assert not throttle.refused("dr_d", "10.0.0.1")
    assert throttle.refused("dr_a", "10.0.0.1")  # a success elsewhere leaves dr_a's failures
    expired = LoginThrottle(max_failures=1, window_s=0.05)
    expired.attempt("dr_a", "10.0.0.1")
    time.sleep(0.1)
    assert not expired.refused("dr_a", "10.0.0.1")


def test_concurrent_guesses_get_no_further_than_sequential_ones(start_server, make_user, monkeypatch):
    import app.login

    make_user("dr_a")
    checks = []
    real_check = app.login._check_password
    monkeypatch.setattr(app.login, "_check_password", lambda *args: checks.append(1) or real_check(*args))
    base = start_server(throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.01))

    def guess(_):
        with client_from(base, "127.0.0.2") as attacker:
            return log_in(attacker, "dr_a", WRONG).status_code

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(guess, range(10))) == [400] * 10
    assert len(checks) == 3  # the password was checked 3 times, not 10


@pytest.mark.parametrize(("headers", "allowed"), [
    ({}, True),  # scripts send neither header; a browser always sends one on a POST
    ({"Origin": "{base}"}, True),
    ({"Referer": "{base}/"}, True),
    ({"Origin": "https://evil.example"}, False),
    ({"Origin": "null"}, False),
    ({"Referer": "https://evil.example/page"}, False),
    ({"Origin": "http://127.0.0.1:1"}, False),  # same host, other port: another origin
    ({"Origin": "{base}", "Sec-Fetch-Site": "cross-site"}, False),
])
def test_cross_origin_logins_are_refused(server, make_user, headers, allowed):
    make_user("dr_a")
    with client_from(server) as browser:
        response = log_in(browser, "dr_a", PASSWORD, **{k: v.format(base=server) for k, v in headers.items()})
        assert response.status_code == (200 if allowed else 403)
        assert (browser.get("/config").status_code == 200) is allowed
        if not allowed:
            assert "another site" in response.json()["detail"] and "set-cookie" not in response.headers


def test_login_cookies_are_same_site_lax(server, make_user):
    make_user("dr_a")
    with client_from(server) as browser:
        cookies = log_in(browser, "dr_a", PASSWORD).headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("samesite=lax" in c.lower() and "httponly" in c.lower() for c in cookies)


def test_unknown_names_and_odd_forms_get_the_same_clear_answer(server, make_user):
    make_user("dr_a")
    with client_from(server) as client:
        assert log_in(client, "nobody", WRONG).json()["detail"] == "Incorrect credentials."
        assert client.post("/login", data={"username": "dr_a"}).status_code == 400
        too_long = client.post("/login", data={"username": "dr_a", "password": "x" * 5000})
        assert too_long.status_code == 400 and "form fields" in too_long.json()["detail"]
        assert client.post("/login/", data={"username": "dr_a", "password": PASSWORD}).status_code == 200


def test_behind_the_tls_proxy_clients_are_told_apart_and_same_origin_still_works(start_server, make_user):
    """The proxy (on 127.0.0.1, trusted by uvicorn) passes the client address in X-Forwarded-For
    and the public host in Host, as SECURITY.md configures nginx."""
    make_user("dr_a")
    base = start_server(throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.01))
    public = {"Host": "judge.example.org", "X-Forwarded-Proto": "https"}
    with client_from(base) as proxy:
        for _ in range(4):
            log_in(proxy, "dr_a", WRONG, **public, **{"X-Forwarded-For": "203.0.113.5"})
        attacker = log_in(proxy, "dr_a", PASSWORD, **public, **{"X-Forwarded-For": "203.0.113.5"})
        assert "too many" in attacker.json()["detail"]
        physician = log_in(proxy, "dr_a", PASSWORD, **public, Origin="https://judge.example.org",
                           **{"X-Forwarded-For": "198.51.100.7"})
        assert physician.status_code == 200
        forged = log_in(proxy, "dr_a", PASSWORD, **public, Origin="https://evil.example",
                        **{"X-Forwarded-For": "198.51.100.7"})
        assert forged.status_code == 403


def test_a_login_past_the_bound_is_answered_busy_and_its_attempt_withdrawn(start_server, make_user, monkeypatch):
    import app.login

    make_user("dr_a")
    real_check = app.login._check_password

    def slow(*args):
        time.sleep(1.0)
        return real_check(*args)

    monkeypatch.setattr(app.login, "_check_password", slow)
    monkeypatch.setattr(app.login, "LOGIN_ANSWER_BOUND_S", 0.3)
    throttle = LoginThrottle(max_failures=1, window_s=60, delay_s=0.01)
    base = start_server(throttle=throttle)
    with client_from(base) as physician:
        started = time.monotonic()
        answer = log_in(physician, "dr_a", PASSWORD)
        assert answer.status_code == 503 and "busy" in answer.json()["detail"]
        assert time.monotonic() - started < 1.0  # answered at the bound, not after the slow check
        time.sleep(1.0)
        # the cut-off attempt was withdrawn: with max_failures=1 a counted one would refuse this
        monkeypatch.setattr(app.login, "LOGIN_ANSWER_BOUND_S", 8.0)
        assert log_in(physician, "dr_a", PASSWORD).status_code == 200


def test_hash_budget_gives_a_recently_failing_address_only_a_short_queue():
    budget = HashBudget(per_second=2.0, burst=1, max_wait_s=5.0)
    assert budget.reserve() == 0
    assert budget.reserve(0.9) == pytest.approx(0.5, abs=0.05)  # short queue: a suspect may join
    assert budget.reserve(0.9) is None  # 1 s away: refused to a suspect...
    assert budget.reserve() == pytest.approx(1.0, abs=0.05)  # ...kept for an address that has not failed
