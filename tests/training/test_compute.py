"""Every training stage records its compute comparably, and `medalign report compute` prints it with the
DPO/SFT ratios (evaluation.compare.compute_table's definition)."""

from __future__ import annotations

import json

import pytest
from transformers import TrainerCallback
from typer.testing import CliRunner

from training.recipes import DPORecipe, SFTRecipe


class FinalState(TrainerCallback):
    """The trainer's own state at the end, to check run.json against."""

    def on_train_end(self, args, state, control, **kwargs):
        self.total_flos, self.steps = state.total_flos, state.global_step


def report(*args: str):
    from medalign.cli import app

    return CliRunner().invoke(app, ["report", "compute", *args])


@pytest.fixture(scope="module")
def stage_runs(tiny_model, tiny_data, tmp_path_factory):
    from data.prepare import read_examples
    from training.dpo import run_dpo
    from training.pairs import build_pairs, save_pairs
    from training.sft import run_sft

    out = tmp_path_factory.mktemp("compute")
    training = {"per_device_train_batch_size": 4, "learning_rate": 2e-3, "max_steps": 3, "logging_steps": 1,
                "gradient_checkpointing": False, "precision": "fp32", "max_length": 512}
    lora = {"r": 8, "alpha": 16, "dropout": 0.0}
    sft_state, dpo_state = FinalState(), FinalState()
    run_sft(SFTRecipe.model_validate({"stage": "sft", "model_name_or_path": str(tiny_model),
                                      "train_file": str(tiny_data / "train.jsonl"), "output_dir": str(out / "sft"),
                                      "lora": lora, "training": training}), callbacks=[sft_state])
    examples = read_examples(tiny_data / "train.jsonl")
    pairs, counts = build_pairs(examples, {e["id"]: "Consult your doctor." for e in examples})
    save_pairs(pairs, out / "pairs", counts, source={"test": "compute"})
    run_dpo(DPORecipe.model_validate({"stage": "dpo", "model_name_or_path": str(out / "sft" / "merged"),
                                      "pairs_dir": str(out / "pairs"), "output_dir": str(out / "dpo"),
                                      "lora": lora, "training": {**training, "beta": 0.1}}), callbacks=[dpo_state])
    return out, sft_state, dpo_state


@pytest.mark.slow
def test_each_stage_records_wall_cpu_tokens_flops_and_its_own_peak(stage_runs):
    out, sft_state, dpo_state = stage_runs
    for stage, state in (("sft", sft_state), ("dpo", dpo_state)):
        record = json.loads((out / stage / "run.json").read_text())
        assert record["total_flos"] == state.total_flos > 0 and state.steps == 3
        assert record["wall_time_s"] > 0 and record["cpu_time_s"] > 0 and record["tokens_processed"] > 0
        metrics = [json.loads(line) for line in (out / stage / "metrics.jsonl").read_text().splitlines()]
        assert record["tokens_processed"] == max(m["num_tokens"] for m in metrics if "num_tokens" in m)
        assert record["peak_memory"]["host_peak_since"] == "stage start" and record["peak_memory"]["host_peak_rss_mib"] > 0


@pytest.mark.slow
def test_report_compute_prints_stages_and_the_dpo_over_sft_ratios(stage_runs):
    out, _, _ = stage_runs
    records = {s: json.loads((out / s / "run.json").read_text()) for s in ("sft", "dpo")}
    result = report(str(out / "sft"), str(out / "dpo"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    ratios = summary["dpo_over_sft"]
    assert ratios["wall_time_s"] == pytest.approx(records["dpo"]["wall_time_s"] / records["sft"]["wall_time_s"], abs=1e-3)
    assert ratios["flops"] == pytest.approx(records["dpo"]["total_flos"] / records["sft"]["total_flos"], abs=1e-3)
    assert ratios["cpu_time_s"] == pytest.approx(records["dpo"]["cpu_time_s"] / records["sft"]["cpu_time_s"], abs=1e-3)
    peak = {s: r["peak_memory"]["host_peak_rss_mib"] for s, r in records.items()}
    assert ratios["peak_memory_mib"] == pytest.approx(peak["dpo"] / peak["sft"], abs=1e-3)
    assert summary["stages"]["sft"]["cpu_hours"] == pytest.approx(records["sft"]["wall_time_s"] / 3600, abs=1e-6)
    table = report(str(out / "sft"), str(out / "dpo"))
    assert table.exit_code == 0 and "DPO / SFT" in table.output and "Training compute per stage" in table.output


def test_report_compute_bad_run_names_the_file_and_field(tmp_path):
    result = report(str(tmp_path))
    assert result.exit_code == 2 and str(tmp_path / "run.json") in result.output and "Traceback" not in result.output
    (tmp_path / "run.json").write_text(json.dumps({"wall_time_s": 3}))
    result = report(str(tmp_path))
    assert result.exit_code == 2 and "stage" in result.output and "Traceback" not in result.output


def test_a_stage_peak_is_its_own_after_the_reset():
    """VmHWM restarts at a stage's start: a large allocation freed before the reset no longer counts."""
    import numpy as np

    from training.runs import host_peak_rss_mib, reset_host_peak

    block = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
    before = host_peak_rss_mib()
    del block
    if not reset_host_peak():
        pytest.skip("/proc/self/clear_refs is not writable here")
    assert host_peak_rss_mib() < before - 300
