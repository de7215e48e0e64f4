"""Several processes through `accelerate launch` on CPU (gloo), against one process on the same global batch.

accelerate 1.15 starts several CPU processes only through mpirun (`--cpu --num_processes 2`
starts one); `--multi_gpu --num_processes 2` with CUDA hidden starts two through torchrun, and
each picks the MULTI_CPU type with the gloo backend. run.json records what ran.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.test_stages import easy_pairs, sft_recipe
from training.recipes import DPORecipe

pytestmark = pytest.mark.slow
SCRIPT = Path(sys.executable).with_name("accelerate")
# `accelerate launch`; the module form runs the same code where the script is not beside python
ACCELERATE_LAUNCH = [str(SCRIPT), "launch"] if SCRIPT.is_file() else [sys.executable, "-m", "accelerate.commands.launch"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_two_processes(*stage_args: str) -> str:
    command = [*ACCELERATE_LAUNCH, "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "training", *stage_args]
    # one thread per process on a 2-core machine; no GPU even where there is one
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stderr


def write_recipe(path: Path, recipe) -> Path:
    path.write_text(json.dumps(recipe.model_dump()))  # JSON is YAML
    return path


def losses(out_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "loss" in r]
    assert len(steps) == len(set(steps)), f"duplicate steps in metrics.jsonl: {steps}"
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def assert_written_once(out_dir: Path) -> None:
    run = json.loads((out_dir / "run.json").read_text())
    assert run["processes"]["num_processes"] == 2 and run["processes"]["backend"] == "gloo", run["processes"]
    assert sorted(p.name for p in (out_dir / "adapter").glob("*.safetensors")) == ["adapter_model.safetensors"]
    assert (out_dir / "merged" / "model.safetensors").is_file()


def assert_same_adapter(a: Path, b: Path) -> None:
    first, second = load_file(a / "adapter" / "adapter_model.safetensors"), load_file(b / "adapter" / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=1e-3, atol=1e-5)


def test_sft_two_processes_match_one(tiny_model, tiny_data, tmp_path):
    from training.sft import run_sft

    # global batch 4 in both: 1 process x 4, or 2 processes x 2
    one = run_sft(sft_recipe(tiny_model, tiny_data, tmp_path / "one", max_steps=4))
    recipe = sft_recipe(tiny_model, tiny_data, tmp_path / "two", max_steps=4, per_device_train_batch_size=2)
    launch_two_processes("sft", "--config", str(write_recipe(tmp_path / "sft.yaml", recipe)))

    assert_written_once(tmp_path / "two")
    single, double = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert list(double) == [1, 2, 3, 4] and single.keys() == double.keys()
    for step in single:
        assert double[step] == pytest.approx(single[step], rel=1e-4), step
    assert_same_adapter(tmp_path / "one", tmp_path / "two")
    assert one["processes"]["num_processes"] == 1


def test_dpo_two_processes_match_one_with_eval_split(tiny_model, tiny_data, tmp_path):
    from training.dpo import run_dpo

    pairs = easy_pairs(tiny_data, tmp_path / "pairs")

    def recipe(out: str, batch: int) -> DPORecipe:
        return DPORecipe.model_validate({
            "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(pairs), "output_dir": str(tmp_path / out),
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "training": {"per_device_train_batch_size": batch, "learning_rate": 5e-3, "max_steps": 3, "logging_steps": 1,
                         "beta": 0.1, "gradient_checkpointing": False, "precision": "fp32", "max_length": 512,
                         "eval_fraction": 0.16, "eval_steps": 3},
        })

    one = run_dpo(recipe("one", 4))
    launch_two_processes("dpo", "--config", str(write_recipe(tmp_path / "dpo.yaml", recipe("two", 2))))

    assert_written_once(tmp_path / "two")
    single, double = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert list(double) == [1, 2, 3]
    for step in single:
        assert double[step] == pytest.approx(single[step], rel=1e-4), step
    assert_same_adapter(tmp_path / "one", tmp_path / "two")
    two = json.loads((tmp_path / "two" / "run.json").read_text())
    # eval margins logged and plotted in both runs (eval batches are split differently, so not compared exactly)
    assert one["eval_reward_margin_last"] is not None and two["eval_reward_margin_last"] is not None
    assert two["counts"]["eval_rows"] == one["counts"]["eval_rows"] == 8
    assert (tmp_path / "two" / "reward_margin.png").stat().st_size > 1000
