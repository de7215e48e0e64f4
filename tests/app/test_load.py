"""Scaled-down runs of the load test (medalign/testing/load.py; bench/loadtest.py runs it in full,
figures in bench/RESULTS.md): concurrent physicians against a real server process, killed with SIGKILL halfway and restarted, for a
pairwise and a rating study."""

from __future__ import annotations

import pytest

from medalign.testing.load import run

pytestmark = pytest.mark.slow


def check(result: dict, physicians: int, judgments: int) -> None:
    assert result["unfinished_clients"] == 0 and result["client_errors"] == []
    assert result["acknowledged"] == physicians * judgments
    assert result["lost"] == 0 and result["duplicated"] == 0 and result["stored_with_other_values"] == 0
    assert result["stored"] >= result["acknowledged"]
    assert result["units_over_overlap"] == 0 and result["physicians_seeing_a_unit_twice"] == 0
    assert result["units_at_overlap"] >= result["items"] // 2  # the limit was reached: the check above tested it


@pytest.mark.parametrize("kind", ["pairwise", "rating"])
def test_concurrent_physicians_with_a_killed_server_sqlite(tmp_path, kind):
    result = run(f"sqlite:///{tmp_path / 'load.db'}", physicians=8, judgments=6, overlap=2, crash=True,
                 pause=(0.05, 0.2), workdir=tmp_path, timeout=240, kind=kind)
    check(result, 8, 6)
    assert result["kind"] == kind
    assert result["crash"]["acknowledged_before_kill"] >= 24
    assert result["retries"] >= 1  # some submissions met the kill and were retried


@pytest.mark.postgres
def test_concurrent_physicians_with_a_killed_server_postgres(tmp_path, pg_engine):
    url = pg_engine.url.render_as_string(hide_password=False)  # pg_engine empties the database afterwards
    result = run(url, physicians=8, judgments=6, overlap=2, crash=True, pause=(0.05, 0.2), workdir=tmp_path,
                 timeout=240, kind="rating")
    check(result, 8, 6)
