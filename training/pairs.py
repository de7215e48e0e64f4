"""Stage 2: the DPO dataset. prompt, chosen = the gold answer, rejected = the SFT model's answer.

Free text: pairs whose SFT answer is empty or equal to the gold answer are dropped and counted.
With a label or option task, the task's way instead (training/task_data.py: the SFT model's
wrong answer, or a random wrong one where it was right). Saved as JSONL (prompt/chosen/rejected,
loadable by TRL) and as a Hugging Face dataset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from data.generations import read_generations
from data.prepare import normalise_text, read_examples
from training.generate import GenerationSettings, generate_file
from training.task_data import as_task, choice_pairs, parsed_predictions, task_examples

# What `train pairs` writes into its --out folder (top-level names).
PAIRS_ENTRIES = ["sft_generations.jsonl", "sft_generations.run.json", "pairs.jsonl", "pairs.json", "dataset"]


def build_pairs(examples: list[dict], sft_answers: dict[str, str]) -> tuple[list[dict], dict]:
    pairs, dropped = [], {"missing_answer": [], "dropped_empty": [], "dropped_equal_gold": []}
    for example in examples:
        if example["id"] not in sft_answers:
            dropped["missing_answer"].append(example["id"])
            continue
        rejected = sft_answers[example["id"]].strip()
        if not rejected:
            dropped["dropped_empty"].append(example["id"])
            continue
        if normalise_text(rejected).casefold() == normalise_text(example["answer"]).casefold():
            dropped["dropped_equal_gold"].append(example["id"])
            continue
        pairs.append({"id": example["id"], "prompt": example["prompt"], "chosen": example["answer"], "rejected": rejected,
                      "context": example.get("context") or ""})  # kept so `truncate: context` can cut it
    counts = {"examples": len(examples), **{reason: len(ids) for reason, ids in dropped.items()}, "pairs": len(pairs)}
    for reason, ids in dropped.items():
        if ids:  # never in silence: the terminal names them, pairs.json keeps them
            print(f"pairs: {len(ids)} {reason.replace('_', ' ')}: {', '.join(ids[:20])}"
                  + (f", ... ({len(ids) - 20} more)" if len(ids) > 20 else ""), file=sys.stderr)
    counts["dropped_ids"] = {reason: ids for reason, ids in dropped.items() if ids}
    return pairs, counts


def save_pairs(pairs: list[dict], out_dir: Path, counts: dict, *, source: dict) -> None:
    from datasets import Dataset

    from data.files import write_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "pairs.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs).encode())
    columns = ("id", "prompt", "chosen", "rejected")
    Dataset.from_dict({c: [p[c] for p in pairs] for c in columns}).save_to_disk(str(out_dir / "dataset"))
    write_atomic(out_dir / "pairs.json", (json.dumps({"counts": counts, "source": source}, indent=2) + "\n").encode())


def make_pairs(model_dir: str, data_file: Path, out_dir: Path, settings: GenerationSettings, *, task=None,
               seed: int = 0, overwrite: bool = False) -> dict:
    """Generate the SFT model's answers on the training prompts (the task's template when a task is
    given), then pair them with the gold answer the task's way. out_dir is written in place (the
    generations after every batch, so an interrupted run resumes): it must be empty, or this
    command's own (its manifest), or --overwrite (written beside a user's files, never over them)."""
    from data.safe_output import claim_folder

    out_dir = Path(out_dir)
    generations = out_dir / "sft_generations.jsonl"
    examples = read_examples(Path(data_file))
    if task is not None:
        examples, _ = task_examples(task, examples, file=str(data_file))  # checked before the model is loaded
    claim_folder(out_dir, PAIRS_ENTRIES, overwrite=overwrite)  # before the model is loaded
    stats = generate_file(model_dir, data_file, "sft", generations, settings, task=task)
    answers = {row["id"]: row["outputs"]["sft"] for row in read_generations(generations) if "sft" in row["outputs"]}
    source = {"model": model_dir, "data": str(data_file), "generation": stats}
    if task is not None and task.output != "free-text":
        return write_choice_pairs(task, examples, parsed_predictions(task, examples, answers), out_dir, seed=seed,
                                  source=source)
    pairs, counts = build_pairs(examples, answers)
    if task is not None:
        source.update(task=task.name, task_version=task.version)
    save_pairs(pairs, out_dir, counts, source=source)
    return counts


def write_choice_pairs(task, examples: list[dict], sft_predictions: dict[str, dict], out_dir: Path, *, seed: int = 0,
                       source: dict | None = None) -> dict:
    """A label or option task's pairs (training/task_data.choice_pairs), saved where `train dpo --pairs DIR` reads them."""
    task = as_task(task)
    pairs, counts = choice_pairs(task, examples, sft_predictions, seed=seed)
    if not pairs:
        raise ValueError("no pairs: no SFT prediction matches a training example id")
    save_pairs(pairs, Path(out_dir), counts, source={"task": task.name, "task_version": task.version,
                                                       "seed": seed, **(source or {})})
    return counts
