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
    code = ("import sys, training.__main__, training.sft, training.dpo, training.pairs, training.generate, training.feedback; "
            "print(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]
    help_text = subprocess.run([sys.executable, "-m", "training", "--help"], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, env=dict(os.environ, COLUMNS="200"))
    assert help_text.returncode == 0, help_text.stderr[-2000:]
    for stage in ("tiny-model", "sft", "pairs", "dpo", "feedback", "generate"):
        assert f" {stage} " in help_text.stdout


def test_length_sorted_batches_keep_the_input_order_and_the_single_answers(tiny_model, tiny_data):
    from data.prepare import read_examples
    from training.generate import Engine, GenerationSettings, generate_in_length_order, generate_texts, load_engine

    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:7]
    settings = GenerationSettings(batch_size=3, max_new_tokens=5)
    engine = load_engine(str(tiny_model), settings, prompts)
    batches = []
    recording = Engine(lambda batch: batches.append([engine.prompt_length(p) for p in batch]) or engine.generate(batch),
                       engine.batch_size, engine.prompt_length)
    answers, tokens = generate_in_length_order(recording, prompts)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = [n for batch in batches for n in batch]
    assert flat == sorted(flat, reverse=True) and len(set(flat)) > 1  # longest first, lengths really differ
    from transformers import AutoModelForCausalLM

    from training.common import load_tokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model), load_tokenizer(str(tiny_model))
    assert answers == [generate_texts(model, tokenizer, [p], settings)[0] for p in prompts]
    assert tokens == [5] * 7  # no EOS within 5 tokens: every token counted


def test_each_sequence_stops_at_its_eos_and_the_batch_when_all_have(tiny_model, tiny_data):
    """Make a token the greedy answers do produce the EOS: each answer must end there (counted), the
    rest padded, and the batch stop once every answer has ended."""
    import torch
    from transformers import AutoModelForCausalLM

    from data.prepare import read_examples
    from training.common import load_tokenizer
    from training.generate import GenerationSettings, generate_batch, tokens_until_eos

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model).eval(), load_tokenizer(str(tiny_model))
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:3]
    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        full = model.generate(**encoded, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id)[:, encoded["input_ids"].shape[1]:].tolist()
    shared = set(full[0]).intersection(*full[1:])  # a token every answer produces
    assert shared, "the tiny model's greedy answers share no token"
    stop = min(shared, key=lambda t: max(row.index(t) for row in full))
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(stop)
    texts, counts = generate_batch(model, tokenizer, prompts, GenerationSettings(max_new_tokens=24))
    assert counts == [row.index(stop) + 1 for row in full] == [tokens_until_eos(row, stop) for row in full]
    assert max(counts) < 24  # the batch stopped when the last answer ended, not at max_new_tokens
    assert texts == [tokenizer.decode(row[:n - 1], skip_special_tokens=True).strip() for row, n in zip(full, counts, strict=True)]


def test_default_batch_size_fits_the_kv_cache_in_free_memory():
    """Mistral 7B keeps 128 KiB of KV cache per token in bf16 (32 layers x 8 KV heads x 128 dims x K,V x 2 bytes)."""
    from transformers import MistralConfig

    from training.generate import MAX_AUTO_BATCH, MEMORY_SHARE, default_batch_size

    config = MistralConfig()  # the 7B shape: hidden 4096, 32 layers, 8 KV heads, MLP 14336, vocab 32000
    tokens = 1024 + 128
    per_sequence = 131072 * tokens + tokens * (4 * 4096 + 2 * 14336) * 2 + 4 * 32000
    for free_gib, expected in ((16, 32), (8, 16), (80, MAX_AUTO_BATCH), (0.1, 1)):
        size = default_batch_size(config, tokens, int(free_gib * 2**30), 2)
        assert size == expected
        if 1 < size < MAX_AUTO_BATCH:  # the largest power of two that fits
            assert size * per_sequence <= MEMORY_SHARE * free_gib * 2**30 < 2 * size * per_sequence


@pytest.mark.slow
def test_run_record_has_tokens_per_second_and_the_batch_size(tiny_model, tiny_data, tmp_path):
    from training.generate import GenerationSettings, generate_file, generation_record_path

    out = tmp_path / "g.jsonl"
    generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "base", out, GenerationSettings(max_new_tokens=4), limit=6)
    stats = json.loads(generation_record_path(out).read_text())["systems"]["base"]["stats"]
    assert stats["tokens_generated"] == 6 * 4 and stats["batch_size"] == 64  # auto: the tiny model fits easily
    assert stats["tokens_per_s"] == pytest.approx(stats["tokens_generated"] / stats["generation_s"], rel=0.02)
    assert stats["answers_per_s"] == pytest.approx(6 / stats["generation_s"], rel=0.02)
    assert json.loads(generation_record_path(out).read_text())["systems"]["base"]["settings"]["batch_size"] == 64


def test_thread_count_is_torch_default_or_threads_and_is_recorded(tiny_model, tiny_data, tmp_path):
    """Issue 26: never derived from the load average; `--threads` or torch's default, kept in the run record."""
    import torch

    from training.generate import GenerationSettings, apply_threads, generate_file, generation_record_path

    default = torch.get_num_threads()
    try:
        assert apply_threads(GenerationSettings()) == default
        out = tmp_path / "g.jsonl"
        generate_file(str(tiny_model), tiny_data / "holdout.jsonl", "base", out,
                      GenerationSettings(max_new_tokens=2, threads=1), limit=2)
        system = json.loads(generation_record_path(out).read_text())["systems"]["base"]
        assert system["stats"]["torch_threads"] == 1 and system["settings"]["threads"] == 1
        with pytest.raises(ValueError, match="--threads"):
            apply_threads(GenerationSettings(threads=0))
    finally:
        torch.set_num_threads(default)


@pytest.mark.parametrize("room", [12, 3])  # room for the whole answer, or too little (it reserves again)
def test_reserved_kv_cache_gives_transformers_answers_without_copying(tiny_model, tiny_data, room):
    import torch
    from transformers import AutoModelForCausalLM

    from data.prepare import read_examples
    from training.common import load_tokenizer
    from training.kv_cache import cache_argument, preallocated_cache

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model).eval(), load_tokenizer(str(tiny_model))
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:4]
    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    width = encoded["input_ids"].shape[1]
    kwargs = dict(max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    cache = preallocated_cache(model, width + room)
    with torch.inference_mode():
        plain = model.generate(**encoded, **kwargs)
        reserved = model.generate(**encoded, **kwargs, **{cache_argument(): cache})
    assert torch.equal(plain, reserved) and plain.shape[1] == width + 12
    for layer in cache.layers:  # the keys handed to attention are a view of the reserved buffer, not a copy
        assert layer.keys.shape[-2] == width + 11  # the last token is sampled, never attended to
        assert layer.keys.data_ptr() == layer._buffers[0].data_ptr()
        assert layer._buffers[0].shape[-2] == (width + room if room >= 11 else width + 11)  # too little: grown once per step


def test_prefill_without_padding_masks_gives_transformers_answers(tiny_model, tiny_data):
    """Prompts of different lengths (left padding up to dozens of tokens) and one of a single token:
    the right-padded causal prefill moved into left-padded places gives transformers' own tokens."""
    import torch
    from transformers import AutoModelForCausalLM

    from data.prepare import read_examples
    from training.common import load_tokenizer
    from training.kv_cache import cache_argument, prefilled_cache

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model).eval(), load_tokenizer(str(tiny_model))
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:5]
    prompts[3] = prompts[3][:len(prompts[3]) // 3]
    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts + [tokenizer.decode(tokenizer(prompts[0])["input_ids"][:1])], return_tensors="pt", padding=True)
    assert len(set(encoded["attention_mask"].sum(dim=1).tolist())) == 6  # six different lengths, one of them 1
    width = encoded["input_ids"].shape[1]
    kwargs = dict(max_new_tokens=10, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)
    with torch.inference_mode():
        cache = prefilled_cache(model, encoded["input_ids"], encoded["attention_mask"], width + 10)
        assert cache.get_seq_length() == width - 1
        assert torch.equal(model.generate(**encoded, **kwargs), model.generate(**encoded, **kwargs, **{cache_argument(): cache}))
        right = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="right")
        assert prefilled_cache(model, right["input_ids"], right["attention_mask"], width + 10) is None  # not left-padded
        assert prefilled_cache(model, encoded["input_ids"][:, -1:], encoded["attention_mask"][:, -1:], 10) is None


def test_adapter_folder_generates_as_peft_does(tiny_model, tiny_data, tmp_path):
    """An adapter folder loads as a peft model (whose class does not say whether the cache applies; its
    base does): generate_batch gives peft's own generate() answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from data.prepare import read_examples
    from training.common import load_model, load_tokenizer
    from training.generate import GenerationSettings, generate_batch

    torch.manual_seed(0)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model), lora).save_pretrained(tmp_path)
    model, tokenizer = load_model(str(tmp_path), precision="fp32").eval(), load_tokenizer(str(tiny_model))
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:3]
    texts, _ = generate_batch(model, tokenizer, prompts, GenerationSettings(max_new_tokens=8))
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
    with torch.inference_mode():
        plain = model.generate(**encoded, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                               eos_token_id=tokenizer.eos_token_id)
    assert texts == [t.strip() for t in tokenizer.batch_decode(plain[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)]


def test_a_transformers_without_the_cache_internals_falls_back_to_its_own_cache(tiny_model, tiny_data, monkeypatch):
    """If a later transformers moves what training/kv_cache.py builds on, generation still runs
    (transformers' own cache) and gives the same answers."""
    from transformers import AutoModelForCausalLM

    import training.kv_cache
    from data.prepare import read_examples
    from training.common import load_tokenizer
    from training.generate import GenerationSettings, generate_batch

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model).eval(), load_tokenizer(str(tiny_model))
    prompts = [e["prompt"] for e in read_examples(tiny_data / "holdout.jsonl")][:3]
    settings = GenerationSettings(max_new_tokens=8)
    reserved = generate_batch(model, tokenizer, prompts, settings)

    def moved(*args, **kwargs):
        raise AttributeError("module 'transformers.cache_utils' has no attribute 'DynamicLayer'")

    monkeypatch.setattr(training.kv_cache, "prefilled_cache", moved)
    assert generate_batch(model, tokenizer, prompts, settings) == reserved
