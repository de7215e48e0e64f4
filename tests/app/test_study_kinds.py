"""Several systems in one pairwise study, and rating studies, at the storage level."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict

import pytest
from sqlmodel import select

from app import storage
from app.models import Assignment, Unit
from app.storage import StorageError
from app.study_files import read_study_items
from evaluation.rubric import load_rubric
from tests.app.conftest import RUBRIC
from training.feedback import feedback_pairs

SYSTEMS = ("base", "sft", "dpo")


def write_items(path, n, systems=SYSTEMS):
    path.write_text("".join(json.dumps({
        "id": f"q{i}", "question": f"Question {i}?", "context": "", "reference": f"Gold {i}.",
        "outputs": {s: f"{s} answer {i}." for s in systems}}) + "\n" for i in range(n)))
    return path


@pytest.fixture
def three_system_study(engine, tmp_path):
    def make(n=6, overlap=1, pairs=None, name="three"):
        items = read_study_items(write_items(tmp_path / f"{name}.jsonl", n), SYSTEMS)
        with storage.transaction(engine) as session:
            comparisons = storage.parse_comparisons(pairs, list(SYSTEMS))
            return storage.create_study(session, name=name, systems=SYSTEMS, comparisons=comparisons, items=items,
                                        overlap=overlap)
    return make


@pytest.fixture
def rating_study(engine, tmp_path):
    def make(n=5, overlap=1, systems=("sft", "dpo"), name="grading"):
        (tmp_path / "rubric.yaml").write_text(RUBRIC)
        items = read_study_items(write_items(tmp_path / f"{name}.jsonl", n, systems), systems)
        with storage.transaction(engine) as session:
            return storage.create_study(session, name=name, kind="rating", systems=systems, items=items,
                                        rubric=load_rubric(tmp_path / "rubric.yaml"), overlap=overlap)
    return make


def work_through(engine, study, user, judge) -> list[tuple[Assignment, storage.WorkView]]:
    seen = []
    while True:
        with storage.transaction(engine) as session:
            assignment = storage.next_assignment(session, study, user)
            if assignment is None:
                return seen
            view = storage.show_unit(session, user, assignment.id)
            storage.submit_judgment(session, user, assignment.id, **judge(view))
            seen.append((assignment, view))


def test_every_pair_of_three_systems_is_compared_once_per_overlap(engine, three_system_study, make_user):
    study = three_system_study(n=6, overlap=2)
    users = [make_user(f"dr{i}") for i in range(3)]
    done = {u.name: work_through(engine, study, u, lambda v: {"choice": "a"}) for u in users}
    with storage.transaction(engine) as session:
        units = {u.id: u for u in session.exec(select(Unit))}
        rows = storage.export_judgments(session, study)
    assert Counter(u.comparison for u in units.values()) == {"base:sft": 6, "base:dpo": 6, "sft:dpo": 6}
    per_unit = Counter(a.unit_id for pairs in done.values() for a, _ in pairs)
    assert set(per_unit.values()) == {2} and len(per_unit) == 18
    for pairs in done.values():
        assert len({a.unit_id for a, _ in pairs}) == len(pairs)  # never the same comparison twice
    assert {frozenset((r["system_a"], r["system_b"])) for r in rows} == {
        frozenset(p) for p in (("base", "sft"), ("base", "dpo"), ("sft", "dpo"))}
    assert all(r["preferred_system"] == r["system_a"] for r in rows)


def test_named_pairs_only(engine, three_system_study):
    study = three_system_study(n=4, pairs="sft:dpo,base:dpo")
    with storage.transaction(engine) as session:
        assert storage.study_comparisons(session, study) == ["base:dpo", "sft:dpo"]
    for bad in ("sft:sft", "sft:gpt", "sft:dpo,dpo:sft", "sft"):
        with pytest.raises(StorageError):
            storage.parse_comparisons(bad, list(SYSTEMS))


def test_sides_balanced_per_comparison_and_not_predictable(engine, three_system_study, make_user):
    study = three_system_study(n=20)
    sequences = []
    for i in range(4):
        study_i = study if i == 0 else three_system_study(n=20, name=f"three{i}")
        user = make_user(f"side{i}")
        done = work_through(engine, study_i, user, lambda v: {"choice": "tie"})
        by_comparison = defaultdict(list)
        with storage.transaction(engine) as session:
            for assignment, _ in done:
                by_comparison[session.get(Unit, assignment.unit_id).comparison].append(assignment.left_system)
        for sides in by_comparison.values():
            assert abs(sides.count(1) - sides.count(2)) <= 1
            sequences.append(sides)
    # Alternating placement would make every second side certain; a shuffle repeats sides often.
    repeats = sum(s[k] == s[k + 1] for s in sequences for k in range(0, len(s) - 1, 2))
    assert repeats >= 5


def test_the_same_item_never_comes_twice_in_a_row(engine, rating_study, three_system_study, make_user):
    for study, judge in ((rating_study(n=6, systems=SYSTEMS), lambda v: {"ratings": {"quality": 3, "harmful": 0}}),
                         (three_system_study(n=6, name="three-b"), lambda v: {"choice": "b"})):
        user = make_user(f"order-{study.name}")
        done = work_through(engine, study, user, judge)
        with storage.transaction(engine) as session:
            items = [session.get(Unit, a.unit_id).item_id for a, _ in done]
        assert len(items) == 18
        assert sum(items[k] == items[k + 1] for k in range(len(items) - 2)) == 0


def test_rating_study_blinds_validates_and_exports(engine, rating_study, make_user):
    study = rating_study(n=3)
    user = make_user("rater")
    with storage.transaction(engine) as session:
        assignment = storage.next_assignment(session, study, user)
        view = storage.show_unit(session, user, assignment.id)
        assert view.answer_b is None and view.kind == "rating"
        for ratings, message in (({"harmful": 0}, "'quality' needs an answer"), ({"quality": 6, "harmful": 0}, "not one of"),
                                 ({"quality": True, "harmful": 0}, "not one of"), ({"quality": 3, "harmful": 0, "x": 1}, "unknown")):
            with pytest.raises(StorageError, match=message):
                storage.submit_judgment(session, user, assignment.id, ratings=ratings)
        storage.submit_judgment(session, user, assignment.id, ratings={"quality": 4, "harmful": 0, "style": "terse"},
                                rationale="clear")
    done = work_through(engine, study, user, lambda v: {"ratings": {"quality": 5 if "dpo" in v.answer_a else 2,
                                                                    "harmful": 0}})
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
        settings = storage.study_settings(session, study)
    assert len(done) == 5 and settings["kind"] == "rating" and settings["units"] == 6
    assert len(rows) == 6 * 2 + 1  # quality and harmful each time, style once
    first = [r for r in rows if r["criterion"] == "style"][0]
    assert first["value"] == "terse" and first["scale"] == "choice" and first["rationale"] == "clear"
    quality = [r for r in rows if r["criterion"] == "quality"]
    assert all(r["scale"] == "likert-5" and r["answer"].startswith(r["system"]) for r in quality)


def test_ratings_become_dpo_pairs(engine, rating_study, make_user):
    study = rating_study(n=4)
    user = make_user("rater")
    work_through(engine, study, user, lambda v: {"ratings": {"quality": 5 if "dpo" in v.answer_a else 3, "harmful": 0}})
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
    rubric = storage.study_rubric(study)  # the direction of each criterion (issue 24)
    result = feedback_pairs(rows, criterion="quality", margin=2, rubric=rubric)
    assert len(result.pairs) == 4 and {p["chosen_system"] for p in result.pairs} == {"dpo"}
    assert all(p["chosen"].startswith("dpo") and p["rejected"].startswith("sft") for p in result.pairs)
    assert feedback_pairs(rows, criterion="quality", margin=2.5, rubric=rubric).pairs == []
    with pytest.raises(ValueError, match="criterion"):
        feedback_pairs(rows)


def test_rating_study_needs_a_rubric_and_no_gold(engine, tmp_path):
    items = read_study_items(write_items(tmp_path / "x.jsonl", 2, ("dpo",)), ("dpo",))
    with storage.transaction(engine) as session, pytest.raises(StorageError, match="needs a rubric"):
        storage.create_study(session, name="x", kind="rating", systems=("dpo",), items=items)


def test_concurrent_raters_never_exceed_overlap(engine, rating_study, make_user):
    study = rating_study(n=6, overlap=2)
    users = [make_user(f"c{i}") for i in range(5)]
    errors = []

    def work(user):
        try:
            work_through(engine, study, user, lambda v: {"ratings": {"quality": 3, "harmful": 1}})
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with storage.transaction(engine) as session:
        assignments = list(session.exec(select(Assignment)))
    assert Counter(Counter(a.unit_id for a in assignments).values()) == {2: 12}


def test_one_orientation_and_one_check_from_the_screen_to_the_report(engine, three_system_study, make_user,
                                                                      monkeypatch, tmp_path):
    """The physician always prefers the left answer and flags it evasive: whichever stored slot was
    on the left, the export and the report see `a` (left) preferred and flagged. The study's own
    rows reach the report without a second parse or column check; an export of them, read back
    through the parser, gives the same numbers."""
    import dataclasses

    from app.exports import write_export
    from evaluation import kinds, table
    from evaluation.judgments import read_for_report

    study = three_system_study(n=4)
    user = make_user("dr_left")
    done = work_through(engine, study, user, lambda v: {"choice": "a", "evasive_a": True})
    assert {a.left_system for a, _ in done} == {1, 2}  # both placements occur
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, study)
        settings = storage.study_settings(session, study)
        assert all(storage.judgment_as_shown(session, user, a.id)["evasive_a"] for a, _ in done)
    assert all(r["preferred_system"] == r["system_a"] and r["evasive_a"] and not r["evasive_b"] for r in rows)

    def parsed_again(*_args, **_kwargs):
        raise AssertionError("a stored judgment was parsed again")

    checks = []
    encode = table.from_arrow
    monkeypatch.setattr(table, "from_arrow", lambda arrow, check=True: checks.append(check) or encode(arrow, check=check))
    monkeypatch.setitem(kinds.KINDS, "pairwise", dataclasses.replace(kinds.KINDS["pairwise"], parse_row=parsed_again))
    from_study = kinds.get_kind(settings["kind"]).write_report(rows, settings, tmp_path / "study", target="dpo")
    assert checks == [False]
    monkeypatch.undo()

    export = tmp_path / "judgments.jsonl"
    write_export(rows, "jsonl", export, settings["kind"])
    kind, judged = read_for_report(export)
    kind.write_report(judged, settings, tmp_path / "file", target="dpo")
    study_summary = json.loads(next(p for p in from_study if p.name == "summary.json").read_text())
    file_summary = json.loads((tmp_path / "file" / "summary.json").read_text())
    assert study_summary["counts"] == file_summary["counts"] and study_summary["win_rate"] == file_summary["win_rate"]
    assert study_summary["counts"]["judgments"] == len(rows) == 12
