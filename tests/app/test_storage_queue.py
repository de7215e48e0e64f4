"""Why the load test (tests/app/test_load.py) once acknowledged 47 of 48 judgments, replayed at
storage level on SQLite and PostgreSQL without a server: its study had exactly as many slots as
physicians x (judgments + 1 open unit). A physician never gets a unit twice, so one who comes
last (after a restart, a slow reconnect) can find the last free slots all on units they already
hold and is told "all done" one judgment early; the others each hold one open unit they never
judge (they stop after their judgments). The storage is right to say so (before and after the
issue-26 rewrite of the queue); the load test now sizes its study for any order of requests
(medalign.testing.load.study_items)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Judgment, Unit
from evaluation.rubric import load_rubric
from medalign.testing.load import RUBRIC, setup_database, study_items

PHYSICIANS, JUDGMENTS, OVERLAP = 8, 6, 2
LAST = "doc004"  # with study seed 0 and user ids 1..8, the physician whose late turn runs short


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    return request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")


def _verdict(kind: str) -> dict:
    if kind == "rating":
        return {"ratings": {c.id: c.options()[0][0] for c in load_rubric(RUBRIC).criteria}}
    return {"choice": "a"}


def _step(engine, name: str, current: int | None, kind: str) -> int | None:
    """One screen, as app/ui/screen.py makes it: submit the unit on screen (if any), then the
    next unit (None: "all done"), in one transaction."""
    with storage.transaction(engine) as session:
        user, study = storage.get_user(session, name), storage.get_study(session, "load")
        if current is not None:
            storage.submit_judgment(session, user, current, **_verdict(kind))
        assignment = storage.next_assignment(session, study, user)
        if assignment is None:
            return None
        storage.show_unit(session, user, assignment.id)
        return assignment.id


def _last_comes_late(engine, kind: str, last: str) -> Counter:
    """Every physician but `last` judges in turn until done; then `last` judges alone. Judgments per physician."""
    names = [f"doc{p:03d}" for p in range(PHYSICIANS)]
    current, judged, active, turn = {}, Counter(), list(names), 0
    while active:
        others = [n for n in active if n != last]
        turn += bool(others)
        name = others[turn % len(others)] if others else last
        if name in current:
            judged[name] += 1
        current[name] = _step(engine, name, current.get(name), kind)
        if current[name] is None or judged[name] == JUDGMENTS:
            active.remove(name)
    return judged


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("kind", ["rating", "pairwise"])
def test_a_late_physician_finds_the_last_free_slots_on_units_they_hold(db, kind):
    answers = 2 if kind == "rating" else 1
    items = -(-PHYSICIANS * (JUDGMENTS + 1) // (OVERLAP * answers))  # the old size: slots counted only
    setup_database(_url(db), PHYSICIANS, items, OVERLAP, kind)
    judged = _last_comes_late(db, kind, LAST)
    assert judged[LAST] == JUDGMENTS - 1 and all(judged[f"doc{p:03d}"] == JUDGMENTS for p in range(PHYSICIANS)
                                                 if f"doc{p:03d}" != LAST)
    with storage.transaction(db) as session:
        rows = session.exec(select(Assignment, Judgment).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)).all()
        last_id = storage.get_user(session, LAST).id
        units = session.exec(select(Unit.id)).all()
    open_by_user = Counter(a.user_id for a, j in rows if j is None and a.skipped_reason is None)
    assert open_by_user[last_id] == 0 and sorted(open_by_user.values()) == [1] * (PHYSICIANS - 1)  # no orphans
    taken = Counter(a.unit_id for a, _j in rows if a.slot >= 0)
    free = {unit for unit in units if taken[unit] < OVERLAP}
    assert free  # slots were left, but...
    assert free <= {a.unit_id for a, _j in rows if a.user_id == last_id}  # ...all on units the late one holds


@pytest.mark.parametrize("kind", ["rating", "pairwise"])
def test_the_load_test_study_leaves_a_late_physician_all_their_judgments(db, kind):
    setup_database(_url(db), PHYSICIANS, study_items(PHYSICIANS, JUDGMENTS, OVERLAP, kind), OVERLAP, kind)
    judged = _last_comes_late(db, kind, LAST)
    assert [judged[f"doc{p:03d}"] for p in range(PHYSICIANS)] == [JUDGMENTS] * PHYSICIANS
    with storage.transaction(db) as session:
        slots = Counter(a.unit_id for a in session.exec(select(Assignment)) if a.slot >= 0)
    assert max(slots.values()) == OVERLAP  # the overlap limit was still reached, so still tested
