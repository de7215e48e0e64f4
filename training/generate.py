"""Batched generation into the JSONL format the app imports.

Each output line: `id`, `question`, `context`, `reference` (the gold answer), `outputs`
{system: text}. Writing into an existing file merges: other systems' outputs are kept, and
ids that already have this system's output are skipped, so an interrupted run resumes.

Every system is generated at the same precision by default (bf16 on a CUDA GPU, fp32 on a
CPU; a 4-bit DPO adapter is applied to its base at that precision too), so physicians compare
alignment, not quantization. `<out>.run.json` records, per system, the model, precision,
engine and settings, and warns when systems in one file differ in precision or engine.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from data.files import write_atomic


@dataclass(frozen=True)
class GenerationSettings:
    batch_size: int = 8
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32, or 4bit (NF4)
    engine: str = "transformers"  # or "vllm" (optional extra, CUDA)


PRECISIONS = ("auto", "bf16", "fp16", "fp32", "4bit")
ENGINES = ("transformers", "vllm")
console = Console(stderr=True, soft_wrap=True)


def resolved_precision(settings: GenerationSettings) -> str:
    """The precision actually used: `auto` becomes bf16 (CUDA) or fp32 (CPU)."""
    from training.common import resolve_precision

    if settings.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {settings.precision!r}")
    return settings.precision if settings.precision == "4bit" else resolve_precision(settings.precision)


def read_generation_file(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def generate_texts(model, tokenizer, prompts: list[str], settings: GenerationSettings) -> list[str]:
    """Greedy (or sampled) continuations of a batch of prompts, prompt tokens cut off."""
    import torch

    tokenizer.padding_side = "left"  # decoder-only batches: pad on the left
    encoded = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id, do_sample=settings.do_sample)
    if settings.do_sample:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    with torch.no_grad():
        output = model.generate(**encoded, **kwargs)
    new_tokens = output[:, encoded["input_ids"].shape[1]:]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


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


def load_engine(model_dir: str, settings: GenerationSettings):
    """A function prompts -> answers for the chosen engine, and how many prompts to give it at once."""
    if settings.engine == "vllm":
        from training.vllm_engine import vllm_generator

        return vllm_generator(model_dir, settings, resolved_precision(settings)), max(settings.batch_size, 256)
    if settings.engine != "transformers":
        raise ValueError(f"engine must be one of {ENGINES}, got {settings.engine!r}")
    model, tokenizer = load_for_generation(model_dir, settings)
    return (lambda prompts: generate_texts(model, tokenizer, prompts, settings)), settings.batch_size


def generate_file(
    model_dir: str, data_file: Path, system: str, out_file: Path, settings: GenerationSettings, *, limit: int | None = None,
    task=None,
) -> dict:
    """Generate `system`'s answers for every example of a prepared JSONL; merge into out_file.
    With a task (data.tasks.Task): the examples must be the task's, prompts use its template, and
    rows and `<out>.run.json` carry its name and version."""
    from tqdm.auto import tqdm
    from transformers import set_seed

    from data.prepare import read_examples

    set_seed(settings.seed)
    started = time.time()
    precision = resolved_precision(settings)
    examples = read_examples(Path(data_file))[:limit]
    if task is not None:
        from training.task_data import task_examples

        examples, _ = task_examples(task, examples, file=str(data_file))
    rows, order = merge_examples(read_generation_file(Path(out_file)), examples)
    todo = [e for e in examples if system not in rows[e["id"]]["outputs"]]
    if todo:
        generate, chunk = load_engine(model_dir, settings)
        progress = tqdm(total=len(todo), desc=f"generating {system}", unit="answer")
        for start in range(0, len(todo), chunk):
            batch = todo[start:start + chunk]
            for example, text in zip(batch, generate([e["prompt"] for e in batch]), strict=True):
                rows[example["id"]]["outputs"][system] = text
            # Write after every batch so an interrupted run resumes where it stopped.
            write_atomic(Path(out_file), _render(rows, order))
            progress.update(len(batch))
        progress.close()
    else:
        write_atomic(Path(out_file), _render(rows, order))
    stats = {"generated": len(todo), "skipped_existing": len(examples) - len(todo), "total": len(examples)}
    if todo:
        record_generation(Path(out_file), system, model_dir, settings, precision,
                          dict(stats, wall_time_s=round(time.time() - started, 2)), task=task)
    return stats


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
                      stats: dict, *, task=None) -> dict:
    """Add this system to `<out>.run.json`; note (and print) when systems differ in precision or engine."""
    from training.runs import device_summary, git_commit, package_versions

    path = generation_record_path(out_file)
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"systems": {}}
    record["systems"][system] = {"model": str(model_dir), "precision": precision, "engine": settings.engine,
                                 "settings": asdict(settings), "stats": stats, "device": device_summary(),
                                 "versions": package_versions(), "git_commit": git_commit(),
                                 "task": {"name": task.name, "version": task.version} if task is not None else None}
    shapes = {name: (s["precision"], s["engine"]) for name, s in record["systems"].items()}
    record["same_precision_and_engine"] = len(set(shapes.values())) == 1
    if not record["same_precision_and_engine"]:
        console.print(f"[yellow]warning:[/yellow] {out_file}: systems were generated at different precisions or with "
                      f"different engines, so a comparison also measures that: {shapes}", highlight=False)
    write_atomic(path, (json.dumps(record, indent=2, default=str) + "\n").encode("utf-8"))
    return record


def _render(rows: dict, order: list[str]) -> bytes:
    return "".join(json.dumps(rows[item_id], ensure_ascii=False) + "\n" for item_id in order).encode("utf-8")
