"""The same storage code on a real PostgreSQL server (started by the test itself)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Judgment
from app.study_files import read_pair_items
from tests.app.conftest import PASSWORD, write_answers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_concurrent_judging_on_postgres(pg_engine, tmp_path):
    engine = pg_engine
    items = read_pair_items(write_answers(tmp_path / "a.jsonl", 10), ("sft", "dpo"))
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="pg-trial", systems=("sft", "dpo"), items=items, overlap=2)
        users = [storage.add_user(session, f"pg{i}", "physician", PASSWORD) for i in range(5)]
    errors = []

    def work(user):
        try:
            while True:
                with storage.transaction(engine) as session:
                    assignment = storage.next_assignment(session, study, user)
                    if assignment is None:
                        return
                    storage.submit_judgment(session, user, assignment.id, "A better")
                    storage.submit_judgment(session, user, assignment.id, "B better")  # a replay stores nothing
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with storage.transaction(engine) as session:
        assignments = list(session.exec(select(Assignment)))
        judgments = list(session.exec(select(Judgment)))
        rows = storage.export_judgments(session, study)
    assert len(assignments) == len(judgments) == 20
    assert set(Counter(a.item_id for a in assignments).values()) == {2}
    assert len({(a.user_id, a.item_id) for a in assignments}) == 20
    assert all(r["choice"] == "A better" for r in rows)
