"""The tiny pipeline end to end through the command line, on the bundled sample; its
generations import into a study, and judgments come back as pairs for a second DPO round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medalign.cli import app

pytestmark = pytest.mark.slow
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


def medalign(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"medalign {' '.join(args)}\n{result.output}\n{result.exception!r}"
    return result.output


def test_tiny_pipeline_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setenv("PW", "a-long-password")
    data, model = tmp_path / "data", tmp_path / "model"
    medalign("data", "prepare", "pubmedqa", "--n", "66", "--holdout", "16", "--out", str(data))
    medalign("train", "tiny-model", "--data", str(data), "--out", str(model), "--config", str(CONFIGS / "tiny/model.yaml"))
    medalign("train", "sft", "--config", str(CONFIGS / "tiny/sft.yaml"), "--set", f"model_name_or_path={model}",
             "--set", f"train_file={data / 'train.jsonl'}", "--set", f"output_dir={tmp_path / 'sft'}")
    medalign("train", "pairs", "--model", str(tmp_path / "sft/merged"), "--data", str(data / "train.jsonl"),
             "--out", str(tmp_path / "pairs"), "--max-new-tokens", "48")
    pairs = json.loads((tmp_path / "pairs/pairs.json").read_text())["counts"]
    assert pairs["pairs"] + pairs["dropped_empty"] + pairs["dropped_equal_gold"] == 50 and pairs["pairs"] > 0
    medalign("train", "dpo", "--config", str(CONFIGS / "tiny/dpo.yaml"), "--set", f"model_name_or_path={tmp_path / 'sft/merged'}",
             "--set", f"output_dir={tmp_path / 'dpo'}", "--pairs", str(tmp_path / "pairs"))
    run = json.loads((tmp_path / "dpo/run.json").read_text())
    assert run["reward_margin_last"] > run["reward_margin_first"]
    generations = tmp_path / "generations.jsonl"
    for system, path in (("base", model), ("sft", tmp_path / "sft/merged"), ("dpo", tmp_path / "dpo/merged")):
        medalign("generate", "--model", str(path), "--data", str(data / "holdout.jsonl"), "--system", system,
                 "--out", str(generations), "--max-new-tokens", "32")
    rows = [json.loads(line) for line in generations.read_text().splitlines()]
    assert len(rows) == 16 and all(set(r["outputs"]) == {"base", "sft", "dpo"} for r in rows)

    # the generations import into a study; judgments come back as a second round of DPO pairs
    medalign("study", "create", "--name", "round-one", "--answers", str(generations), "--systems", "sft,dpo")
    medalign("users", "add", "dr_a", "--role", "physician", "--password-env", "PW")
    from app import storage
    from app.db import open_database

    engine = open_database()
    with storage.transaction(engine) as session:
        study = storage.get_study(session, "round-one")
        user = storage.get_user(session, "dr_a")
        while (assignment := storage.next_assignment(session, study, user)) is not None:
            storage.submit_judgment(session, user, assignment.id, choice="a" if assignment.left_system == 2 else "b")
    medalign("train", "feedback", "--study", "round-one", "--out", str(tmp_path / "feedback"),
             "--merge", str(tmp_path / "pairs"))
    feedback = json.loads((tmp_path / "feedback/pairs.json").read_text())["counts"]
    assert feedback["pairs"] == 16 and feedback["merged_pairs"] == 16 + pairs["pairs"]
    medalign("train", "dpo", "--config", str(CONFIGS / "tiny/dpo.yaml"), "--set", f"model_name_or_path={tmp_path / 'dpo/merged'}",
             "--set", f"output_dir={tmp_path / 'dpo2'}", "--set", "training.num_train_epochs=1", "--pairs", str(tmp_path / "feedback"))
    assert json.loads((tmp_path / "dpo2/run.json").read_text())["counts"]["pairs_used"] == feedback["merged_pairs"]
