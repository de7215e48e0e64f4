"""`medalign eval run --engine vllm`, like `generate` (issue 24, point 8): where vLLM is not installed
the command says so (exit 2, no traceback) and writes nothing."""

import importlib.util

import pytest
from typer.testing import CliRunner

from medalign.cli import app


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed: the engine would run")
def test_eval_run_with_vllm_where_it_is_missing_says_so(tmp_path):
    from training.tiny_model import train_tokenizer

    model = tmp_path / "model"
    train_tokenizer(["Which urgency? emergent urgent non-urgent"] * 5, 300).save_pretrained(model)
    prepared = CliRunner().invoke(app, ["data", "prepare", "triage", "--holdout", "5", "--out", str(tmp_path / "triage")])
    assert prepared.exit_code == 0, prepared.output
    data = tmp_path / "triage" / "holdout.jsonl"
    result = CliRunner().invoke(app, ["eval", "run", "--task", "triage", "--model", str(model), "--system", "x",
                                      "--data", str(data), "--out", str(tmp_path / "pred.jsonl"), "--engine", "vllm"])
    assert result.exit_code == 2 and "vLLM" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "pred.jsonl").exists()
    bad = CliRunner().invoke(app, ["eval", "run", "--task", "triage", "--model", str(model), "--system", "x",
                                   "--data", str(data), "--out", str(tmp_path / "pred.jsonl"), "--engine", "nope"])
    assert bad.exit_code == 2 and "--engine must be one of" in bad.output
