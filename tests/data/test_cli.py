"""`medalign data prepare` end to end: the sample, the real PubMedQA file, bad input."""

import json

import pytest
from typer.testing import CliRunner

from data.prepare import normalise_text
from medalign.cli import app

runner = CliRunner()


def prepare(*args):
    return runner.invoke(app, ["data", "prepare", *args])


def test_prepare_sample_defaults(tmp_path):
    result = prepare("pubmedqa", "--n", "66", "--holdout", "16", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["train"] == 50 and manifest["counts"]["holdout"] == 16


def test_prepare_meqsum_sample(tmp_path):
    result = prepare("meqsum", "--holdout", "8", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert row["question"] in row["prompt"] and row["prompt"].endswith("### Summary:\n")
    assert "final_decision" not in row


def test_custom_template_from_command_line(tmp_path):
    result = prepare("pubmedqa", "--holdout", "5", "--template", "C: {context}\\nQ: {question}\\nA:\\n",
                     "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert row["prompt"].startswith("C: ") and row["prompt"].endswith("\nA:\n")


@pytest.mark.parametrize("bad", [
    ('{"q": 1}', "missing field"),
    ("{not json", "invalid JSON"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, bad):
    text, message = bad
    src = tmp_path / "bad.jsonl"
    src.write_text(text + "\n")
    out = tmp_path / "out"
    result = prepare("pubmedqa", "--source", str(src), "--out", str(out))
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output and message in result.output
    assert not out.exists()


def test_bad_input_keeps_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    assert prepare("pubmedqa", "--holdout", "5", "--out", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    src = tmp_path / "dup.jsonl"
    src.write_text('{"id": "1", "question": "a", "context": "c", "answer": "x"}\n'
                   '{"id": "1", "question": "b", "context": "c", "answer": "y"}\n')
    refused = prepare("pubmedqa", "--out", str(out))  # its own output: replaced only with --overwrite
    assert refused.exit_code == 2 and "not empty" in refused.output and "--overwrite" in refused.output
    result = prepare("pubmedqa", "--source", str(src), "--out", str(out), "--overwrite")
    assert result.exit_code == 2 and "duplicate id" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_empty_source_and_bad_sizes_are_named(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for args, message in [(["--source", str(empty)], f"{empty}:1: the source holds no records"),
                          (["--n", "0"], "--n: must be at least 1, got 0"),
                          (["--n", "3", "--holdout", "3"], "--holdout: 3 leaves no training examples")]:
        result = prepare("pubmedqa", *args, "--out", str(tmp_path / "out"))
        assert result.exit_code == 2 and message in result.output and "<input>" not in result.output, result.output


def test_real_pubmedqa_file(tmp_path, shared_data):
    source = shared_data / "pubmedqa" / "ori_pqal.json"
    result = prepare("pubmedqa", "--source", str(source), "--n", "1000", "--holdout", "500", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    train = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    holdout = [json.loads(line) for line in (tmp_path / "holdout.jsonl").read_text().splitlines()]
    assert len(train) == 500 and len(holdout) == 500
    assert not {r["id"] for r in train} & {r["id"] for r in holdout}
    original = json.loads(source.read_text())
    for row in train + holdout:
        assert row["prompt"].index(row["context"]) < row["prompt"].index(row["question"])
        assert row["answer"] == normalise_text(original[row["id"]]["LONG_ANSWER"])
        assert row["final_decision"] == original[row["id"]]["final_decision"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"] == {"records_read": 1000, "duplicates_dropped": 0, "unique": 1000,
                                  "train": 500, "holdout": 500}
