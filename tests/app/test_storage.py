"""Assignment, blinding data, idempotency, revision, resume and roles, on a real SQLite file."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Judgment, PhysicianOrder, Role
from app.storage import AccessDenied, StorageError
from app.study_files import read_study_items
from tests.app.conftest import write_answers


def judge_all(engine, study, user, choice="b"):
    done = []
    while True:
        with storage.transaction(engine) as session:
            assignment = storage.next_assignment(session, study, user)
            if assignment is None:
                return done
            storage.submit_judgment(session, user, assignment.id, choice=choice)
            done.append(assignment)


def test_users_and_passwords(engine, make_user):
    make_user("dr_a")
    with storage.transaction(engine) as session:
        user = storage.get_user(session, "dr_a")
        assert user.password_hash.startswith("$argon2id$") and "correct-horse" not in user.password_hash
        assert storage.authenticate(session, "dr_a", "correct-horse-battery") is not None
        assert storage.authenticate(session, "dr_a", "wrong-password") is None
        with pytest.raises(StorageError, match="already exists"):
            storage.add_user(session, "dr_a", "physician", "another-password")
        with pytest.raises(ValueError, match="at least 8"):
            storage.set_password(session, "dr_a", "short")
        storage.set_disabled(session, "dr_a")
        assert storage.authenticate(session, "dr_a", "correct-horse-battery") is None


def test_each_physician_judges_each_item_once_and_overlap_holds(engine, make_study, make_user):
    study = make_study(n=10, overlap=2)
    users = [make_user(f"dr{i}") for i in range(3)]
    per_user = {u.name: judge_all(engine, study, u) for u in users}
    per_item = Counter(a.unit_id for assignments in per_user.values() for a in assignments)
    assert sum(per_item.values()) == 20  # 10 items x overlap 2, nobody more
    assert set(per_item.values()) == {2}
    for assignments in per_user.values():
        assert len({a.unit_id for a in assignments}) == len(assignments)


def test_orders_are_seeded_per_physician_and_stored(engine, make_study, make_user):
    study = make_study(n=12, overlap=2)
    a, b = make_user("a"), make_user("b")
    with storage.transaction(engine) as session:
        first_a = storage.next_assignment(session, study, a)
        first_b = storage.next_assignment(session, study, b)
        orders = {o.user_id: o for o in session.exec(select(PhysicianOrder))}
    assert orders[a.id].unit_order != orders[b.id].unit_order  # own random order
    assert first_a.unit_id == __import__("json").loads(orders[a.id].unit_order)[0]
    assert first_b.unit_id == __import__("json").loads(orders[b.id].unit_order)[0]


def test_sides_balanced_per_physician(engine, make_study, make_user):
    study = make_study(n=15)
    user = make_user("a")
    assignments = judge_all(engine, study, user)
    sides = Counter(a.left_system for a in assignments)
    assert abs(sides[1] - sides[2]) <= 1
    assert len({a.left_system for a in assignments[:4]}) == 2 or len(assignments) < 4


def test_concurrent_physicians_never_exceed_overlap(engine, make_study, make_user):
    study = make_study(n=8, overlap=2)
    users = [make_user(f"c{i}") for i in range(6)]
    errors = []

    def work(user):
        try:
            judge_all(engine, study, user)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with storage.transaction(engine) as session:
        assignments = list(session.exec(select(Assignment)))
        judgments = list(session.exec(select(Judgment)))
    assert Counter(a.unit_id for a in assignments) == Counter({i: 2 for i in {a.unit_id for a in assignments}})
    assert len(assignments) == 16 and len(judgments) == 16
    assert len({(a.user_id, a.unit_id) for a in assignments}) == 16


def test_submit_is_idempotent_and_preference_is_derived(engine, make_study, make_user):
    study = make_study(n=2)
    user = make_user("a")
    with storage.transaction(engine) as session:
        assignment = storage.next_assignment(session, study, user)
        judgment, created = storage.submit_judgment(session, user, assignment.id, choice="a", evasive_b=True)
        again, created_again = storage.submit_judgment(session, user, assignment.id, choice="a", evasive_b=True)
        with pytest.raises(storage.AlreadyJudged) as refused:  # a different verdict is never silently dropped
            storage.submit_judgment(session, user, assignment.id, choice="b")
        view = storage.show_unit(session, user, assignment.id)
    assert refused.value.judgment.choice == "a"
    assert created and not created_again and again.id == judgment.id and again.choice == "a"
    assert judgment.preferred_system == ("sft" if view.answer_a.startswith("SFT") else "dpo")
    right = 3 - assignment.left_system
    assert (judgment.evasive_1, judgment.evasive_2)[right - 1] is True
    assert judgment.time_on_task_ms >= 0 and judgment.app_version
    with storage.transaction(engine) as session:
        assert len(list(session.exec(select(Judgment)))) == 1


@pytest.mark.parametrize("fields, message", [
    ({"choice": "A better"}, "choice must be one of"),
    ({"choice": "a", "evasive_a": "yes"}, "true or false"),
    ({"choice": "a", "rationale": ["list"]}, "must be text"),
    ({"choice": "a", "rationale": "x" * 5001}, "limit is 5,000"),
])
def test_submit_refuses_wrong_types_and_sizes(engine, make_study, make_user, fields, message):
    study = make_study(n=1)
    user = make_user("a")
    with storage.transaction(engine) as session:
        assignment = storage.next_assignment(session, study, user)
        with pytest.raises(StorageError, match=message):
            storage.submit_judgment(session, user, assignment.id, **fields)


def test_revise_any_judgment(engine, make_study, make_user):
    study = make_study(n=3)
    user = make_user("a")
    first, second, third = judge_all(engine, study, user, choice="tie")
    with storage.transaction(engine) as session:
        revised = storage.revise_judgment(session, user, first.id, choice="a", rationale="changed my mind")
        again = storage.revise_judgment(session, user, first.id, choice="b")
        assert storage.last_judged_assignment(session, study, user).id == third.id  # kept for callers
    assert again.revisions == 2 and again.choice == "b" and revised.id == again.id
    with storage.transaction(engine) as session:
        stored = {j.assignment_id: j for j in session.exec(select(Judgment))}
    assert stored[first.id].choice == "b" and stored[first.id].revisions == 2 and stored[first.id].rationale == ""
    assert stored[second.id].revisions == 0 and stored[second.id].choice == "tie"


def test_resume_returns_the_same_open_assignment(engine, make_study, make_user):
    study = make_study(n=4)
    user = make_user("a")
    with storage.transaction(engine) as session:
        opened = storage.next_assignment(session, study, user)
    with storage.transaction(engine) as session:  # e.g. after logout, a closed tab, a restart
        assert storage.next_assignment(session, study, user).id == opened.id


def test_others_cannot_touch_an_assignment(engine, make_study, make_user):
    study = make_study(n=2)
    a, b = make_user("a"), make_user("b")
    make_user("boss", "researcher")
    with storage.transaction(engine) as session:
        assignment = storage.next_assignment(session, study, a)
        with pytest.raises(AccessDenied):
            storage.submit_judgment(session, b, assignment.id, choice="a")
        with pytest.raises(AccessDenied):
            storage.show_unit(session, b, assignment.id)
        with pytest.raises(AccessDenied, match="researcher"):
            storage.require_role(session, "a", Role.researcher)
        with pytest.raises(AccessDenied, match="not logged in"):
            storage.require_role(session, None, None)
        with pytest.raises(AccessDenied, match="only physicians"):
            storage.next_assignment(session, study, storage.get_user(session, "boss"))


def test_gold_items_go_to_everyone_and_accuracy_is_recorded(engine, make_study, make_user):
    study = make_study(n=4, overlap=1, gold=2)
    a, b = make_user("a"), make_user("b")
    judge_all(engine, study, a, choice="a")
    judge_all(engine, study, b, choice="a")
    with storage.transaction(engine) as session:
        progress = {row["physician"]: row for row in storage.study_progress(session, study)}
        rows = storage.export_judgments(session, study)
    assert progress["a"]["gold_judged"] == 2 and progress["b"]["gold_judged"] == 2
    assert progress["a"]["judged"] + progress["b"]["judged"] == 4 + 4
    gold_rows = [r for r in rows if r["is_gold"]]
    expected = sum(r["preferred_system"] == "dpo" for r in gold_rows if r["rater"] == "a") / 2
    assert progress["a"]["gold_accuracy"] == expected


def test_export_reveals_systems_in_screen_orientation(engine, make_study, make_user):
    study = make_study(n=3)
    user = make_user("a")
    judge_all(engine, study, user, choice="a")
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    assert len(rows) == 3
    for row in rows:
        assert row["preferred_system"] == row["system_a"]
        assert {row["system_a"], row["system_b"]} == {"sft", "dpo"}
        assert row["answer_a"].startswith("SFT" if row["system_a"] == "sft" else "DPO")


def test_study_name_and_duplicates(engine, make_study):
    make_study(name="trial")
    with pytest.raises(StorageError, match="already exists"):
        make_study(name="trial")


@pytest.mark.parametrize("name", ["DPO-vs-baseline", "d\u200bpo round", "ＤＰＯ trial"])
def test_study_name_must_not_reveal_systems(make_study, name):
    with pytest.raises(StorageError, match="reveals the system name 'dpo'|invisible"):
        make_study(name=name)


@pytest.mark.parametrize("name", ["", " ", "a/b", "x" * 101])
def test_study_names_refused(engine, tmp_path, name):
    items = read_study_items(write_answers(tmp_path / "a.jsonl", 2), ("sft", "dpo"))
    with storage.transaction(engine) as session, pytest.raises(StorageError, match="study name"):
        storage.create_study(session, name=name, systems=("sft", "dpo"), items=items)


def test_look_alike_user_names_refused(engine, make_user):
    make_user("drA")
    for twin in ("dra", "drＡ", "dr\u200bA"):
        with storage.transaction(engine) as session, pytest.raises(StorageError):
            storage.add_user(session, twin, "physician", "correct-horse-battery")


def test_password_change_and_disable_mark_credentials(engine, make_user):
    make_user("dr_b")
    with storage.transaction(engine) as session:
        assert storage.get_user(session, "dr_b").credentials_changed_at is None
        storage.set_password(session, "dr_b", "another-long-password")
        changed = storage.get_user(session, "dr_b").credentials_changed_at
        storage.set_disabled(session, "dr_b")
        assert changed is not None and storage.get_user(session, "dr_b").credentials_changed_at >= changed
