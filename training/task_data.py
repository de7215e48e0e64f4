"""SFT targets and DPO pairs for label and option tasks.

SFT target: the correct label name, or the correct option as "C. option text" (the prepared
`answer` field, written by `data prepare TASK`). DPO pair: prompt, chosen = that correct answer,
rejected = the SFT model's wrong answer on the training prompt, written in the same canonical
form (its raw text when it could not be parsed at all); when the SFT model was right, a wrong
answer drawn at random (seeded), so that every training example yields a pair.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path


def canonical_answer(task: Mapping, answer: str, options: Mapping[str, str] | None) -> str:
    """How an answer is written as a training target: "C. text" for options, the name for labels."""
    if task["output"] == "option":
        return f"{answer}. {(options or {})[answer]}"
    return answer


def answer_choices(task: Mapping) -> list[str]:
    if task["output"] == "option":
        return list(task["options"])
    return [label["name"] for label in task["labels"]]


def choice_pairs(task: Mapping, examples: Sequence[dict], sft_predictions: Mapping[str, dict], *,
                 seed: int = 0) -> tuple[list[dict], dict]:
    """DPO pairs of a label or option task from the SFT model's predictions on the training examples
    (rows of `medalign eval run`, keyed by id). Returns (pairs, counts)."""
    if task["output"] not in ("label", "option"):
        raise ValueError(f"task {task['name']!r} has free-text output: its pairs come from `train pairs`")
    rng = random.Random(seed)
    choices = answer_choices(task)
    counts = {"examples": len(examples), "sft_wrong": 0, "sft_unparsed": 0, "sft_right_random_wrong": 0,
              "missing_prediction": 0}
    pairs = []
    for example in examples:
        prediction = sft_predictions.get(example["id"])
        if prediction is None:
            counts["missing_prediction"] += 1
            continue
        gold, options = example["gold"], example.get("options")
        parsed, raw = prediction["parsed"], (prediction.get("raw_output") or "").strip()
        if parsed is not None and parsed != gold:
            counts["sft_wrong"] += 1
            rejected = canonical_answer(task, parsed, options)
        elif parsed is None and raw:
            counts["sft_unparsed"] += 1
            rejected = raw
        else:  # right, or nothing at all: a wrong answer at random
            counts["sft_right_random_wrong"] += 1
            rejected = canonical_answer(task, rng.choice([c for c in choices if c != gold]), options)
        pairs.append({"id": example["id"], "prompt": example["prompt"],
                      "chosen": canonical_answer(task, gold, options), "rejected": rejected})
    counts["pairs"] = len(pairs)
    return pairs, counts


def write_choice_pairs(task: Mapping, examples: Sequence[dict], sft_predictions: Mapping[str, dict], out_dir: Path,
                       *, seed: int = 0, source: dict | None = None) -> dict:
    """Build and save the pairs where `train dpo --pairs DIR` reads them (training/pairs.py's layout)."""
    from training.pairs import save_pairs

    pairs, counts = choice_pairs(task, examples, sft_predictions, seed=seed)
    if not pairs:
        raise ValueError("no pairs: no SFT prediction matches a training example id")
    save_pairs(pairs, Path(out_dir), counts, source={"task": task["name"], "task_version": task["version"],
                                                       "seed": seed, **(source or {})})
    return counts
