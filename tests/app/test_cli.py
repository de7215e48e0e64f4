"""`medalign users`, `medalign study` and `medalign export` against a real SQLite file."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from app import storage
from app.db import open_database
from medalign.cli import app
from tests.app.conftest import PASSWORD, write_answers

runner = CliRunner()


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", url)
    monkeypatch.setenv("PW", PASSWORD)
    return url


def run(*args):
    return runner.invoke(app, list(args))


def test_users_commands_never_print_passwords(db):
    result = run("users", "add", "dr_a", "--role", "physician", "--password-env", "PW")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert run("users", "add", "dr_a", "--role", "physician", "--password-env", "PW").exit_code == 2
    assert run("users", "passwd", "dr_a", "--password-env", "PW").exit_code == 0
    assert run("users", "disable", "dr_a").exit_code == 0
    assert run("users", "disable", "nobody").exit_code == 2
    listing = run("users", "list")
    assert "dr_a" in listing.output and "True" in listing.output


def test_study_create_show_list_and_export(db, tmp_path):
    answers = write_answers(tmp_path / "answers.jsonl", 4)
    guidelines = tmp_path / "guide.md"
    guidelines.write_text("# Prefer accurate answers")
    result = run("study", "create", "--name", "pilot", "--answers", str(answers), "--systems", "sft,dpo",
                 "--overlap", "2", "--guidelines", str(guidelines))
    assert result.exit_code == 0, result.output
    assert "pilot" in run("study", "list").output
    run("users", "add", "dr_a", "--role", "physician", "--password-env", "PW")
    engine = open_database(db)
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "pilot")
        user = storage.get_user(session, "dr_a")
        assignment = storage.next_assignment(session, study, user)
        storage.submit_judgment(session, user, assignment.id, choice="tie")
    shown = run("study", "show", "pilot")
    assert shown.exit_code == 0 and "dr_a" in shown.output
    out = tmp_path / "j.csv"
    assert run("export", "--study", "pilot", "--format", "csv", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and rows[0]["choice"] == "tie" and {rows[0]["system_a"], rows[0]["system_b"]} == {"sft", "dpo"}
    out = tmp_path / "j.jsonl"
    assert run("export", "--study", "pilot", "--format", "jsonl", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text())["rater"] == "dr_a"
    assert run("export", "--study", "nope", "--out", str(tmp_path / "x.csv")).exit_code == 2
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda rows: rows[2].pop("question"), ":3: record 'q2': field 'question': missing field"),
    (lambda rows: rows[1]["outputs"].pop("dpo"), ":2: record 'q1': field 'outputs.dpo': system 'dpo' absent"),
    (lambda rows: rows[3]["outputs"].update(sft="   "), ":4: record 'q3': field 'sft': empty text"),
    (lambda rows: rows[3].update(id="q0"), ":4: record 'q0': field 'id': duplicate id"),
    (lambda rows: rows[0].update(outputs="text"), ":1: record 'q0': field 'outputs'"),
    (lambda rows: rows[0]["outputs"].update(dpo="x" * 200_001), ":1: record 'q0': field 'outputs.dpo': answer has"),
])
def test_bad_study_file_rejected_whole(db, tmp_path, mutate, message):
    path = write_answers(tmp_path / "bad.jsonl", 4)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    mutate(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("study", "create", "--name", "pilot", "--answers", str(path))
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")
    engine = open_database(db)
    with storage.transaction(engine) as session:
        assert storage.list_studies(session) == []


def test_truncated_and_misencoded_files(db, tmp_path):
    path = write_answers(tmp_path / "t.jsonl", 3)
    path.write_text(path.read_text()[:-20])
    result = run("study", "create", "--name", "pilot", "--answers", str(path))
    assert result.exit_code == 2 and "t.jsonl:3: invalid JSON" in result.output.replace("\n", "")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"id": "1", "question": "caf\u00e9"}\n'.encode("latin-1"))
    result = run("study", "create", "--name", "pilot", "--answers", str(latin))
    assert result.exit_code == 2 and "not valid UTF-8" in result.output


def test_demo_refuses_a_users_folder_as_its_work_folder(tmp_path):
    """The demo writes fixed names into --workdir: a non-empty folder that is not an earlier demo's is
    refused before anything is written, and a file given as --workdir too."""
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.tex").write_text("chapter 1")
    result = run("demo", "--workdir", str(folder), "--no-serve")
    assert result.exit_code == 2 and "not an earlier demo's work folder" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]
    assert (folder / "thesis.tex").read_text() == "chapter 1"
    result = run("demo", "--workdir", str(folder / "thesis.tex"), "--no-serve")
    assert result.exit_code == 2 and "is a file" in result.output
