"""A task's predictions: gold examples in, one scored row per example out, and back from disk.

What `medalign eval run|score|pairs`, `report compare` and the demo's comparative study read and
write: `NAME.jsonl` (one row per example: raw output, parsed answer, gold answer, correct) and
`NAME.metrics.json` beside it. A row also carries the example's per-item `fields` when its task
keeps any (MedQA's USMLE step)."""

from __future__ import annotations

import json
from pathlib import Path

from data.files import write_atomic
from data.prepare import read_examples
from data.records import DataError
from data.tables import iter_jsonl
from evaluation.compare import system_metrics
from evaluation.parsing import answer_set, parse_answer

PREDICTION_FIELDS = ("id", "system", "raw_output", "parsed", "gold", "correct")


def read_gold_examples(task, path: Path) -> list[dict]:
    """Prepared examples with their gold answer, checked to belong to the task."""
    rows = read_examples(path)
    for line, row in enumerate(rows, start=1):
        if row.get("task", task.name) != task.name:
            raise DataError(f"example of task {row['task']!r}, not {task.name!r}", file=str(path), line=line,
                            record=row["id"], field="task")
        if "gold" not in row:
            if task.output != "free-text":
                raise DataError("missing field (prepare the data with `medalign data prepare TASK`)",
                                file=str(path), line=line, record=row["id"], field="gold")
            row["gold"] = row["answer"]  # prepared by `data prepare pubmedqa|meqsum`: the reference
    return rows


def score_rows(task, examples: list[dict], generations: dict[str, dict], system: str, *, file: str) -> list[dict]:
    """One prediction row per example: the raw output, the parsed answer, the gold answer, correct."""
    task_dict = task.public_dict()
    rows = []
    for example in examples:
        outputs = generations.get(example["id"], {}).get("outputs", {})
        if system not in outputs:
            raise DataError(f"no output of system {system!r}", file=file, record=example["id"], field="outputs")
        raw = outputs[system]
        parsed = parse_answer(task_dict, raw, example.get("options"))
        correct = None if task.output == "free-text" else parsed == example["gold"]
        row = {"id": example["id"], "task": task.name, "task_version": task.version, "system": system,
               "raw_output": raw, "parsed": parsed, "gold": example["gold"], "correct": correct}
        if example.get("fields"):  # the task's per-item fields, for `report compare --by NAME`
            row["fields"] = example["fields"]
        rows.append(row)
    return rows


def metrics_path(predictions: Path) -> Path:
    return predictions.with_name(predictions.stem + ".metrics.json")


def write_predictions(task, rows: list[dict], out_file: Path, *, rounds: int) -> dict:
    """The rows to OUT_FILE and their metrics (95% intervals) to NAME.metrics.json; returns the metrics."""
    metrics = system_metrics(task.public_dict(), [r["id"] for r in rows], {r["id"]: r for r in rows}, rounds=rounds)
    metrics = {"task": task.name, "task_version": task.version, "system": rows[0]["system"] if rows else None, **metrics}
    write_atomic(out_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    write_atomic(metrics_path(out_file), (json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    return metrics


def read_predictions(path: Path, system: str | None, task=None) -> list[dict]:
    """Prediction rows of `eval run`, every field present; all of `system` when one is named; for a
    label or option task, gold and parsed answers from the task's answer set (parsed may be null)."""
    allowed = set(answer_set(task.public_dict())) if task is not None and task.output != "free-text" else None
    rows = []
    for line, row in iter_jsonl(path):
        for name in PREDICTION_FIELDS:
            if name not in row:
                raise DataError("missing field", file=str(path), line=line, field=name)
        for name in ("gold", "parsed"):
            value = row[name]
            if allowed is not None and value not in allowed and not (name == "parsed" and value is None):
                raise DataError(f"{value!r} is not one of the task's answers {sorted(allowed)}", file=str(path),
                                line=line, field=name)
        if system is not None and row["system"] != system:
            raise DataError(f"system {row['system']!r}, but the file was given as {system!r}", file=str(path),
                            line=line, field="system")
        rows.append(row)
    if not rows:
        raise DataError("the file holds no predictions", file=str(path))
    return rows
