"""Upgrading a database made by an older schema keeps its judgments."""

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app import storage
from app.db import MIGRATIONS, make_engine, upgrade
from tests.app.conftest import PASSWORD, write_answers


def test_upgrade_from_first_schema_keeps_judgments(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        # data as the first schema stored it
        connection.execute(text("INSERT INTO user (name, role, password_hash, disabled, simulated, created_at) "
                                "VALUES ('dr', 'physician', 'x', 0, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO study (name, system_1, system_2, overlap, seed, guidelines, source_name, "
                                "source_sha256, created_at) VALUES ('s', 'sft', 'dpo', 1, 0, '', '', '', '2026-01-01')"))
        connection.execute(text("INSERT INTO item (study_id, external_id, position, question, context, answer_1, answer_2, "
                                "is_gold) VALUES (1, 'q1', 0, 'Q?', '', 'a', 'b', 0)"))
        connection.execute(text("INSERT INTO assignment (study_id, user_id, item_id, slot, sequence, left_system, created_at, "
                                "shown_at) VALUES (1, 1, 1, 0, 0, 1, '2026-01-01', '2026-01-01')"))
        connection.execute(text("INSERT INTO judgment (assignment_id, choice, preferred_system, evasive_1, evasive_2, rationale, "
                                "time_on_task_ms, revisions, app_version, created_at, updated_at) "
                                "VALUES (1, 'a_better', 'sft', 0, 0, 'r', 5, 0, '0.0.1', '2026-01-01', '2026-01-01')"))
    upgrade(engine)
    with storage.transaction(engine) as session:
        rows = storage.export_judgments(session, storage.get_study(session, "s"))
        token = session.exec(text("SELECT token FROM assignment")).one()[0]
    assert len(rows) == 1 and rows[0]["choice"] == "A better" and rows[0]["preferred_system"] == "sft"
    assert len(token) >= 16


def test_fresh_database_is_at_head(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade(engine)
    upgrade(engine)  # idempotent
    path = write_answers(tmp_path / "a.jsonl", 2)
    from app.study_files import read_pair_items

    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="t", systems=("sft", "dpo"), items=read_pair_items(path, ("sft", "dpo")))
        user = storage.add_user(session, "dr", "physician", PASSWORD)
        assignment = storage.next_assignment(session, study, user)
        assert storage.assignment_by_token(session, user, assignment.token).id == assignment.id
