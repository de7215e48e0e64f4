"""`medalign judge run / validate`, `study create --physician-sample`, export with rater_kind and the
report's win_rate.ppi, on a real SQLite study judged by physicians and by the tiny model."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from medalign.cli import app


def _answers(path, n):
    rows = [{"id": f"q{i}", "question": f"Is treatment {i} effective?", "context": f"A trial of treatment {i}.",
             "outputs": {"sft": f"Yes, treatment {i} helped most patients.", "dpo": f"No clear effect of {i}."}}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _judge_physicians(db_url, study, names):
    from app import storage
    from app.db import open_database

    engine = open_database(db_url)
    with storage.transaction(engine) as session:
        for name in names:
            storage.add_user(session, name, "physician", "pw-long-enough-123")
    for k, name in enumerate(names):
        while True:
            with storage.transaction(engine) as session:
                user = storage.get_user(session, name)
                assignment = storage.next_assignment(session, storage.get_study(session, study), user)
                if assignment is None:
                    break
                storage.submit_judgment(session, user, assignment.id, choice=("a", "b", "tie")[(assignment.id + k) % 3])
    with storage.transaction(engine) as session:
        return storage.export_judgments(session, storage.get_study(session, study))


@pytest.mark.slow
def test_judge_run_validate_export_and_report(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'm.db'}"
    runner = CliRunner()
    created = runner.invoke(app, ["study", "create", "--name", "pilot", "--answers", str(_answers(tmp_path / "a.jsonl", 24)),
                                  "--systems", "sft,dpo", "--overlap", "2", "--physician-sample", "10", "--db", db])
    assert created.exit_code == 0, created.output
    physician_rows = _judge_physicians(db, "pilot", ["dr1", "dr2", "dr3", "dr4", "dr5"])
    assert len({r["item_id"] for r in physician_rows}) == 10 and len(physician_rows) == 20  # only the sample

    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"name": "tiny-judge", "backend": "transformers", "model": str(tiny_model),
                                      "decoding": "choice", "cache_dir": str(tmp_path / "cache")}))
    ran = runner.invoke(app, ["judge", "run", "--study", "pilot", "--judge", str(config), "--db", db])
    assert ran.exit_code == 0, ran.output
    assert "24 units, 24 verdicts" in ran.output and "stored 24 new" in ran.output
    record = json.loads((tmp_path / "runs/judge/pilot-tiny-judge.run.json").read_text())
    assert record["calls"] == 48 and record["prompt_tokens"] > 0 and record["template"] == "pairwise-v1"
    again = runner.invoke(app, ["judge", "run", "--study", "pilot", "--judge", str(config), "--db", db])
    assert "0 calls sent, 48 from the cache" in again.output and "stored 0 new" in again.output

    validated = runner.invoke(app, ["judge", "validate", "--study", "pilot", "--db", db])
    assert validated.exit_code == 0, validated.output
    assert "judge vs physicians' majority" in validated.output and "PPI win rate" in validated.output

    exported = runner.invoke(app, ["export", "--study", "pilot", "--out", str(tmp_path / "j.csv"), "--db", db])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader((tmp_path / "j.csv").open()))
    assert {r["rater_kind"] for r in rows} == {"physician", "model"}
    assert sum(r["rater_kind"] == "model" for r in rows) == 24

    report = runner.invoke(app, ["report", "--study", "pilot", "--out", str(tmp_path / "rep"), "--db", db])
    assert report.exit_code == 0, report.output
    summary = json.loads((tmp_path / "rep/summary.json").read_text())
    # dr1 and dr2 fill every unit's 2 slots; the model rater is not counted among the physicians
    assert summary["counts"]["raters"] == 2 and "tiny-judge" not in json.dumps(summary["counts"])
    ppi = summary["win_rate"]["ppi"]
    assert ppi["physician_judgments"] == 20 and ppi["model_judgments"] == 24 and "lambda" in ppi
    assert "Model judge (not a physician)" in (tmp_path / "rep/report.md").read_text()

    from_export = runner.invoke(app, ["report", "--judgments", str(tmp_path / "j.csv"), "--out", str(tmp_path / "rep2")])
    assert from_export.exit_code == 0, from_export.output
    refused = json.loads((tmp_path / "rep2/summary.json").read_text())["win_rate"]["ppi"]
    assert "PPI refused" in refused["refused"]  # an export must declare its sample
    declared = runner.invoke(app, ["report", "--judgments", str(tmp_path / "j.csv"), "--out", str(tmp_path / "rep3"),
                                   "--physician-sample", "random"])
    assert declared.exit_code == 0, declared.output
    assert "estimate" in json.loads((tmp_path / "rep3/summary.json").read_text())["win_rate"]["ppi"]


def test_judge_run_with_a_bad_config_is_one_line_naming_file_and_key(tmp_path):
    config = tmp_path / "judge.yaml"
    config.write_text("name: j\nbackend: openai\nmodel: m\nbase_url: http://127.0.0.1:9/v1\nconcurrncy: 4\n")
    result = CliRunner().invoke(app, ["judge", "run", "--study", "x", "--judge", str(config),
                                      "--db", f"sqlite:///{tmp_path / 'm.db'}"])
    assert result.exit_code == 2 and "concurrncy: unknown key" in result.output and "Traceback" not in result.output
