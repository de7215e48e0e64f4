"""What the training stages take from a task: prompts, SFT targets and DPO pairs.

Prompts are rendered with the task's template from each prepared example's fields, so a stage
run with `--task T` uses T's template even for data prepared before the template changed (or by
`data prepare pubmedqa|meqsum`). SFT target: the reference text, the correct label name, or the
correct option as "C. option text" (data.task_prepare.sft_target, one definition).

DPO pairs of label and option tasks: prompt, chosen = the correct answer, rejected = the SFT
model's wrong answer on the training prompt, written in the same canonical form (its raw text
when it could not be parsed at all); when the SFT model was right, a wrong answer drawn at
random (seeded), so that every training example yields a pair. Free-text tasks pair the
reference with the SFT model's answer (training/pairs.py).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from data.records import DataError
from data.task_prepare import sft_target
from data.tasks import Task, render_prompt

#: The recipes' path fields in which `{task}` stands for the task's name (configs/study/...).
TASK_PLACEHOLDER = "{task}"
RECIPE_PATH_FIELDS = ("model_name_or_path", "train_file", "pairs_dir", "output_dir")


def as_task(task: Task | Mapping) -> Task:
    return task if isinstance(task, Task) else Task.model_validate(dict(task))


def load_stage_task(name_or_path: str) -> Task:
    """A task for `--task` (name or .yaml path), its metric names checked like `medalign tasks show`."""
    from data.tasks import load_task
    from evaluation.compare import ALL_METRICS

    return load_task(name_or_path, known_metrics=set(ALL_METRICS))


def resolve_recipe_paths(recipe, task: Task | None, *, source: str):
    """Put the task's name where a recipe's paths say `{task}`; a recipe that needs a task and got
    none is an error naming the recipe and the field."""
    updates = {}
    for name in RECIPE_PATH_FIELDS:
        value = getattr(recipe, name, None)
        if isinstance(value, str) and TASK_PLACEHOLDER in value:
            if task is None:
                raise DataError(f"the recipe's {name} contains {TASK_PLACEHOLDER}: give --task", file=source, field=name)
            updates[name] = value.replace(TASK_PLACEHOLDER, task.name)
    return recipe.model_copy(update=updates) if updates else recipe


def _check_example(task: Task, row: dict, *, file: str, line: int) -> None:
    where = dict(file=file, line=line, record=row.get("id"))
    if "task" not in row and task.output != "free-text":
        raise DataError(f"missing field: examples of a {task.output} task come from `medalign data prepare {task.name}`",
                        field="task", **where)
    if row.get("task", task.name) != task.name:
        raise DataError(f"example of task {row['task']!r}, not {task.name!r}", field="task", **where)
    if row.get("task_version", task.version) != task.version:
        raise DataError(f"prepared with version {row['task_version']} of task {task.name!r}, the task file is version "
                        f"{task.version}: prepare the data again", field="task_version", **where)
    if task.output == "free-text":
        return
    options = row.get("options") or {}
    allowed = list(options) if task.output == "option" else task.label_names
    if row.get("gold") not in allowed:
        raise DataError(f"{row.get('gold')!r} is not one of the task's answers {allowed}", field="gold", **where)


def task_examples(task: Task, examples: Sequence[dict], *, file: str) -> tuple[list[dict], int]:
    """The prepared examples as the task shows them (prompt from the task's template, answer = the
    task's SFT target), each checked to belong to the task; and how many prompts differed from the file's."""
    rows, rerendered = [], 0
    for line, row in enumerate(examples, start=1):
        _check_example(task, row, file=file, line=line)
        options = row.get("options")
        prompt = render_prompt(task, question=row.get("question", ""), context=row.get("context", ""), options=options)
        answer = row["answer"] if task.output == "free-text" else sft_target(task, row["gold"], options)
        rerendered += prompt != row["prompt"]
        rows.append({**row, "prompt": prompt, "answer": answer, "task": task.name, "task_version": task.version})
    return rows, rerendered


def answer_choices(task: Task) -> list[str]:
    return list(task.options) if task.output == "option" else task.label_names


def choice_pairs(task: Task | Mapping, examples: Sequence[dict], sft_predictions: Mapping[str, dict], *,
                 seed: int = 0) -> tuple[list[dict], dict]:
    """DPO pairs of a label or option task from the SFT model's predictions on the training examples
    (rows with `parsed` and `raw_output`, keyed by id). Returns (pairs, counts)."""
    task = as_task(task)
    if task.output not in ("label", "option"):
        raise ValueError(f"task {task.name!r} has free-text output: its pairs come from `train pairs`")
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
        source = "model"  # rejected = what the model wrote (e.g. "C. Clllll"), not the clean option text
        if parsed is not None and parsed != gold:
            counts["sft_wrong"] += 1
            rejected = raw or sft_target(task, parsed, options)
        elif parsed is None and raw:
            counts["sft_unparsed"] += 1
            rejected = raw
        else:  # right, or nothing at all: a wrong answer at random (the model wrote no wrong text)
            counts["sft_right_random_wrong"] += 1
            rejected, source = sft_target(task, rng.choice([c for c in choices if c != gold]), options), "random-wrong"
        pairs.append({"id": example["id"], "prompt": example["prompt"], "chosen": sft_target(task, gold, options),
                      "rejected": rejected, "rejected_source": source, "context": example.get("context") or ""})
    counts["pairs"] = len(pairs)
    return pairs, counts


def parsed_predictions(task: Task, examples: Sequence[dict], answers: Mapping[str, str]) -> dict[str, dict]:
    """The SFT model's raw answers parsed as the task's labels or options (None when unparseable)."""
    from evaluation.parsing import parse_answer

    task_dict = task.public_dict()
    return {e["id"]: {"raw_output": answers[e["id"]], "parsed": parse_answer(task_dict, answers[e["id"]], e.get("options"))}
            for e in examples if e["id"] in answers}


def pairs_task(pairs_dir: Path) -> str | None:
    """The task a pairs folder was built for (pairs.json's source), None when it does not say."""
    path = Path(pairs_dir) / "pairs.json"
    if not path.is_file():
        return None
    try:
        return (json.loads(path.read_text(encoding="utf-8")).get("source") or {}).get("task")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"not a pairs record ({exc})", file=str(path)) from exc


def check_pairs_task(task: Task, pairs_dir: Path) -> str | None:
    """Refuse pairs built for another task; a note when the pairs do not say which task they are for."""
    built_for = pairs_task(pairs_dir)
    if built_for is None:
        return f"the pairs in {pairs_dir} do not record a task; trained as task {task.name!r}"
    if built_for != task.name:
        raise DataError(f"pairs built for task {built_for!r}, not {task.name!r}", file=str(Path(pairs_dir) / "pairs.json"),
                        field="source.task")
    return None
