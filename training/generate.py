"""Batched generation into the JSONL format the app imports.

Each output line: `id`, `question`, `context`, `reference` (the gold answer), `outputs`
{system: text}. Writing into an existing file merges: other systems' outputs are kept, and
ids that already have this system's output are skipped, so an interrupted run resumes.

Every system is generated at the same precision by default (bf16 on a CUDA GPU, fp32 on a
CPU; a 4-bit DPO adapter is applied to its base at that precision too), so physicians compare
alignment, not quantization. `<out>.run.json` records, per system, the model, precision,
engine and settings, tokens per second, and warns when systems in one file differ in precision or engine.

Speed: prompts are sorted by length before batching (little padding; the file keeps the input
order), the KV cache is reserved once per batch instead of copied at every step
(training/kv_cache.py), each sequence stops at its EOS and a batch stops when all have (finished
ones are padded), and the default batch size is the largest that the KV cache of the longest batch
fits (capped where bigger batches stopped paying on 2 CPU cores; bench/generation.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rich.console import Console

from data.files import write_atomic
from data.generations import read_generations

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    batch_size: int | None = None  # None: default_batch_size() for the model, prompts and free memory
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32, or 4bit (NF4)
    engine: str = "transformers"  # or "vllm" (optional extra, CUDA)
    chat_template: bool = True  # the tokenizer's chat template when it has one (training/chat.py)
    threads: int | None = None  # CPU threads for torch; None: torch's default (one per core)
    # A closed answer set (a task's labels or option letters): each answer is the allowed one of highest
    # log-likelihood after the prompt (training/choices.py), not free text. Empty: free generation.
    choices: tuple[str, ...] = ()
    # With choices: "none" compares the summed log-likelihoods (lm-eval acc), "bytes" divides each by its
    # answer's length in UTF-8 bytes (lm-eval acc_norm; training/choices.py).
    choice_normalization: str = "none"


PRECISIONS = ("auto", "bf16", "fp16", "fp32", "4bit")
ENGINES = ("transformers", "vllm")
# Past 64 sequences a batch got slower on 2 CPU cores (the KV cache is copied each step); a GPU
# gains little more for a 7B model once the batch is memory-bound (bench/generation.py).
MAX_AUTO_BATCH = 64
MEMORY_SHARE = 0.5  # of the free memory the KV cache and activations of one batch may take
console = Console(stderr=True, soft_wrap=True)


def resolved_precision(settings: GenerationSettings) -> str:
    """The precision actually used: `auto` becomes bf16 (CUDA) or fp32 (CPU)."""
    from training.common import resolve_precision

    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    return settings.precision if settings.precision == "4bit" else resolve_precision(settings.precision)


def generate_texts(model, tokenizer, prompts: list[str], settings: GenerationSettings) -> list[str]:
    """Greedy (or sampled) continuations of a batch of prompts, prompt tokens cut off."""
    return generate_batch(model, tokenizer, prompts, settings)[0]


def generate_batch(model, tokenizer, prompts: list[str], settings: GenerationSettings) -> tuple[list[str], list[int]]:
    """(answers, tokens generated per answer). Each sequence stops at its EOS (the EOS counted, the
    padding after it not); transformers stops the batch once every sequence has ended."""
    import torch

    tokenizer.padding_side = "left"  # decoder-only batches: pad on the left
    encoded = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id, do_sample=settings.do_sample)
    if settings.do_sample:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    with torch.inference_mode():
        # A standard KV cache (training/kv_cache.py); asked of the instance: a peft model passes it on to its base.
        # CPU only: the path is tested and measured there; on an accelerator transformers' own cache runs
        # (no GPU was available to check this one, and the copy it saves matters most on a CPU).
        if model.device.type == "cpu" and getattr(model, "_supports_default_dynamic_cache", lambda: False)():
            kwargs.update(reserved_cache(model, encoded, encoded["input_ids"].shape[1] + settings.max_new_tokens))
        output = model.generate(**encoded, **kwargs)
    new_tokens = output[:, encoded["input_ids"].shape[1]:]
    texts = [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return texts, [tokens_until_eos(row, tokenizer.eos_token_id) for row in new_tokens.tolist()]


def reserved_cache(model, encoded, capacity: int) -> dict:
    """generate()'s cache argument: reserved once for the whole answer, and filled with the prompts (all
    but the last column) without padding masks where the model's layers allow it."""
    from training.kv_cache import cache_argument, preallocated_cache, prefilled_cache

    try:
        cache = prefilled_cache(model, encoded["input_ids"], encoded["attention_mask"], capacity)
        return {cache_argument(): cache if cache is not None else preallocated_cache(model, capacity)}
    except (ImportError, AttributeError) as exc:  # a transformers release whose cache internals moved
        logger.warning("reserved KV cache unavailable (%s): transformers' own cache is used", exc)
        return {}


def tokens_until_eos(token_ids: list[int], eos_token_id: int | None) -> int:
    """Generated tokens up to and including the first EOS (the padding after it is not generated)."""
    if eos_token_id is not None and eos_token_id in token_ids:
        return token_ids.index(eos_token_id) + 1
    return len(token_ids)


def default_batch_size(config, max_tokens: int, free_bytes: int, dtype_bytes: int) -> int:
    """The largest power of two (at most MAX_AUTO_BATCH) whose KV cache and prefill activations for
    sequences of max_tokens take at most MEMORY_SHARE of free_bytes; at least 1."""
    config = getattr(config, "text_config", None) or config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    kv_cache = 2 * config.num_hidden_layers * kv_heads * head_dim * dtype_bytes * max_tokens
    # one layer's prefill activations at a time (hidden states, MLP) and fp32 last-token logits
    activations = max_tokens * (4 * config.hidden_size + 2 * config.intermediate_size) * dtype_bytes
    per_sequence = kv_cache + activations + 4 * config.vocab_size
    fits = int(free_bytes * MEMORY_SHARE // per_sequence)
    size = 1
    while size * 2 <= min(fits, MAX_AUTO_BATCH):
        size *= 2
    return size


def apply_threads(settings: GenerationSettings) -> int:
    """Set torch's CPU thread count when asked (`--threads`); returns the count in use, for the run
    record. Never derived from the load average: it still counts work that ended seconds ago."""
    import torch

    if settings.threads is not None:
        if settings.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {settings.threads}")
        torch.set_num_threads(settings.threads)
    return torch.get_num_threads()


def free_memory_bytes(device) -> int:
    """Free memory where the model runs: the GPU's, or the host's MemAvailable."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def load_for_generation(model_dir: str, settings: GenerationSettings):
    """Model and tokenizer for the transformers engine, at the settings' precision."""
    from training.common import cuda_available, load_model, load_tokenizer
    from training.recipes import QuantizationSettings

    precision = resolved_precision(settings)
    if precision == "4bit":
        model = load_model(model_dir, precision="bf16" if cuda_available() else "fp32", quantization=QuantizationSettings())
    else:
        model = load_model(model_dir, precision=precision)
        if cuda_available():
            model = model.to("cuda")
    model.eval()
    return model, load_tokenizer(model_dir)


@dataclass(frozen=True)
class Engine:
    """prompts -> (answers, tokens per answer); how many prompts to give it at once; a prompt's length
    (what batches are sorted by)."""

    generate: Callable[[list[str]], tuple[list[str], list[int]]]
    batch_size: int
    prompt_length: Callable[[str], int]


def load_engine(model_dir: str, settings: GenerationSettings, prompts: list[str] = ()) -> Engine:
    """The chosen engine; the transformers batch size, when not set, fits the longest prompts in memory."""
    if settings.engine == "vllm" and settings.choices:
        raise ValueError("constrained answers (choices) are scored with the transformers engine, not vllm")
    if settings.engine == "vllm":
        from training.vllm_engine import vllm_generator

        generate = vllm_generator(model_dir, settings, resolved_precision(settings))
        # vLLM schedules its own batches: give it many prompts at once
        return Engine(lambda batch: (generate(batch), [0] * len(batch)), max(settings.batch_size or 256, 256), len)
    if settings.engine != "transformers":
        raise ValueError(f"engine must be one of {ENGINES}, got {settings.engine!r}")
    model, tokenizer = load_for_generation(model_dir, settings)
    if settings.choices:  # constrained answers: score the allowed ones instead of generating
        from training.choices import choose

        return Engine(lambda batch: (choose(model, tokenizer, batch, settings.choices, settings.choice_normalization),
                                     [0] * len(batch)),
                      settings.batch_size or 8, lambda prompt: len(tokenizer(prompt)["input_ids"]))

    # Tokenized once for all known prompts (0.2 s per 500 PubMedQA prompts, else paid again when sorting).
    known = dict(zip(prompts, map(len, tokenizer(list(prompts))["input_ids"]), strict=True)) if prompts else {}

    def prompt_length(prompt: str) -> int:
        return known[prompt] if prompt in known else len(tokenizer(prompt)["input_ids"])

    batch_size = settings.batch_size
    if batch_size is None:
        longest = max(known.values(), default=0)
        batch_size = default_batch_size(model.config, longest + settings.max_new_tokens, free_memory_bytes(model.device),
                                        model.dtype.itemsize)  # the KV cache is in the compute dtype, also under 4-bit
    return Engine(lambda batch: generate_batch(model, tokenizer, batch, settings), batch_size, prompt_length)


def generate_in_length_order(engine: Engine, prompts: list[str], on_batch=None) -> tuple[list[str], list[int]]:
    """All prompts, longest first in batches of engine.batch_size (the first batch shows whether memory
    suffices); answers and token counts come back in the prompts' order. on_batch(indices, answers) is
    called after each batch."""
    lengths = [engine.prompt_length(p) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    answers: list[str | None] = [None] * len(prompts)
    tokens = [0] * len(prompts)
    for start in range(0, len(order), engine.batch_size):
        indices = order[start:start + engine.batch_size]
        texts, counts = engine.generate([prompts[i] for i in indices])
        for i, text, count in zip(indices, texts, counts, strict=True):
            answers[i], tokens[i] = text, count
        if on_batch is not None:
            on_batch(indices, texts)
    return answers, tokens


def generate_file(
    model_dir: str, data_file: Path, system: str, out_file: Path, settings: GenerationSettings, *, limit: int | None = None,
    task=None, fresh: bool = False,
) -> dict:
    """Generate `system`'s answers for every example of a prepared JSONL; merge into out_file.
    With a task (data.tasks.Task): the examples must be the task's, prompts use its template, and
    rows and `<out>.run.json` carry its name and version. `fresh`: replace out_file (--overwrite), not merge."""
    from tqdm.auto import tqdm

    from data.prepare import read_examples

    seed_everything(settings.seed)
    started = time.time()
    precision = resolved_precision(settings)
    examples = read_examples(Path(data_file))[:limit]
    if task is not None:
        from training.task_data import task_examples

        examples, _ = task_examples(task, examples, file=str(data_file))
    rows, order = merge_examples([] if fresh else read_generations(Path(out_file), may_be_absent=True), examples)
    todo = [e for e in examples if system not in rows[e["id"]]["outputs"]]
    stats = {"generated": len(todo), "skipped_existing": len(examples) - len(todo), "total": len(examples)}
    if not todo:
        write_atomic(Path(out_file), _render(rows, order))
        if fresh:  # the replaced file's record must not describe systems it no longer holds
            generation_record_path(Path(out_file)).unlink(missing_ok=True)
        return stats
    if settings.engine == "vllm":
        from training.vllm_engine import require_vllm

        require_vllm()  # before the tokenizer of the chat template is fetched
    prompts, chat = chat_prompts(model_dir, [e["prompt"] for e in todo], settings)
    threads = apply_threads(settings)
    engine = load_engine(model_dir, settings, prompts)
    progress = tqdm(total=len(todo), desc=f"generating {system}", unit="answer")

    def keep(indices: list[int], texts: list[str]) -> None:
        for i, text in zip(indices, texts, strict=True):
            rows[todo[i]["id"]]["outputs"][system] = text
        # Write after every batch so an interrupted run resumes where it stopped.
        write_atomic(Path(out_file), _render(rows, order))
        progress.update(len(indices))

    generation_started = time.time()
    _, tokens = generate_in_length_order(engine, prompts, keep)
    progress.close()
    speed = generation_speed(len(todo), sum(tokens), time.time() - generation_started, engine.batch_size,
                             counted=settings.engine == "transformers" and not settings.choices)
    record_generation(Path(out_file), system, model_dir, replace(settings, batch_size=engine.batch_size), precision,
                      dict(stats, **speed, torch_threads=threads, wall_time_s=round(time.time() - started, 2),
                           decoding="choices" if settings.choices else "free"), task=task,
                      chat=chat, fresh=fresh)
    return stats


def chat_prompts(model_dir: str, prompts: list[str], settings: GenerationSettings) -> tuple[list[str], dict]:
    """The prompts as the model is asked them (its chat template, unless switched off) and the run record's note."""
    from training.chat import chat_prompt, template_record
    from training.common import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    chat = template_record(tokenizer, settings.chat_template)
    return [chat_prompt(tokenizer, p, use=chat["used"]) for p in prompts], chat


def seed_everything(seed: int) -> None:
    """What transformers.set_seed does for generation (Python, numpy, torch incl. CUDA), without
    importing transformers.trainer_utils, which imports peft and bitsandbytes: 3.5 s of start-up."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too


def generation_speed(answers: int, tokens: int, seconds: float, batch_size: int, *, counted: bool = True) -> dict:
    """What the run record says about speed; loading the model is not included in generation_s."""
    seconds = max(seconds, 1e-9)
    # Microseconds, so the rates can be recomputed from the record on a fast tiny run (0.02 s).
    return {"batch_size": batch_size, "generation_s": round(seconds, 6), "answers_per_s": round(answers / seconds, 2),
            "tokens_generated": tokens if counted else None,
            "tokens_per_s": round(tokens / seconds, 1) if counted else None}


def merge_examples(existing: list[dict], examples: list[dict]) -> tuple[dict, list[str]]:
    """Rows by id (existing outputs kept) and their order, with a new row for each new example."""
    rows = {row["id"]: row for row in existing}
    order = list(rows)
    for example in examples:
        if example["id"] not in rows:
            rows[example["id"]] = {"id": example["id"], "question": example["question"], "context": example["context"],
                                   "reference": example["answer"], "outputs": {}}
            if "task" in example:  # prepared for a task: which one, and which version of it
                rows[example["id"]].update(task=example["task"], task_version=example.get("task_version"))
            order.append(example["id"])
    return rows, order


def generation_record_path(out_file: Path) -> Path:
    return Path(out_file).with_suffix(".run.json")


def record_generation(out_file: Path, system: str, model_dir: str, settings: GenerationSettings, precision: str,
                      stats: dict, *, task=None, chat: dict | None = None, fresh: bool = False) -> dict:
    """Add this system to `<out>.run.json`; note (and print) when systems differ in precision or engine.
    `fresh` (--overwrite replaced the answers file): the record starts anew, so it lists only this system."""
    from training.runs import device_summary, git_commit, package_versions

    path = generation_record_path(out_file)
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and not fresh else {"systems": {}}
    record["systems"][system] = {"model": str(model_dir), "precision": precision, "engine": settings.engine,
                                 "settings": asdict(settings), "stats": stats, "device": device_summary(),
                                 "versions": package_versions(), "git_commit": git_commit(),
                                 "task": {"name": task.name, "version": task.version} if task is not None else None,
                                 "chat_template": chat}
    shapes = {name: (s["precision"], s["engine"]) for name, s in record["systems"].items()}
    record["same_precision_and_engine"] = len(set(shapes.values())) == 1
    if not record["same_precision_and_engine"]:
        console.print(f"[yellow]warning:[/yellow] {out_file}: systems were generated at different precisions or with "
                      f"different engines, so a comparison also measures that: {shapes}", highlight=False)
    write_atomic(path, (json.dumps(record, indent=2, default=str) + "\n").encode("utf-8"))
    return record


def _render(rows: dict, order: list[str]) -> bytes:
    return "".join(json.dumps(rows[item_id], ensure_ascii=False) + "\n" for item_id in order).encode("utf-8")
