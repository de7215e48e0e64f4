"""Checkpoints and --resume (a real SIGKILL after a checkpoint), and fp32 LoRA weights under a 4-bit base."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.training.test_distributed import write_recipe
from tests.training.test_stages import easy_pairs, sft_recipe
from training.__main__ import app

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER_CHECKPOINT = """
import os, signal, sys
from transformers import TrainerCallback
from training.recipes import load_recipe
from training.sft import run_sft

class KillAfterCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

run_sft(load_recipe(sys.argv[1], stage="sft"), callbacks=[KillAfterCheckpoint()])
"""


def training_command(*args: str):
    return CliRunner().invoke(app, list(args))


def test_resume_after_kill_matches_an_uninterrupted_run(tiny_model, tiny_data, tmp_path):
    from training.sft import run_sft

    settings = dict(max_steps=8, save_steps=2)
    run_sft(sft_recipe(tiny_model, tiny_data, tmp_path / "full", **settings))
    config = write_recipe(tmp_path / "sft.yaml", sft_recipe(tiny_model, tiny_data, tmp_path / "killed", **settings))
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_CHECKPOINT, str(config), "4"], cwd=ROOT,
                            env=dict(os.environ, TQDM_DISABLE="1"), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    checkpoints = tmp_path / "killed" / "checkpoints"
    assert (checkpoints / "checkpoint-4" / "trainer_state.json").is_file()
    assert not (tmp_path / "killed" / "adapter").exists()
    # a later checkpoint cut off mid-save (no trainer_state.json) must be passed over
    (checkpoints / "checkpoint-6").mkdir()
    (checkpoints / "checkpoint-6" / "adapter_model.safetensors").write_bytes(b"\0" * 10)

    result = training_command("sft", "--config", str(config), "--resume")
    assert result.exit_code == 0, result.output

    full = load_file(tmp_path / "full" / "adapter" / "adapter_model.safetensors")
    resumed = load_file(tmp_path / "killed" / "adapter" / "adapter_model.safetensors")
    assert full.keys() == resumed.keys()
    for key in full:
        torch.testing.assert_close(resumed[key], full[key])
    rows = [json.loads(line) for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))  # steps 1-4 kept, 5-8 logged once
    run = json.loads((tmp_path / "killed" / "run.json").read_text())
    assert run["notes"] == [f"resumed from {checkpoints / 'checkpoint-4'}"]


def test_resume_refuses_what_it_cannot_continue(tiny_model, tiny_data, tmp_path):
    config = write_recipe(tmp_path / "sft.yaml", sft_recipe(tiny_model, tiny_data, tmp_path / "run", max_steps=2))
    result = training_command("sft", "--config", str(config), "--resume")
    assert result.exit_code == 2 and "no complete checkpoint to resume from" in result.output

    assert training_command("sft", "--config", str(config), "--set", "training.save_steps=2").exit_code == 0
    result = training_command("sft", "--config", str(config), "--set", "training.save_steps=2", "--resume",
                              "--set", "training.learning_rate=0.1")
    assert result.exit_code == 2 and "written by a different run" in result.output
    assert "training.learning_rate (0.002 -> 0.1)" in result.output
    # training longer than first planned is a resume, not a different run
    result = training_command("sft", "--config", str(config), "--set", "training.save_steps=2", "--resume",
                              "--set", "training.max_steps=4")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]


def lora_a_changed_share(before: dict, after: dict) -> float:
    keys = [k for k in before if "lora_A" in k]
    changed = sum(int((before[k] != after[k]).sum()) for k in keys)
    return changed / sum(before[k].numel() for k in keys)


def test_lora_weights_and_optimizer_state_stay_fp32_under_a_4bit_base(tiny_model, tiny_data, tmp_path, monkeypatch):
    """CPU, as far as bitsandbytes allows: 4-bit base, bf16 compute, the recipe's learning rate 5e-6.

    With TRL's bf16 LoRA weights almost no update of lora_A survives rounding; in fp32 they all do.
    """
    import bitsandbytes as bnb

    from training import dpo
    from training.common import load_model, load_tokenizer
    from training.recipes import DPORecipe

    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(easy_pairs(tiny_data, tmp_path / "pairs")),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "quantization": {"load_in_4bit": True, "compute_dtype": "bfloat16"},
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-6, "max_steps": 3, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": False, "precision": "bf16", "max_length": 512},
    })
    tokenizer = load_tokenizer(str(tiny_model))
    rows, _ = dpo.dpo_rows(Path(recipe.pairs_dir), tokenizer, 512)

    def train(fix_dtype: bool):
        if not fix_dtype:
            monkeypatch.setattr(dpo, "keep_adapters_fp32", lambda model: 0)
        model = load_model(str(tiny_model), precision="bf16", quantization=recipe.quantization)
        trainer = dpo.build_dpo_trainer(model, tokenizer, recipe, rows[:12], [], precision="bf16", quantized=True)
        lora = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
        before = {n: p.detach().clone() for n, p in lora.items()}
        trainer.train()
        monkeypatch.undo()
        return trainer, before, {n: p.detach().clone() for n, p in lora.items()}

    trainer, before, after = train(fix_dtype=True)
    assert before and {p.dtype for p in before.values()} == {torch.float32}
    assert {p.dtype for p in after.values()} == {torch.float32}
    state = [t for s in trainer.optimizer.state.values() for t in s.values() if torch.is_tensor(t) and t.numel() > 1]
    assert state and {t.dtype for t in state} == {torch.float32}
    linear4bit = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert linear4bit and all(m.weight.dtype == torch.uint8 for m in linear4bit)  # the base stays packed 4-bit
    fp32_share = lora_a_changed_share(before, after)

    trainer, before, after = train(fix_dtype=False)
    assert {p.dtype for p in before.values()} == {torch.bfloat16}  # what TRL does with a quantized base
    bf16_share = lora_a_changed_share(before, after)
    print(f"lora_A entries changed: fp32 {fp32_share:.3f}, bf16 {bf16_share:.3f}")
    assert fp32_share > 0.9 and bf16_share < 0.5, (fp32_share, bf16_share)
