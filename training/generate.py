"""Batched generation into the JSONL format the app imports.

Each output line: `id`, `question`, `context`, `reference` (the gold answer), `outputs`
{system: text}. Writing into an existing file merges: other systems' outputs are kept, and
ids that already have this system's output are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from data.files import write_atomic


@dataclass(frozen=True)
class GenerationSettings:
    batch_size: int = 8
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    load_in_4bit: bool = False


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
    from training.common import cuda_available, load_model, load_tokenizer, resolve_precision
    from training.recipes import QuantizationSettings

    quantization = QuantizationSettings() if settings.load_in_4bit else None
    precision = resolve_precision("auto")
    model = load_model(model_dir, precision=precision, quantization=quantization)
    if quantization is None and cuda_available():
        model = model.to("cuda")
    model.eval()
    return model, load_tokenizer(model_dir)


def generate_file(
    model_dir: str, data_file: Path, system: str, out_file: Path, settings: GenerationSettings, *, limit: int | None = None
) -> dict:
    """Generate `system`'s answers for every example of a prepared JSONL; merge into out_file."""
    from tqdm.auto import tqdm
    from transformers import set_seed

    from data.prepare import read_examples

    set_seed(settings.seed)
    examples = read_examples(Path(data_file))[:limit]
    rows = {row["id"]: row for row in read_generation_file(Path(out_file))}
    order = list(rows)
    for example in examples:
        if example["id"] not in rows:
            rows[example["id"]] = {"id": example["id"], "question": example["question"], "context": example["context"],
                                   "reference": example["answer"], "outputs": {}}
            order.append(example["id"])
    todo = [e for e in examples if system not in rows[e["id"]]["outputs"]]
    skipped = len(examples) - len(todo)
    if todo:
        model, tokenizer = load_for_generation(model_dir, settings)
        progress = tqdm(total=len(todo), desc=f"generating {system}", unit="answer")
        for start in range(0, len(todo), settings.batch_size):
            batch = todo[start:start + settings.batch_size]
            for example, text in zip(batch, generate_texts(model, tokenizer, [e["prompt"] for e in batch], settings),
                                     strict=True):
                rows[example["id"]]["outputs"][system] = text
            # Write after every batch so an interrupted run resumes where it stopped.
            write_atomic(Path(out_file), _render(rows, order))
            progress.update(len(batch))
        progress.close()
    else:
        write_atomic(Path(out_file), _render(rows, order))
    return {"generated": len(todo), "skipped_existing": skipped, "total": len(examples)}


def _render(rows: dict, order: list[str]) -> bytes:
    return "".join(json.dumps(rows[item_id], ensure_ascii=False) + "\n" for item_id in order).encode("utf-8")
