"""`data prepare pubmedqa --split official-test`: the 500 items of PQA-L's official test split are the
holdout, checked against the release's own ground-truth file (real data, read in place; issue 24)."""

import json

from typer.testing import CliRunner

from medalign.cli import app


def test_official_test_split_is_the_holdout(shared_data, tmp_path):
    source = shared_data / "pubmedqa" / "ori_pqal.json"
    truth = json.loads((shared_data / "pubmedqa" / "test_ground_truth.json").read_text())
    result = CliRunner().invoke(app, ["data", "prepare", "pubmedqa", "--source", str(source), "--split", "official-test",
                                      "--n", "5000", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    holdout = [json.loads(line) for line in (tmp_path / "out" / "holdout.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert len(holdout) == 500 and [e["id"] for e in holdout] == list(truth)
    assert all(e["final_decision"] == truth[e["id"]] for e in holdout)  # the release's labels, item by item
    assert len(train) == 500 and not {e["id"] for e in train} & set(truth)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["source"]["split"]["kind"] == "official-test" and manifest["source"]["split"]["items"] == 500


def test_official_split_needs_the_release_file(tmp_path):
    result = CliRunner().invoke(app, ["data", "prepare", "pubmedqa", "--split", "official-test", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "ori_pqal.json" in result.output and not (tmp_path / "o").exists()
