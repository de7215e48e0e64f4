"""A corpus of bad study and data files: each gives a clear error naming the place, and the
database and the output folders are left exactly as they were."""

from __future__ import annotations

import json
import sqlite3

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from medalign.cli import app
from tests.app.conftest import write_answers

runner = CliRunner()


def good_rows(n=3):
    return [{"id": f"q{i}", "question": f"Q{i}?", "context": "c", "outputs": {"sft": f"s{i}", "dpo": f"d{i}"}} for i in range(n)]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def mutate(change):
    rows = good_rows()
    change(rows)
    return jsonl(rows)


STUDY_FILES = {
    "truncated.jsonl": (jsonl(good_rows())[:-25], "truncated.jsonl:3: invalid JSON"),
    "latin1.jsonl": ('{"id": "q0", "question": "Caf\u00e9?"}\n'.encode("latin-1"), "latin1.jsonl:1: not valid UTF-8"),
    "utf16.jsonl": (jsonl(good_rows()).decode().encode("utf-16"), "utf16.jsonl:1: not valid UTF-8"),
    "no_question.jsonl": (mutate(lambda r: r[1].pop("question")), "no_question.jsonl:2: record 'q1': field 'question': missing"),
    "no_outputs.jsonl": (mutate(lambda r: r[0].pop("outputs")), "no_outputs.jsonl:1: record 'q0': field 'outputs'"),
    "no_id.jsonl": (mutate(lambda r: r[2].pop("id")), "no_id.jsonl:3: field 'id': missing field"),
    "duplicate.jsonl": (mutate(lambda r: r[2].update(id="q0")), "duplicate.jsonl:3: record 'q0': field 'id': duplicate id"),
    "empty_answer.jsonl": (mutate(lambda r: r[1]["outputs"].update(dpo="")), "empty_answer.jsonl:2: record 'q1': field 'dpo': empty"),
    "huge_answer.jsonl": (mutate(lambda r: r[0]["outputs"].update(sft="x" * 1_000_000)),
                          "huge_answer.jsonl:1: record 'q0': field 'outputs.sft': answer has 1000000 characters"),
    "unknown_system.jsonl": (mutate(lambda r: r[1]["outputs"].pop("sft")), "unknown_system.jsonl:2: record 'q1': field 'outputs.sft'"),
    "not_object.jsonl": (b'["q0", "Q?"]\n', "not_object.jsonl:1: expected a JSON object"),
    "empty.jsonl": (b"\n\n", "empty.jsonl: the file holds no items"),
    "nested.jsonl": (('{"id": "q0", "question": "Q?", "outputs": {"sft": "s", "dpo": "d"}, "x": ' + "[" * 100_000
                      + "]" * 100_000 + "}\n").encode(), "nested.jsonl:1: JSON nested too deeply"),
    "surrogate.jsonl": (b'{"id": "q0", "question": "Q\\ud800?", "outputs": {"sft": "s", "dpo": "d"}}\n',
                        "surrogate.jsonl:1: field 'question': text holds a lone surrogate"),
    "nan.jsonl": (b'{"id": NaN, "question": "Q?", "outputs": {"sft": "s", "dpo": "d"}}\n',
                  "nan.jsonl:1: NaN is not a number JSON allows"),
    "repeated_key.jsonl": (b'{"id": "q0", "question": "Q?", "question": "R?", "outputs": {"sft": "s", "dpo": "d"}}\n',
                           "repeated_key.jsonl:1: field 'question': key 'question' appears twice"),
    "list_id.jsonl": (mutate(lambda r: r[1].update(id=["q1"])), "list_id.jsonl:2: field 'id': an id is text or a whole number"),
    "invisible_answer.jsonl": (mutate(lambda r: r[0]["outputs"].update(dpo="\u200b\u200d ")),
                               "invisible_answer.jsonl:1: record 'q0': field 'dpo': empty text"),
}


def db_dump(path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@pytest.fixture
def database(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", f"sqlite:///{path}")
    result = runner.invoke(app, ["study", "create", "--name", "existing", "--answers", str(write_answers(tmp_path / "ok.jsonl", 2))])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("name", sorted(STUDY_FILES))
def test_bad_study_files(tmp_path, database, name):
    content, message = STUDY_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    before = db_dump(database)
    result = runner.invoke(app, ["study", "create", "--name", "new-study", "--answers", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert db_dump(database) == before


def test_unknown_system_on_command_line_and_bad_gold(tmp_path, database):
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(jsonl(good_rows()))
    before = db_dump(database)
    result = runner.invoke(app, ["study", "create", "--name", "n", "--answers", str(answers), "--systems", "sft,gpt"])
    assert result.exit_code == 2 and "a.jsonl:1: record 'q0': field 'outputs.gpt': system 'gpt' absent" in result.output
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(jsonl([{**good_rows(1)[0], "id": "g0"}]))
    result = runner.invoke(app, ["study", "create", "--name", "n", "--answers", str(answers), "--gold", str(gold)])
    assert result.exit_code == 2 and "gold.jsonl:1: record 'g0': field 'better'" in result.output
    assert db_dump(database) == before


@pytest.mark.parametrize("args, message", [
    (["--seed", str(2**70)], "the seed must be a whole number"),
    (["--seed", "-1"], "the seed must be a whole number"),
    (["--name", "a/b"], "may not contain '/'"),
    (["--name", "  "], "the study name is empty"),
    (["--overlap", "0"], "overlap must be between"),
    (["--kind", "rating"], "--rubric is needed"),
    (["--systems", "sft,sft"], "needs 2 or more different names"),
    (["--pairs", "sft:gpt"], "is not two different systems"),
])
def test_bad_study_options(tmp_path, database, args, message):
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(jsonl(good_rows()))
    before = db_dump(database)
    options = {"--name": "new-study", **dict(zip(args[::2], args[1::2], strict=True))}
    result = runner.invoke(app, ["study", "create", "--answers", str(answers), *[x for kv in options.items() for x in kv]])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and db_dump(database) == before


DATA_FILES = {
    "truncated.json": ("pubmedqa", b'{"1": {"QUESTION": "Q?", "CONTEXTS": ["c"], ', "truncated.json:1: invalid JSON"),
    "latin1.jsonl": ("pubmedqa", '{"question": "Caf\u00e9", "context": "c", "answer": "a"}\n'.encode("latin-1"),
                     "latin1.jsonl:1: not valid UTF-8"),
    "missing.csv": ("pubmedqa", b"question,answer\nQ,A\n", "missing.csv:1: field 'context': missing column"),
    "empty_field.csv": ("pubmedqa", b'question,context,answer\nQ,c,""\n', "empty_field.csv:2: record 'line2': field 'answer': empty text"),
    "dup.jsonl": ("pubmedqa", b'{"id": "1", "question": "a", "context": "c", "answer": "x"}\n'
                              b'{"id": "1", "question": "b", "context": "c", "answer": "y"}\n',
                  "dup.jsonl:2: record '1': field 'id': duplicate id"),
    "meqsum.csv": ("meqsum", b"File,CHQ\n1.txt,q\n", "meqsum.csv:1: field 'Summary'"),
}


@pytest.mark.parametrize("name", sorted(DATA_FILES))
def test_bad_data_files_leave_output_untouched(tmp_path, name):
    dataset, content, message = DATA_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous output")
    # --overwrite: past the folder check (a non-empty --out is refused first), the bad source is
    # refused by name and the user's file is still the only one there
    result = runner.invoke(app, ["data", "prepare", dataset, "--source", str(path), "--holdout", "0", "--out", str(out),
                                 "--overwrite"])
    assert result.exit_code == 2 and message in result.output, result.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "previous output"


def test_excel_with_wrong_columns(tmp_path):
    book = Workbook()
    book.active.append(["File", "Question", "Answer"])
    book.active.append(["1.txt", "q", "a"])
    path = tmp_path / "MeQSum.xlsx"
    book.save(path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["data", "prepare", "meqsum", "--source", str(path), "--out", str(out)])
    assert result.exit_code == 2 and "MeQSum.xlsx:1: field 'CHQ': sheet 'Sheet' lacks column(s) ['CHQ', 'Summary']" in result.output
    assert not out.exists()


# Issue 23: look-alike ids and names, control characters, names of dots, and blinding by content.
@pytest.mark.parametrize("change, message", [
    (lambda rows: rows[1].update(id="q\uff10"), "duplicate id (first on line 1, same after NFKC and case folding)"),
    (lambda rows: rows[1].update(id="Q0"), "duplicate id (first on line 1"),
    (lambda rows: rows[2].update(question="What\u0000now?"), "record 'q2': field 'question': control character U+0000"),
    (lambda rows: rows[0]["outputs"].update(dpo="fine\u001b[31m red"), "field 'outputs.dpo': control character U+001B"),
])
def test_look_alike_ids_and_control_characters(tmp_path, database, change, message):
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(mutate(change))
    before = db_dump(database)
    result = runner.invoke(app, ["study", "create", "--name", "new-study", "--answers", str(answers)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and db_dump(database) == before


@pytest.mark.parametrize("name, message", [
    ("..", "only dots or spaces"), (".", "only dots or spaces"),
    ("EXISTING", "looks like the existing study 'existing'"),
    ("\uff45\uff58\uff49\uff53\uff54\uff49\uff4e\uff47", "looks like the existing study 'existing'"),
])
def test_look_alike_and_dot_study_names(tmp_path, database, name, message):
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(jsonl(good_rows()))
    before = db_dump(database)
    result = runner.invoke(app, ["study", "create", "--name", name, "--answers", str(answers)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert db_dump(database) == before


def test_answers_that_unblind_warn_and_strict_refuses(tmp_path, database):
    rows = good_rows(4)
    rows[0]["outputs"]["sft"] = "I am the SFT model; the answer is yes."
    rows[1]["outputs"]["dpo"] = "As an AI language model trained with direct preference optimization, I think no."
    rows[2]["outputs"]["dpo"] = rows[2]["outputs"]["sft"]
    answers = tmp_path / "a.jsonl"
    answers.write_bytes(jsonl(rows))
    before = db_dump(database)
    strict = runner.invoke(app, ["study", "create", "--name", "leaky", "--answers", str(answers), "--strict"])
    assert strict.exit_code == 2 and "3 answers could unblind physicians (--strict)" in strict.output, strict.output
    for expected in ("item 'q0': the sft answer says 'sft'", "item 'q1': the dpo answer says",
                     "item 'q2': the sft and dpo answers are identical"):
        assert expected in strict.output
    assert db_dump(database) == before
    warned = runner.invoke(app, ["study", "create", "--name", "leaky", "--answers", str(answers)])
    assert warned.exit_code == 0 and "warning:" in warned.output and "could unblind" in warned.output
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(jsonl(good_rows()))
    quiet = runner.invoke(app, ["study", "create", "--name", "clean", "--answers", str(clean), "--strict"])
    assert quiet.exit_code == 0 and "unblind" not in quiet.output, quiet.output


def test_dashboard_report_command_is_quoted_for_the_shell():
    import shlex

    from app.ui.researcher import _report_command

    hostile = "'; rm -rf ~; '"
    assert shlex.split(_report_command(hostile)) == ["medalign", "report", "--study", hostile, "--out", "report-" + hostile]
