"""TRL-style stage tests on the tiny model: a few steps, LoRA parameters changed, files present."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import TrainerCallback

from training.recipes import DPORecipe, SFTRecipe

pytestmark = pytest.mark.slow


class LoraSnapshot(TrainerCallback):
    """Clone the trainable (LoRA) parameters at the start, as TRL's own tests do."""

    def __init__(self):
        self.before, self.after = {}, {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        # before the stage merges the adapter away
        self.after = {n: p.detach().clone() for n, p in model.named_parameters() if n in self.before}

    def changed(self) -> list[str]:
        assert self.before and self.before.keys() == self.after.keys()
        return [n for n, p in self.before.items() if not torch.equal(p, self.after[n])]


def sft_recipe(model_dir, data_dir, out_dir, **training) -> SFTRecipe:
    return SFTRecipe.model_validate({
        "stage": "sft", "model_name_or_path": str(model_dir), "train_file": str(data_dir / "train.jsonl"),
        "output_dir": str(out_dir), "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "training": {"per_device_train_batch_size": 4, "learning_rate": 2e-3, "max_steps": 4, "logging_steps": 1,
                     "gradient_checkpointing": False, "precision": "fp32", "max_length": 512, **training},
    })


def test_tiny_model_round_trips(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert model.config.model_type == "mistral"
    ids = tokenizer("### Question:\nIs it safe?\n")["input_ids"]
    assert tokenizer.decode(ids) == "### Question:\nIs it safe?\n"
    summary = json.loads((tiny_model / "tiny_model.json").read_text())
    assert summary["pretrain_loss_last"] < summary["pretrain_loss_first"]


def test_tiny_model_is_deterministic(tiny_data, tmp_path):
    from safetensors.torch import load_file

    from training.recipes import TinyModelRecipe
    from training.tiny_model import build_tiny_model

    recipe = TinyModelRecipe(stage="tiny-model", pretrain_steps=5, vocab_size=512)
    build_tiny_model(tiny_data, tmp_path / "a", recipe)
    build_tiny_model(tiny_data, tmp_path / "b", recipe)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()


def test_sft_trains_lora_and_saves(tiny_model, tiny_data, tmp_path):
    from training.sft import run_sft

    snapshot = LoraSnapshot()
    record = run_sft(sft_recipe(tiny_model, tiny_data, tmp_path / "sft", eval_fraction=0.2, eval_steps=2),
                     callbacks=[snapshot])
    changed = snapshot.changed()
    assert changed and all("lora_" in name for name in changed)
    for path in ("adapter/adapter_model.safetensors", "merged/model.safetensors", "merged/tokenizer.json",
                 "run.json", "metrics.jsonl", "sft_loss.png"):
        assert (tmp_path / "sft" / path).is_file(), path
    assert record["counts"]["examples_used"] == 50 and record["tokens_processed"] > 0
    # the eval split: 10 of 50 held out, eval loss logged at steps 2 and 4 and kept in run.json
    assert record["counts"]["train_rows"] == 40 and record["counts"]["eval_rows"] == 10
    metrics = [json.loads(line) for line in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "eval_loss" in m] == [2, 4]
    assert record["eval_loss_last"] == [m["eval_loss"] for m in metrics if "eval_loss" in m][-1]
    assert record["processes"]["num_processes"] == 1
    assert record["versions"]["trl"] and record["inputs"]["train_file"]["sha256"]
    assert record["peak_memory"]["host_peak_rss_mib"] > 0 and record["wall_time_s"] > 0


def test_sft_counts_prompts_too_long(tiny_model, tiny_data, tmp_path):
    from transformers import AutoTokenizer

    from data.prepare import read_examples
    from training.sft import run_sft

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    lengths = sorted(len(tokenizer(e["prompt"])["input_ids"]) for e in read_examples(tiny_data / "train.jsonl"))
    record = run_sft(sft_recipe(tiny_model, tiny_data, tmp_path / "sft", max_length=lengths[25], max_steps=1))
    assert record["counts"]["dropped_prompt_too_long"] > 0
    assert record["counts"]["examples_used"] + record["counts"]["dropped_prompt_too_long"] == 50


def easy_pairs(tiny_data, out_dir):
    """Pairs with an obvious preference: the gold answer against a fixed evasive reply."""
    from data.prepare import read_examples
    from training.pairs import build_pairs, save_pairs

    examples = read_examples(tiny_data / "train.jsonl")
    answers = {e["id"]: "I cannot say; please consult your doctor." for e in examples}
    pairs, counts = build_pairs(examples, answers)
    save_pairs(pairs, out_dir, counts, source={"test": "easy"})
    return out_dir


def test_dpo_margin_grows_and_lora_changes(tiny_model, tiny_data, tmp_path):
    from training.dpo import run_dpo

    pairs_dir = easy_pairs(tiny_data, tmp_path / "pairs")
    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(pairs_dir),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "quantization": {"load_in_4bit": True},  # on CPU: trains unquantized and says so
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_steps": 8, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": False, "precision": "fp32", "max_length": 512},
    })
    snapshot = LoraSnapshot()
    record = run_dpo(recipe, callbacks=[snapshot])
    assert snapshot.changed()
    metrics = [json.loads(line) for line in (tmp_path / "dpo" / "metrics.jsonl").read_text().splitlines()]
    margins = [m["rewards/margins"] for m in metrics if "rewards/margins" in m]
    assert len(margins) == 8
    assert abs(margins[0]) < 1e-3  # reference == policy at the first step
    assert margins[-1] > margins[0] + 0.1
    assert {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "loss"} <= set(metrics[0])
    assert (tmp_path / "dpo" / "reward_margin.png").stat().st_size > 1000
    assert record["quantized_4bit"] is False and "CPU: training unquantized" in record["notes"][0]
    assert (tmp_path / "dpo" / "merged" / "model.safetensors").is_file()


def test_generate_is_resumable_and_merges_systems(tiny_model, tiny_data, tmp_path):
    from data.generations import read_generations
    from training.generate import GenerationSettings, generate_file

    out = tmp_path / "gen.jsonl"
    settings = GenerationSettings(batch_size=4, max_new_tokens=8)
    first = generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "base", out, settings, limit=5)
    assert first == {"generated": 5, "skipped_existing": 0, "total": 5}
    again = generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "base", out, settings, limit=10)
    assert again == {"generated": 5, "skipped_existing": 5, "total": 10}
    generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "other", out, settings, limit=10)
    rows = read_generations(out)
    assert len(rows) == 10 and all(set(r["outputs"]) == {"base", "other"} for r in rows)
    assert all(r["reference"] and r["question"] for r in rows)
    # greedy decoding: the same model gives the same answers under another name
    assert all(r["outputs"]["base"] == r["outputs"]["other"] for r in rows)
    record = out.with_suffix(".run.json")
    assert set(json.loads(record.read_text())["systems"]) == {"base", "other"}
    # --overwrite replaces the answers and the record: no system survives that the file no longer holds
    generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "third", out, settings, limit=3, fresh=True)
    assert [set(r["outputs"]) for r in read_generations(out)] == [{"third"}] * 3
    assert set(json.loads(record.read_text())["systems"]) == {"third"}


def test_generation_batch_matches_single(tiny_model, tiny_data):
    """Left padding: an answer must not depend on what it is batched with."""
    from data.prepare import read_examples
    from training.generate import GenerationSettings, generate_texts, load_for_generation

    settings = GenerationSettings(max_new_tokens=10)
    model, tokenizer = load_for_generation(str(tiny_model), settings)
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")[:3]]
    batched = generate_texts(model, tokenizer, prompts, settings)
    single = [generate_texts(model, tokenizer, [p], settings)[0] for p in prompts]
    assert batched == single


def test_four_bit_load_and_generate_on_cpu(tiny_model, tiny_data):
    """The 4-bit path loads and generates on CPU (training on it is not done on CPU: see README)."""
    import bitsandbytes as bnb

    from data.prepare import read_examples
    from training.generate import GenerationSettings, generate_texts, load_for_generation

    settings = GenerationSettings(max_new_tokens=6, precision="4bit")
    model, tokenizer = load_for_generation(str(tiny_model), settings)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    texts = generate_texts(model, tokenizer, [read_examples(tiny_data / "holdout.jsonl")[0]["prompt"]], settings)
    assert len(texts) == 1 and isinstance(texts[0], str)


def test_pairs_drop_empty_and_equal():
    from training.pairs import build_pairs

    examples = [{"id": str(i), "prompt": f"P{i}\n", "answer": f"Gold {i}."} for i in range(4)]
    pairs, counts = build_pairs(examples, {"0": "Other.", "1": "  ", "2": "gold  2.", "3": "Something else."})
    assert [p["id"] for p in pairs] == ["0", "3"]
    assert counts == {"examples": 4, "dropped_empty": 1, "dropped_equal_gold": 1, "missing_answer": 0, "pairs": 2,
                      "dropped_ids": {"dropped_empty": ["1"], "dropped_equal_gold": ["2"]}}
    assert pairs[0] == {"id": "0", "prompt": "P0\n", "chosen": "Gold 0.", "rejected": "Other.", "context": ""}


def test_bad_pairs_file_names_the_file_line_and_field(tmp_path):
    from data.records import DataError
    from training.dpo import read_pairs

    path = tmp_path / "pairs.jsonl"
    good = json.dumps({"prompt": "P\n", "chosen": "A.", "rejected": "B."})
    for bad, expected in (("{not json", r"pairs\.jsonl:2: not a JSON object"),
                          ('["a list"]', r"pairs\.jsonl:2: not a JSON object"),
                          (json.dumps({"prompt": "P\n", "chosen": " ", "rejected": "B."}), r"pairs\.jsonl:2: field 'chosen'")):
        path.write_text(good + "\n" + bad + "\n")
        with pytest.raises(DataError, match=expected):
            read_pairs(tmp_path)
