""""Cannot judge" (skip), the physician's history and revising any judgment (issue 22), on SQLite
and PostgreSQL: a skip frees the unit's slot for another physician, is counted as done, and is
never a judgment; refused values leave the database as it was."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Judgment, Unit
from app.storage import AccessDenied, StorageError
from app.study_files import read_study_items
from evaluation.contract import SkipReason
from tests.app.conftest import PASSWORD, write_answers


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    return request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")


def _study(engine, tmp_path, *, n=4, overlap=1, gold=0, name="trial"):
    items = read_study_items(write_answers(tmp_path / f"{name}.jsonl", n), ("sft", "dpo"))
    gold_items = []
    if gold:
        path = tmp_path / f"{name}-gold.jsonl"
        path.write_text("".join(f'{{"id": "g{i}", "question": "Gold {i}?", "outputs": {{"sft": "Bad.", "dpo": "Good."}},'
                                f' "better": "dpo"}}\n' for i in range(gold)))
        gold_items = read_study_items(path, ("sft", "dpo"), gold=True)
    with storage.transaction(engine) as session:
        return storage.create_study(session, name=name, systems=("sft", "dpo"), items=items, gold_items=gold_items,
                                    overlap=overlap)


def _users(engine, *names):
    with storage.transaction(engine) as session:
        return [storage.add_user(session, name, "physician", PASSWORD) for name in names]


def _next(engine, study, user):
    with storage.transaction(engine) as session:
        return storage.next_assignment(session, study, user)


def _snapshot(engine):
    with storage.transaction(engine) as session:
        return ([(a.id, a.slot, a.skipped_reason, a.skipped_note, a.skipped_at) for a in
                 session.exec(select(Assignment).order_by(Assignment.id))],
                [(j.id, j.choice, j.revisions, j.rationale) for j in session.exec(select(Judgment).order_by(Judgment.id))])


def _work_through(engine, study, user, *, skip_every=0) -> list[Assignment]:
    done = []
    while (assignment := _next(engine, study, user)) is not None:
        with storage.transaction(engine) as session:
            if skip_every and len(done) % skip_every == 0:
                storage.skip_assignment(session, user, assignment.id, SkipReason.outside_expertise)
            else:
                storage.submit_judgment(session, user, assignment.id, choice="a")
        done.append(assignment)
    return done


def test_skip_frees_the_slot_for_another_physician(db, tmp_path):
    study = _study(db, tmp_path, n=4, overlap=1)
    first, second, third = _users(db, "dr1", "dr2", "dr3")
    mine = _next(db, study, first)
    with storage.transaction(db) as session:
        storage.skip_assignment(session, first, mine.id, "question_unclear")
        assert storage.open_assignment(session, study, first) is None  # a skip is not open work
        assert storage.progress(session, study, first).judged == 1  # done for this physician
    first_done = _work_through(db, study, first)
    assert mine.unit_id not in {a.unit_id for a in first_done}  # never given to them again
    assert len(first_done) == 3  # the other three units, all theirs at overlap 1
    second_done = _work_through(db, study, second)
    assert [a.unit_id for a in second_done] == [mine.unit_id]  # the freed slot goes to the next physician
    assert _work_through(db, study, third) == []  # overlap 1 holds: nothing left
    with storage.transaction(db) as session:
        counts = storage.study_counts(session, study)
        progress = {row["physician"]: row for row in storage.study_progress(session, study)}
        exported = storage.export_judgments(session, study)
    assert counts["judgments"] == 4 == len(exported)  # the skip is not a judgment
    assert progress["dr1"]["skipped"] == 1 and progress["dr1"]["judged"] == 3 and progress["dr2"]["skipped"] == 0


def test_overlap_holds_with_skips_and_gold_goes_to_everyone(db, tmp_path):
    study = _study(db, tmp_path, n=6, overlap=2, gold=2)
    users = _users(db, "dr1", "dr2", "dr3", "dr4")
    per_user = {u.name: _work_through(db, study, u, skip_every=3 if u.name in ("dr1", "dr2") else 0) for u in users}
    with storage.transaction(db) as session:
        rows = session.exec(select(Assignment, Judgment).outerjoin(Judgment, Judgment.assignment_id == Assignment.id)
                            .where(Assignment.study_id == study.id)).all()
        gold_units = set(session.exec(select(Unit.id).where(Unit.study_id == study.id, Unit.is_gold.is_(True))))
    judged = Counter(a.unit_id for a, j in rows if j is not None and a.unit_id not in gold_units)
    skipped = [a for a, _j in rows if a.skipped_reason]
    assert skipped and all(j is None for a, j in rows if a.skipped_reason)
    assert max(judged.values()) <= 2 and sum(judged.values()) == 12  # 6 units x overlap 2, skips refilled
    slots = Counter((a.unit_id, a.slot) for a, _j in rows)
    assert max(slots.values()) == 1
    for name, done in per_user.items():  # gold to everyone, each unit once per physician
        assert len({a.unit_id for a in done}) == len(done)
        assert {a.unit_id for a in done} >= gold_units, name
    assert len(gold_units) == 2

def test_gold_skip_is_recorded_and_not_given_again(db, tmp_path):
    study = _study(db, tmp_path, n=1, overlap=1, gold=1)
    (user,) = _users(db, "dr1")
    done = _work_through(db, study, user, skip_every=1)  # skips everything, gold included
    assert len(done) == 2
    with storage.transaction(db) as session:
        assert storage.next_assignment(session, study, user) is None
        assert storage.progress(session, study, user) == storage.Progress(judged=2, total=2)
        history = storage.judgment_history(session, user, study)
    assert {h.skipped_reason for h in history} == {"outside_expertise"} and all(h.summary is None for h in history)


def test_refused_skips_change_nothing(db, tmp_path):
    study = _study(db, tmp_path, n=3)
    owner, other = _users(db, "dr1", "dr2")
    assignment = _next(db, study, owner)
    before = _snapshot(db)
    refusals = [
        (other, assignment.id, "other", "not mine", AccessDenied, "not your assignment"),
        (owner, assignment.id, "too_tired", "", StorageError, "unknown reason"),
        (owner, assignment.id, "other", "  ", StorageError, "the note is empty"),
        (owner, assignment.id, "other", "x" * 1001, StorageError, "limit is 1,000"),
        (owner, assignment.id, "other", 5, StorageError, "must be text"),
        (owner, 10**6, "other", "gone", AccessDenied, "not your assignment"),
    ]
    for user, assignment_id, reason, note, error, message in refusals:
        with pytest.raises(error, match=message), storage.transaction(db) as session:
            storage.skip_assignment(session, user, assignment_id, reason, note)
    assert _snapshot(db) == before
    with storage.transaction(db) as session:
        storage.skip_assignment(session, owner, assignment.id, "other", "  the answer is cut off ")
    with storage.transaction(db) as session:
        storage.skip_assignment(session, owner, assignment.id, "other", "the answer is cut off")  # a retry: no-op
    after_skip = _snapshot(db)
    assert after_skip[0][0][2:4] == ("other", "the answer is cut off")
    for call, message in [
        (lambda s: storage.skip_assignment(s, owner, assignment.id, "question_unclear"), "already marked"),
        (lambda s: storage.submit_judgment(s, owner, assignment.id, choice="a"), "cannot judge"),
        (lambda s: storage.revise_judgment(s, owner, assignment.id, choice="a"), "not judged"),
    ]:
        with pytest.raises(StorageError, match=message), storage.transaction(db) as session:
            call(session)
    assert _snapshot(db) == after_skip
    judged = _next(db, study, owner)
    with storage.transaction(db) as session:
        storage.submit_judgment(session, owner, judged.id, choice="tie")
    with pytest.raises(StorageError, match="already judged"), storage.transaction(db) as session:
        storage.skip_assignment(session, owner, judged.id, "question_unclear")


def test_history_newest_first_and_revise_an_older_one(db, tmp_path):
    study = _study(db, tmp_path, n=4)
    owner, other = _users(db, "dr1", "dr2")
    done = _work_through(db, study, owner, skip_every=2)  # skip, judge, skip, judge
    with storage.transaction(db) as session:
        history = storage.judgment_history(session, owner, study)
        assert storage.judgment_history(session, other, study) == []
    assert [h.assignment_id for h in history] == [a.id for a in reversed(done)]
    assert [h.sequence for h in history] == [3, 2, 1, 0]
    assert [h.skipped_reason for h in history] == [None, "outside_expertise", None, "outside_expertise"]
    assert [h.summary for h in history] == ["a", None, "a", None] and all(h.question for h in history)
    oldest_judged = history[2].assignment_id
    with storage.transaction(db) as session:
        storage.revise_judgment(session, owner, oldest_judged, choice="both_bad", rationale="on reflection")
    with pytest.raises(AccessDenied), storage.transaction(db) as session:
        storage.revise_judgment(session, other, oldest_judged, choice="a")
    with pytest.raises(StorageError, match="choice"), storage.transaction(db) as session:
        storage.revise_judgment(session, owner, oldest_judged, choice="maybe")
    with storage.transaction(db) as session:
        revised = {h.assignment_id: h for h in storage.judgment_history(session, owner, study)}[oldest_judged]
        assert [h.assignment_id for h in storage.judgment_history(session, owner, study)] == [a.id for a in reversed(done)]
    assert revised.summary == "both_bad" and revised.revisions == 1


def test_already_judged_points_to_my_judgments(db, tmp_path):
    study = _study(db, tmp_path, n=2)
    (owner,) = _users(db, "dr1")
    assignment = _next(db, study, owner)
    with storage.transaction(db) as session:
        storage.submit_judgment(session, owner, assignment.id, choice="a")
    with pytest.raises(storage.AlreadyJudged, match="My judgments"), storage.transaction(db) as session:
        storage.submit_judgment(session, owner, assignment.id, choice="b")
