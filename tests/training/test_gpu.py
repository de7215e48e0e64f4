"""The 4-bit CUDA path of the published DPO recipe, on the tiny model. Needs a CUDA GPU:
run with `pytest -m gpu` (the default run deselects it)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.training.test_stages import LoraSnapshot, easy_pairs
from training.recipes import DPORecipe

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_dpo_trains_in_4bit_on_cuda(tiny_model, tiny_data, tmp_path):
    import bitsandbytes as bnb

    from training.dpo import run_dpo

    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(easy_pairs(tiny_data, tmp_path / "pairs")),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "quantization": {"load_in_4bit": True, "quant_type": "nf4", "double_quant": True, "compute_dtype": "bfloat16"},
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_steps": 8, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": True, "precision": "bf16", "max_length": 512},
    })

    class Check(LoraSnapshot):
        quantized = False

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            super().on_train_begin(args, state, control, model=model, **kwargs)
            self.quantized = any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())

    check = Check()
    record = run_dpo(recipe, callbacks=[check])
    assert record["quantized_4bit"] and check.quantized
    assert check.changed()
    margins = [json.loads(line)["rewards/margins"] for line in (tmp_path / "dpo/metrics.jsonl").read_text().splitlines()
               if "rewards/margins" in line]
    assert margins[-1] > margins[0]
    assert (tmp_path / "dpo/adapter/adapter_model.safetensors").is_file()
