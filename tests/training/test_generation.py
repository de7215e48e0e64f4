"""Generation records its precision and engine per system, the same for all by default; vLLM optional;
`python -m training` runs the stages without the web app."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.__main__ import app

ROOT = Path(__file__).resolve().parents[2]


def generate(*args: str):
    return CliRunner().invoke(app, ["generate", *args])


@pytest.mark.slow
def test_systems_share_a_precision_by_default_and_a_difference_is_flagged(tiny_model, tiny_data, tmp_path):
    from training.generate import generation_record_path

    out = tmp_path / "generations.jsonl"
    common = ["--data", str(tiny_data / "holdout.jsonl"), "--out", str(out), "--max-new-tokens", "4", "--limit", "3"]
    for system in ("base", "sft"):
        result = generate("--model", str(tiny_model), "--system", system, *common)
        assert result.exit_code == 0, result.output
    record = json.loads(generation_record_path(out).read_text())
    assert {s["precision"] for s in record["systems"].values()} == {"fp32"}  # auto on a CPU
    assert record["same_precision_and_engine"] and record["systems"]["sft"]["stats"]["generated"] == 3
    assert record["systems"]["base"]["engine"] == "transformers" and record["systems"]["base"]["versions"]["torch"]

    result = generate("--model", str(tiny_model), "--system", "dpo", "--precision", "4bit", *common)
    assert result.exit_code == 0, result.output
    assert "different precisions" in result.output
    record = json.loads(generation_record_path(out).read_text())
    assert not record["same_precision_and_engine"] and record["systems"]["dpo"]["precision"] == "4bit"
    assert all(set(json.loads(line)["outputs"]) == {"base", "sft", "dpo"} for line in out.read_text().splitlines())


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_engine_absent_is_a_clear_message(tiny_data, tmp_path):
    out = tmp_path / "generations.jsonl"
    result = generate("--model", "any", "--data", str(tiny_data / "holdout.jsonl"), "--system", "base", "--out", str(out),
                      "--engine", "vllm")
    assert result.exit_code == 2
    assert "--engine vllm needs vLLM, which is not installed here" in result.output and "medalign[vllm]" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_unknown_precision_or_engine_is_refused(tiny_data, tmp_path):
    common = ["--model", "any", "--data", str(tiny_data / "holdout.jsonl"), "--system", "x", "--out", str(tmp_path / "g.jsonl")]
    for option, value in (("--precision", "int8"), ("--engine", "tgi")):
        result = generate(*common, option, value)
        assert result.exit_code == 2 and "--precision must be one of" in result.output


def test_python_m_training_needs_no_web_app():
    code = ("import sys, training.__main__, training.sft, training.dpo, training.pairs, training.generate, training.feedback_cli; "
            "print(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]
    help_text = subprocess.run([sys.executable, "-m", "training", "--help"], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, COLUMNS="200"))
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    for stage in ("tiny-model", "sft", "pairs", "dpo", "feedback", "generate"):
        assert f" {stage} " in help_text.stdout
