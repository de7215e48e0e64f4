"""Chat templates (issue 24, point 5): a tokenizer with one gets TRL's conversational format in SFT, DPO
and generation, unless switched off; one without keeps plain prompts; run.json says which, with a hash."""

import hashlib
import json

import pytest

from training.chat import TINY_CHAT_TEMPLATE, chat_prompt, template_record


def recipe(kind, model_dir, tiny_data, out_dir, pairs_dir=None, **training):
    from training.recipes import DPORecipe, SFTRecipe

    common = {"model_name_or_path": str(model_dir), "output_dir": str(out_dir), "merge": False,
              "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
              "training": {"per_device_train_batch_size": 4, "learning_rate": 2e-3, "max_steps": 2, "logging_steps": 1,
                           "gradient_checkpointing": False, "precision": "fp32", "max_length": 512, **training}}
    if kind == "sft":
        return SFTRecipe.model_validate({"stage": "sft", "train_file": str(tiny_data / "train.jsonl"), **common})
    return DPORecipe.model_validate({"stage": "dpo", "pairs_dir": str(pairs_dir), **common})


def test_prompt_rendering_with_and_without_template(tiny_model, tiny_chat_model):
    from transformers import AutoTokenizer

    plain, chat = AutoTokenizer.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_chat_model)
    assert chat_prompt(plain, "Q?\n") == "Q?\n" and template_record(plain)["used"] is False
    assert chat_prompt(chat, "Q?\n") == "<|user|>\nQ?\n\n<|assistant|>\n"
    assert chat_prompt(chat, "Q?\n", use=False) == "Q?\n"
    assert template_record(chat) == {"used": True, "requested": True, "available": True,
                                     "sha256": hashlib.sha256(TINY_CHAT_TEMPLATE.encode()).hexdigest()}


def test_sft_rows_are_conversational_only_with_a_template(tiny_model, tiny_chat_model, tiny_data):
    from transformers import AutoTokenizer

    from training.sft import sft_rows

    chat_rows, _ = sft_rows(tiny_data / "train.jsonl", AutoTokenizer.from_pretrained(tiny_chat_model), 512,
                            chat_template=True)
    assert chat_rows[0]["prompt"][0]["role"] == "user" and chat_rows[0]["completion"][0]["role"] == "assistant"
    plain_rows, _ = sft_rows(tiny_data / "train.jsonl", AutoTokenizer.from_pretrained(tiny_model), 512)
    assert isinstance(plain_rows[0]["prompt"], str) and plain_rows[0]["prompt"] == chat_rows[0]["prompt"][0]["content"]


@pytest.mark.slow
def test_sft_dpo_and_generation_record_the_template(tiny_model, tiny_chat_model, tiny_data, tmp_path):
    from training.dpo import run_dpo
    from training.generate import GenerationSettings, generate_file, generation_record_path
    from training.pairs import build_pairs, save_pairs
    from training.sft import run_sft

    sha = hashlib.sha256(TINY_CHAT_TEMPLATE.encode()).hexdigest()
    chat_run = run_sft(recipe("sft", tiny_chat_model, tiny_data, tmp_path / "sft-chat"))
    assert chat_run["chat_template"] == {"used": True, "requested": True, "available": True, "sha256": sha}
    assert chat_run["counts"]["examples_used"] == 50
    off = run_sft(recipe("sft", tiny_chat_model, tiny_data, tmp_path / "sft-off", chat_template=False))
    assert off["chat_template"]["used"] is False and off["chat_template"]["sha256"] == sha
    plain = run_sft(recipe("sft", tiny_model, tiny_data, tmp_path / "sft-plain"))
    assert plain["chat_template"] == {"used": False, "requested": True, "available": False, "sha256": None}

    examples = [json.loads(line) for line in (tiny_data / "train.jsonl").read_text().splitlines()]
    pairs, counts = build_pairs(examples, {e["id"]: "I cannot say." for e in examples})
    save_pairs(pairs, tmp_path / "pairs", counts, source={"test": "chat"})
    dpo = run_dpo(recipe("dpo", tiny_chat_model, tiny_data, tmp_path / "dpo", pairs_dir=tmp_path / "pairs",
                         beta=0.1))
    assert dpo["chat_template"]["used"] is True and dpo["counts"]["pairs_used"] == len(pairs)

    out = tmp_path / "generations.jsonl"
    for system, use in (("chat", True), ("plain", False)):
        generate_file(str(tiny_chat_model), tiny_data / "holdout.jsonl", system, out,
                      GenerationSettings(max_new_tokens=4, chat_template=use), limit=2)
    systems = json.loads(generation_record_path(out).read_text())["systems"]
    assert systems["chat"]["chat_template"]["used"] is True and systems["plain"]["chat_template"]["used"] is False
