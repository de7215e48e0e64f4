"""The same storage code on a real PostgreSQL server (started by the test itself)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Judgment
from app.study_files import read_study_items
from tests.app.conftest import PASSWORD, write_answers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_concurrent_judging_on_postgres(pg_engine, tmp_path):
    engine = pg_engine
    items = read_study_items(write_answers(tmp_path / "a.jsonl", 10), ("sft", "dpo"))
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
                    storage.submit_judgment(session, user, assignment.id, choice="a")
                    storage.submit_judgment(session, user, assignment.id, choice="a")  # a replay stores nothing
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
    assert set(Counter(a.unit_id for a in assignments).values()) == {2}
    assert len({(a.user_id, a.unit_id) for a in assignments}) == 20
    assert all(r["choice"] == "a" for r in rows)


def test_three_systems_and_ratings_on_postgres(pg_engine, tmp_path):
    """Both kinds of study under concurrency, on the migrated PostgreSQL schema."""
    from evaluation.rubric import load_rubric
    from tests.app.test_study_kinds import RUBRIC, SYSTEMS, write_items

    (tmp_path / "rubric.yaml").write_text(RUBRIC)
    items = read_study_items(write_items(tmp_path / "three.jsonl", 6), SYSTEMS)
    with storage.transaction(pg_engine) as session:
        pairwise = storage.create_study(session, name="pg-three", systems=SYSTEMS, items=items, overlap=2)
        rating = storage.create_study(session, name="pg-grades", kind="rating", systems=SYSTEMS, items=items,
                                      rubric=load_rubric(tmp_path / "rubric.yaml"), overlap=2)
        users = [storage.add_user(session, f"pgk{i}", "physician", PASSWORD) for i in range(4)]
    errors = []

    def work(user):
        try:
            for study, fields in ((pairwise, {"choice": "tie"}), (rating, {"ratings": {"quality": 4, "harmful": 0}})):
                while True:
                    with storage.transaction(pg_engine) as session:
                        assignment = storage.next_assignment(session, study, user)
                        if assignment is None:
                            break
                        storage.submit_judgment(session, user, assignment.id, **fields)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with storage.transaction(pg_engine) as session:
        assignments = list(session.exec(select(Assignment)))
        counts = {s.name: storage.study_counts(session, s) for s in (pairwise, rating)}
    assert set(Counter(a.unit_id for a in assignments).values()) == {2}
    assert counts["pg-three"]["judgments"] == 18 * 2 and counts["pg-grades"]["judgments"] == 18 * 2
