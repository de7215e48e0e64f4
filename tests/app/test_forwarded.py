"""`medalign serve` believes X-Forwarded-For only from proxies named with --forwarded-allow-ips
(default none, not even loopback; issue 23): spoofed failures cannot lock a physician out of
their real address. A real server process on loopback; the positive control names the proxy."""

from __future__ import annotations

import httpx
import pytest

from app import storage
from app.db import open_database
from tests.app.conftest import PASSWORD

pytestmark = pytest.mark.slow


def _server(tmp_path, *extra):
    from medalign.testing.load import ServerProcess, free_port

    class Serve(ServerProcess):
        def argv(self) -> list[str]:
            return [*super().argv(), *extra]

    db_url = f"sqlite:///{tmp_path / 'forwarded.db'}"
    with storage.transaction(open_database(db_url)) as session:
        storage.add_user(session, "dr_a", "physician", PASSWORD)
    return Serve(db_url, free_port(), tmp_path / "serve.log")


def _spoof_then_log_in(url: str) -> int:
    """Six wrong passwords from 127.0.0.1 claiming to be 127.0.0.2, then dr_a's right password
    from 127.0.0.2 itself."""
    with httpx.Client(base_url=url, timeout=60) as attacker:
        for _ in range(6):
            attacker.post("/login", data={"username": "dr_a", "password": "wrong-guess"},
                          headers={"X-Forwarded-For": "127.0.0.2"})
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, timeout=60, transport=transport) as physician:
        return physician.post("/login", data={"username": "dr_a", "password": PASSWORD}).status_code


@pytest.mark.parametrize(("extra", "physician_gets_in"), [((), True), (("--forwarded-allow-ips", "127.0.0.1"), False)])
def test_forwarded_for_only_from_named_proxies(tmp_path, extra, physician_gets_in):
    server = _server(tmp_path, *extra)
    server.start()
    try:
        status = _spoof_then_log_in(server.url)
    finally:
        server.stop()
    # default: the header is ignored, the failures count against 127.0.0.1 and the physician gets in;
    # with 127.0.0.1 named as the proxy, the same header is believed (so the test can tell)
    assert (status == 200) is physician_gets_in, status
