"""Upgrading a database made by an older schema keeps its judgments."""

import json

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app import storage
from app.db import MIGRATIONS, make_engine, upgrade
from app.study_files import read_study_items
from tests.app.conftest import PASSWORD, write_answers

CHOICES_0002 = ["a_better", "b_better", "tie", "both_bad", "a_better"]


def _at(engine, revision: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return config


def _fill_0002(engine) -> None:
    """Two physicians, five items (one gold), each judged as the 0002 schema stored it."""
    with engine.begin() as c:
        for name in ("dr1", "dr2"):
            c.execute(text("INSERT INTO user (name, role, password_hash, disabled, simulated, created_at) "
                           f"VALUES ('{name}', 'physician', 'x', 0, 0, '2026-01-01')"))
        c.execute(text("INSERT INTO study (name, system_1, system_2, overlap, seed, guidelines, source_name, "
                       "source_sha256, created_at) VALUES ('s', 'sft', 'dpo', 2, 0, '', '', '', '2026-01-01')"))
        for i in range(5):
            gold = i == 4
            c.execute(text("INSERT INTO item (study_id, external_id, position, question, context, answer_1, answer_2, "
                           "is_gold, gold_better) VALUES (1, :e, :p, 'Q?', '', :a1, :a2, :g, :gb)"),
                      {"e": f"q{i}", "p": i, "a1": f"sft answer {i}", "a2": f"dpo answer {i}", "g": gold,
                       "gb": 2 if gold else None})
        c.execute(text("INSERT INTO physicianorder (study_id, user_id, seed, item_order, created_at) "
                       "VALUES (1, 1, 7, '[5, 4, 3, 2, 1]', '2026-01-01')"))
        for i in range(5):
            c.execute(text("INSERT INTO assignment (study_id, user_id, item_id, slot, sequence, left_system, token, "
                           "created_at, shown_at) VALUES (1, 1, :item, :slot, :seq, :left, :tok, '2026-01-01', "
                           "'2026-01-01')"),
                      {"item": 5 - i, "slot": -1 if i == 0 else 0, "seq": i, "left": 1 + i % 2, "tok": f"tok{i}"})
            c.execute(text("INSERT INTO judgment (assignment_id, choice, preferred_system, evasive_1, evasive_2, "
                           "rationale, time_on_task_ms, revisions, app_version, created_at, updated_at) VALUES "
                           "(:a, :c, :p, :e, 0, 'why', 5, 0, '0.0.1', '2026-01-0' || :d, '2026-01-01')"),
                      {"a": i + 1, "c": CHOICES_0002[i], "e": i == 2, "d": str(i + 1),
                       "p": {"a_better": ("sft", "dpo")[i % 2], "b_better": ("dpo", "sft")[i % 2]}.get(CHOICES_0002[i])})


def test_upgrade_from_0002_keeps_every_judgment(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _at(engine, "0002")
    _fill_0002(engine)
    upgrade(engine)
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "s")
        rows = storage.export_judgments(session, study)
        order = json.loads(session.exec(text("SELECT unit_order FROM physicianorder")).one()[0])
        progress = storage.study_progress(session, study)
        tokens = [r[0] for r in session.exec(text("SELECT token FROM assignment ORDER BY sequence"))]
        assert storage.assignment_by_token(session, storage.get_user(session, "dr1"), "tok3").sequence == 3
    assert study.kind == "pairwise" and study.system_names == ["sft", "dpo"]
    assert [r["choice"] for r in rows] == ["a", "b", "tie", "both_bad", "a"]
    assert all(r["preferred_system"] == {"a": r["system_a"], "b": r["system_b"]}.get(r["choice"], "") for r in rows)
    # sides are kept: left_system 1 shows system_1 (sft) as A
    assert [r["system_a"] for r in rows] == ["sft", "dpo", "sft", "dpo", "sft"]
    assert [r["answer_a"].split()[0] for r in rows] == [r["system_a"] for r in rows]
    assert rows[0]["is_gold"] and rows[0]["gold_better"] == "dpo" and not any(r["is_gold"] for r in rows[1:])
    assert rows[2]["evasive_a"] and sum(r["evasive_a"] or r["evasive_b"] for r in rows) == 1
    assert {r["rationale"] for r in rows} == {"why"} and len(order) == 5 and tokens == [f"tok{i}" for i in range(5)]
    assert progress[0]["judged"] == 5 and progress[0]["gold_correct"] == 0


def test_upgraded_database_keeps_working(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _at(engine, "0002")
    _fill_0002(engine)
    upgrade(engine)
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "s")
        second = storage.get_user(session, "dr2")
        seen = []
        while (assignment := storage.next_assignment(session, study, second)) is not None:
            seen.append(assignment.unit_id)
            storage.submit_judgment(session, second, assignment.id, choice="tie")
        rows = storage.export_judgments(session, study)
    assert len(seen) == 5 and len(rows) == 10


def test_fresh_database_is_at_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade(engine)
    upgrade(engine)  # idempotent
    path = write_answers(tmp_path / "a.jsonl", 2)
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="t", systems=("sft", "dpo"), items=read_study_items(path, ("sft", "dpo")))
        user = storage.add_user(session, "dr", "physician", PASSWORD)
        assignment = storage.next_assignment(session, study, user)
        assert storage.assignment_by_token(session, user, assignment.token).id == assignment.id
