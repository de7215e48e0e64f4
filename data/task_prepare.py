"""`data prepare T`: a task's records into train/holdout JSONL with a manifest.

Same guarantees as prepare.py (validated before anything is written, written through a staging
folder, same inputs and seed give identical bytes), with the de-duplication key taken from the
task (the abstract for classification, the question and options for MedQA) instead of a
question that a classification source does not have.
Each prepared row carries the task name and version, `answer` (the SFT target text, so that the
existing SFT stage trains on it unchanged), `gold` (reference text, label name or letter) and,
when the task keeps any, `fields` (per-item fields such as MedQA's USMLE step, for `report compare --by`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from data.prepare import Prepared, check_request, normalise_text, question_key, write_prepared
from data.records import DataError
from data.task_sources import TaskRecord, load_task_source
from data.tasks import Task, load_task, render_prompt


@dataclass(frozen=True)
class TaskExample:
    id: str
    task: str
    task_version: int
    question: str
    context: str
    prompt: str
    answer: str
    gold: str
    options: dict[str, str] | None = None
    fields: dict[str, str] | None = None  # the task's per-item fields (MedQA: {"step": "step1"})

    def to_json_dict(self) -> dict:
        row = {k: v for k, v in self.__dict__.items() if v is not None}
        return row


def sft_target(task: Task, gold: str, options: dict[str, str] | None) -> str:
    """What SFT teaches the model to write: the reference, the label name, or "C. option text"."""
    if task.output == "option":
        return f"{gold}. {options[gold]}"
    return gold


def dedup_key(task: Task, question: str, context: str, options: dict[str, str] | None) -> str:
    parts = {"question": question, "context": context,
             "options": "\n".join(f"{k} {v}" for k, v in (options or {}).items())}
    return "\x1f".join(question_key(parts[name]) for name in task.dedup_fields)


def build_task_examples(task: Task, records: list[TaskRecord], *, n: int, holdout: int, seed: int) -> Prepared:
    check_request(records, n=n, holdout=holdout)
    unique: list[TaskExample] = []
    first_by_key: dict[str, TaskExample] = {}
    dropped, conflicting = [], 0
    for record in records:
        question, context = normalise_text(record.question), normalise_text(record.context)
        gold = record.gold if task.output != "free-text" else normalise_text(record.gold)
        key = dedup_key(task, question, context, record.options)
        if key in first_by_key:
            first = first_by_key[key]
            dropped.append({"id": record.id, "duplicate_of": first.id, "same_gold": first.gold == gold})
            conflicting += first.gold != gold
            continue
        example = TaskExample(
            id=record.id, task=task.name, task_version=task.version, question=question, context=context,
            prompt=render_prompt(task, question=question, context=context, options=record.options),
            answer=sft_target(task, gold, record.options), gold=gold, options=record.options, fields=record.fields,
        )
        first_by_key[key] = example
        unique.append(example)
    warnings = []
    if conflicting:
        warnings.append(f"{conflicting} duplicate(s) carried a different answer than the copy kept")
    random.Random(seed).shuffle(unique)
    if len(unique) < n:
        warnings.append(f"asked for n={n} examples but only {len(unique)} unique ones are available; using all")
    selected = unique[:n]
    if holdout >= len(selected):
        raise DataError(f"holdout={holdout} leaves no training examples out of {len(selected)} selected; "
                        "lower --holdout", field="holdout")
    return Prepared(train=selected[holdout:], holdout=selected[:holdout], dropped_duplicates=dropped,
                    warnings=warnings, records_read=len(records))


def prepare_task(task_name: str, *, source: str | None, labels: Path | None, n: int, holdout: int, seed: int,
                 out: Path) -> dict:
    """Load, validate, de-duplicate, split and write; nothing is written when any record is bad."""
    task = load_task(task_name)
    records, source_info = load_task_source(task, source, labels_file=labels)
    prepared = build_task_examples(task, records, n=n, holdout=holdout, seed=seed)
    source_info = {**source_info, "task": task.name, "task_version": task.version,
                   "dedup_fields": list(task.dedup_fields)}
    manifest = write_prepared(prepared, out, dataset=task.name, source=source_info, seed=seed, n=n, holdout=holdout,
                              template=task.prompt_template)
    return {"manifest": manifest, "warnings": prepared.warnings}
