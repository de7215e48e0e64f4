"""The 4-bit CUDA path of the published DPO recipe, on the tiny model. Needs a CUDA GPU:
run with `pytest -m gpu` (the default run deselects it; without CUDA it skips)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.training.test_checkpoints import lora_a_changed_share
from tests.training.test_stages import LoraSnapshot, easy_pairs, sft_recipe
from training.recipes import DPORecipe

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


class FourBitCheck(LoraSnapshot):
    """At the start: the base is 4-bit and the LoRA weights fp32; at the end: the optimizer state is fp32."""

    quantized = False
    lora_dtypes: set = set()
    optimizer_dtypes: set = set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        import bitsandbytes as bnb

        super().on_train_begin(args, state, control, model=model, **kwargs)
        self.quantized = any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
        self.lora_dtypes = {p.dtype for p in self.before.values()}

    def on_train_end(self, args, state, control, model=None, optimizer=None, **kwargs):
        super().on_train_end(args, state, control, model=model, **kwargs)
        self.optimizer_dtypes = {t.dtype for s in optimizer.state.values() for t in s.values()
                                 if torch.is_tensor(t) and t.numel() > 1}


def test_dpo_trains_fp32_lora_on_a_4bit_base_on_cuda(tiny_model, tiny_data, tmp_path):
    from training.dpo import run_dpo

    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(easy_pairs(tiny_data, tmp_path / "pairs")),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "quantization": {"load_in_4bit": True, "quant_type": "nf4", "double_quant": True, "compute_dtype": "bfloat16"},
        # the recipe's learning rate: in bf16 most of these updates would round away
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-6, "max_steps": 8, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": True, "precision": "bf16", "max_length": 512,
                     "save_steps": 4, "eval_fraction": 0.1, "eval_steps": 4},
    })
    check = FourBitCheck()
    record = run_dpo(recipe, callbacks=[check])
    assert record["quantized_4bit"] and check.quantized
    assert check.lora_dtypes == {torch.float32} and check.optimizer_dtypes == {torch.float32}
    assert {p.dtype for p in check.after.values()} == {torch.float32}
    assert lora_a_changed_share(check.before, check.after) > 0.9
    metrics = [json.loads(line) for line in (tmp_path / "dpo/metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "eval_rewards/margins" in m] == [4, 8]
    assert (tmp_path / "dpo/adapter/adapter_model.safetensors").is_file()
    assert (tmp_path / "dpo/merged/model.safetensors").is_file()  # merged into the reloaded unquantized base
    assert (tmp_path / "dpo/checkpoints/checkpoint-8/trainer_state.json").is_file()


def test_every_system_generates_at_the_same_precision_on_cuda(tiny_model, tiny_data, tmp_path):
    from training.generate import GenerationSettings, generate_file, generation_record_path
    from training.sft import run_sft

    sft = run_sft(sft_recipe(tiny_model, tiny_data, tmp_path / "sft", precision="bf16", max_steps=2))
    assert sft["device"]["device"] == "cuda"
    out = tmp_path / "generations.jsonl"
    for system, model in (("base", tiny_model), ("sft", tmp_path / "sft/adapter")):
        generate_file(str(model), tiny_data / "holdout.jsonl", system, out, GenerationSettings(max_new_tokens=8), limit=4)
    record = json.loads(generation_record_path(out).read_text())
    assert {s["precision"] for s in record["systems"].values()} == {"bf16"} and record["same_precision_and_engine"]
