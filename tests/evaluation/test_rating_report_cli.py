"""`medalign report` on a rating study: from the database (real SQLite, physicians grading through
storage) and from its CSV and JSONL exports, with the shipped summary-quality rubric."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app import storage
from app.db import open_database
from app.study_files import read_study_items
from evaluation.rating_report import write_rating_report
from evaluation.rubric import load_rubric
from medalign.cli import app
from tests.evaluation.test_rubric import RUBRICS

PHYSICIANS = [f"dr_{k}" for k in range(5)]
runner = CliRunner()


@pytest.fixture
def graded_study(tmp_path, monkeypatch):
    """Six items answered by sft and dpo; five physicians each grade every answer they are given
    (overlap 3): dpo answers a grade higher, physician k grades k % 2 higher than the others."""
    url = f"sqlite:///{tmp_path / 'ratings.db'}"
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", url)
    items_path = tmp_path / "items.jsonl"
    items_path.write_text("".join(json.dumps({
        "id": f"q{i}", "question": f"Summarise message {i}.", "context": f"Message {i} about a rash.",
        "reference": f"Question {i}?", "outputs": {"sft": f"sft summary {i}", "dpo": f"dpo summary {i}"}}) + "\n"
        for i in range(6)))
    engine = open_database(url)
    with storage.transaction(engine) as session:
        study = storage.create_study(session, name="summaries", kind="rating", systems=("sft", "dpo"),
                                     items=read_study_items(items_path, ("sft", "dpo")),
                                     rubric=load_rubric(RUBRICS / "summary-quality.yaml"), overlap=3, seed=1)
        users = [storage.add_user(session, name, "physician", "a-long-password-1") for name in PHYSICIANS]
    busy = dict(enumerate(users))
    while busy:  # one answer per physician per round, as physicians working side by side would
        for k, user in list(busy.items()):
            with storage.transaction(engine) as session:
                assignment = storage.next_assignment(session, study, user)
                if assignment is None:
                    del busy[k]
                    continue
                view = storage.show_unit(session, user, assignment.id)
                grade = 2 + ("dpo" in view.answer_a) + k % 2 + int(view.question[-2]) % 2
                storage.submit_judgment(session, user, assignment.id, ratings={"quality": grade})
    engine.dispose()
    return tmp_path


def test_report_on_a_rating_study_from_the_database(graded_study):
    out = graded_study / "report"
    result = runner.invoke(app, ["report", "--study", "summaries", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rating study report" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "rating" and summary["settings"]["study"] == "summaries"
    assert summary["rubric"]["name"] == "summary-quality"
    quality = summary["criteria"]["quality"]
    assert quality["higher_is_better"] is True and quality["scale"] == "likert-5"
    assert {s: e["n"] for s, e in quality["per_system"].items()} == {"sft": 18, "dpo": 18}
    assert quality["per_system"]["dpo"]["mean"] == pytest.approx(quality["per_system"]["sft"]["mean"] + 1)
    assert summary["counts"]["raters"] == 5 and summary["interval"]["headline"] == "two_way_robust"
    text = (out / "report.md").read_text()
    assert "Study kind: **rating**" in text and "Overall, how good is this summary" in text
    assert (out / "criterion_quality.png").is_file() and (out / "criterion_quality.svg").is_file()
    assert not (out / "win_rate.png").exists()
    # The demo hands storage's rows and settings to write_rating_report as they are: same numbers.
    engine = open_database()
    with storage.transaction(engine) as session:
        record = storage.get_study(session, "summaries")
        rows, settings = storage.export_judgments(session, record), storage.study_settings(session, record)
    engine.dispose()
    write_rating_report(rows, settings, graded_study / "direct")
    direct = json.loads((graded_study / "direct" / "summary.json").read_text())
    assert direct["criteria"] == summary["criteria"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_report_on_a_rating_export(graded_study, fmt):
    export = graded_study / f"ratings.{fmt}"
    result = runner.invoke(app, ["export", "--study", "summaries", "--format", fmt, "--out", str(export)])
    assert result.exit_code == 0, result.output
    out = graded_study / f"report-{fmt}"
    result = runner.invoke(app, ["report", "--judgments", str(export), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "rating" and summary["settings"]["judgments_file"] == str(export)
    assert summary["counts"]["ratings"] == 36
    # Without the study's rubric the direction of a criterion is unknown, and the report says so.
    assert summary["criteria"]["quality"]["higher_is_better"] is None
    assert "direction not stated" in (out / "report.md").read_text()


def test_a_bad_rating_export_is_a_clear_error_and_writes_nothing(graded_study):
    export = graded_study / "ratings.jsonl"
    assert runner.invoke(app, ["export", "--study", "summaries", "--format", "jsonl", "--out", str(export)]).exit_code == 0
    lines = export.read_text().splitlines()
    lines[4] = json.dumps({**json.loads(lines[4]), "value": 9})
    export.write_text("\n".join(lines) + "\n")
    out = graded_study / "bad-report"
    result = runner.invoke(app, ["report", "--judgments", str(export), "--out", str(out)])
    assert result.exit_code != 0
    assert f"{export}:5" in result.output and "field 'value'" in result.output and "Traceback" not in result.output
    assert not out.exists()
