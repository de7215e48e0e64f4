"""`medalign tasks list|show`, `medalign eval run|score` and `medalign report compare`: the
comparative study (base -> SFT -> DPO) on any task. Generation is training/generate.py's public
generate_file; parsing, metrics and tests are evaluation/'s; this module only reads and writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.admin_cli import fail
from app.report_cli import report_app
from data.records import DataError

out = Console()
err = Console(stderr=True, soft_wrap=True)
tasks_app = typer.Typer(help="The shipped tasks (configs/tasks/*.yaml).", no_args_is_help=True)
eval_app = typer.Typer(help="Answer a task's examples with a model and score them.", no_args_is_help=True)

TASK = Annotated[str, typer.Option("--task", help="Task name (`medalign tasks list`) or a task .yaml path.")]
PREDICTION_FIELDS = ("id", "system", "raw_output", "parsed", "gold", "correct")


def load_task_or_exit(name: str):
    from data.tasks import load_task
    from evaluation.compare import ALL_METRICS

    try:
        return load_task(name, known_metrics=set(ALL_METRICS))
    except DataError as exc:
        raise fail(str(exc)) from exc


@tasks_app.command("list")
def tasks_list() -> None:
    """Every shipped task with its output kind and primary metric."""
    from data.tasks import load_task, task_names

    table = Table("task", "v", "output", "primary metric", "physicians")
    for name in task_names():
        task = load_task(name)
        table.add_row(name, str(task.version), task.output, task.primary_metric, task.human_evaluation)
    out.print(table)


@tasks_app.command("show")
def tasks_show(task: Annotated[str, typer.Argument(help="Task name or .yaml path.")]) -> None:
    """The task's full definition (as validated), as YAML."""
    import yaml

    class Literal(yaml.SafeDumper):
        """Multi-line strings (the prompt template) as YAML block literals, readable as written."""

    Literal.add_representer(str, lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))
    spec = load_task_or_exit(task)
    out.print(f"# {spec.description}", highlight=False)
    out.print(yaml.dump(spec.public_dict(), Dumper=Literal, sort_keys=False, allow_unicode=True, width=110),
              highlight=False, markup=False)


def read_gold_examples(task, path: Path) -> list[dict]:
    """Prepared examples with their gold answer, checked to belong to the task."""
    from data.prepare import read_examples

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
    from evaluation.parsing import parse_answer

    task_dict = task.public_dict()
    rows = []
    for example in examples:
        outputs = generations.get(example["id"], {}).get("outputs", {})
        if system not in outputs:
            raise DataError(f"no output of system {system!r}", file=file, record=example["id"], field="outputs")
        raw = outputs[system]
        parsed = parse_answer(task_dict, raw, example.get("options"))
        correct = None if task.output == "free-text" else parsed == example["gold"]
        rows.append({"id": example["id"], "task": task.name, "task_version": task.version, "system": system,
                     "raw_output": raw, "parsed": parsed, "gold": example["gold"], "correct": correct})
    return rows


def write_predictions(task, rows: list[dict], out_file: Path, *, rounds: int) -> dict:
    from app.exports import write_atomic
    from evaluation.compare import system_metrics

    metrics = system_metrics(task.public_dict(), [r["id"] for r in rows], {r["id"]: r for r in rows}, rounds=rounds)
    metrics = {"task": task.name, "task_version": task.version, "system": rows[0]["system"] if rows else None, **metrics}
    write_atomic(out_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    write_atomic(metrics_path(out_file), (json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    return metrics


def metrics_path(predictions: Path) -> Path:
    return predictions.with_name(predictions.stem + ".metrics.json")


def _print_metrics(metrics: dict) -> None:
    shown = {k: v for k, v in metrics.items() if isinstance(v, dict) and "value" in v}
    for name, entry in shown.items():
        err.print(f"{name}: {entry['value']:.3f} (95% {entry['ci_low']:.3f}-{entry['ci_high']:.3f})", highlight=False)
    if "unparsed" in metrics:
        err.print(f"unparseable answers (scored wrong): {metrics['unparsed']} of {metrics['n']}", highlight=False)


@eval_app.command("score")
def eval_score(
    task: TASK,
    data: Annotated[Path, typer.Option("--data", help="Prepared JSONL with gold answers (e.g. holdout.jsonl).")],
    generations: Annotated[Path, typer.Option("--generations", help="Generation JSONL (`medalign generate`).")],
    system: Annotated[str, typer.Option("--system")],
    out_file: Annotated[Path, typer.Option("--out", help="Predictions JSONL; metrics go to NAME.metrics.json.")],
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples of the intervals.")] = 2000,
) -> None:
    """Score outputs already generated (by `medalign generate` or elsewhere) against the gold answers."""
    from evaluation.judgments import load_generations

    spec = load_task_or_exit(task)
    try:
        examples = read_gold_examples(spec, data)
        by_id = {row["id"]: row for row in load_generations(generations)}
        rows = score_rows(spec, examples, by_id, system, file=str(generations))
    except DataError as exc:
        raise fail(str(exc)) from exc
    _print_metrics(write_predictions(spec, rows, out_file, rounds=rounds))
    err.print(f"{system}: {len(rows)} predictions -> {out_file}", highlight=False)


@eval_app.command("run")
def eval_run(
    task: TASK,
    model: Annotated[str, typer.Option("--model", help="Model folder (base, merged SFT/DPO, or an adapter).")],
    system: Annotated[str, typer.Option("--system", help="Name of the system, e.g. base, sft, dpo.")],
    data: Annotated[Path, typer.Option("--data", help="Prepared JSONL with gold answers (e.g. holdout.jsonl).")],
    out_file: Annotated[Path, typer.Option("--out", help="Predictions JSONL; metrics go to NAME.metrics.json.")],
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 64,
    precision: Annotated[str, typer.Option(help="auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32 or 4bit; "
                                                "the same for every system of a comparison.")] = "auto",
    limit: Annotated[int | None, typer.Option(help="Only the first N examples.")] = None,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples of the intervals.")] = 2000,
) -> None:
    """Generate greedy answers (kept in NAME.generations.jsonl, resumable), parse, score."""
    from evaluation.judgments import load_generations
    from training.generate import GenerationSettings, generate_file

    spec = load_task_or_exit(task)
    generations = out_file.with_name(out_file.stem + ".generations.jsonl")
    try:
        examples = read_gold_examples(spec, data)[:limit]
        settings = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, precision=precision)
        stats = generate_file(model, data, system, generations, settings, limit=limit, task=spec)
        by_id = {row["id"]: row for row in load_generations(generations)}
        rows = score_rows(spec, examples, by_id, system, file=str(generations))
    except (DataError, OSError, ValueError) as exc:
        raise fail(str(exc)) from exc
    err.print(f"{system}: generated {stats['generated']}, reused {stats['skipped_existing']}", highlight=False)
    _print_metrics(write_predictions(spec, rows, out_file, rounds=rounds))
    err.print(f"{system}: {len(rows)} predictions -> {out_file}", highlight=False)


@eval_app.command("pairs")
def eval_pairs(
    task: TASK,
    data: Annotated[Path, typer.Option("--data", help="The prepared train.jsonl the SFT model was trained on.")],
    predictions: Annotated[Path, typer.Option("--predictions", help="The SFT model's predictions on --data "
                                              "(`eval run --system sft --data train.jsonl`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Pairs folder for `train dpo --pairs`.")],
    seed: Annotated[int, typer.Option(help="Seed of the random wrong answers.")] = 0,
) -> None:
    """DPO pairs of a label or option task: the correct answer chosen, the SFT model's wrong answer
    rejected (a random wrong answer where it was right)."""
    from training.task_data import write_choice_pairs

    spec = load_task_or_exit(task)
    try:
        examples = read_gold_examples(spec, data)
        rows = {r["id"]: r for r in read_predictions(predictions, None, spec)}
        counts = write_choice_pairs(spec.public_dict(), examples, rows, out_dir, seed=seed,
                                    source={"data": str(data), "predictions": str(predictions)})
    except (DataError, ValueError) as exc:
        raise fail(str(exc)) from exc
    err.print(f"pairs: {counts['pairs']} ({counts['sft_wrong']} SFT wrong, {counts['sft_unparsed']} unparseable, "
              f"{counts['sft_right_random_wrong']} SFT right with a random wrong answer) -> {out_dir}", highlight=False)


def _pairs(value: str, option: str) -> dict[str, str]:
    """"name=PATH,name=PATH" in the order given (the order of the stages)."""
    pairs = {}
    for part in [p for p in value.split(",") if p.strip()]:
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise DataError(f"expected NAME=PATH, got {part!r}", field=option)
        if name.strip() in pairs:
            raise DataError(f"{name.strip()!r} given twice", field=option)
        pairs[name.strip()] = path.strip()
    return pairs


def read_predictions(path: Path, system: str | None, task=None) -> list[dict]:
    """Prediction rows of `eval run`, every field present; all of `system` when one is named; for a
    label or option task, gold and parsed answers from the task's answer set (parsed may be null)."""
    from data.tables import iter_jsonl
    from evaluation.parsing import answer_set

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


def read_run_record(folder: Path) -> dict:
    """A stage's run.json, plus the trainer's `total_flos` from the last metrics.jsonl row that has it."""
    path = folder / "run.json" if folder.is_dir() else folder
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read run record: {exc.strerror or exc}", file=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    metrics = path.parent / "metrics.jsonl"
    if "total_flos" not in record and metrics.is_file():
        from data.tables import iter_jsonl

        flos = [row["total_flos"] for _, row in iter_jsonl(metrics) if "total_flos" in row]
        if flos:
            record["total_flos"] = flos[-1]
    return record


def compare_command(
    task: TASK,
    predictions: Annotated[str, typer.Option("--predictions", help="base=FILE,sft=FILE,dpo=FILE (stage order).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for compare.md, compare.html, summary.json.")],
    runs: Annotated[str, typer.Option("--runs", help="Training runs for the compute table: sft=DIR,dpo=DIR.")] = "",
    ratings: Annotated[Path | None, typer.Option("--ratings", help="Rating-study export (Likert grades).")] = None,
    criterion: Annotated[str | None, typer.Option("--criterion", help="Likert criterion of --ratings.")] = None,
    rounds: Annotated[int, typer.Option(help="Resamples of bootstrap intervals and permutation tests.")] = 10000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """The comparative study's table for one task: each system's metrics with 95% intervals, paired
    tests between stages with Holm's correction, compute per training stage."""
    from evaluation.compare import compare_systems
    from evaluation.compare_render import write_comparison
    from evaluation.rating_report import load_ratings

    spec = load_task_or_exit(task)
    try:
        files = _pairs(predictions, "--predictions")
        loaded = {system: read_predictions(Path(path), system, spec) for system, path in files.items()}
        records = {stage: read_run_record(Path(path)) for stage, path in _pairs(runs, "--runs").items()}
        rating_rows = load_ratings(ratings) if ratings else None
        summary = compare_systems(spec.public_dict(), loaded, runs=records, ratings=rating_rows,
                                  rating_criterion=criterion, rounds=rounds, seed=seed)
    except (DataError, ValueError) as exc:
        raise fail(str(exc)) from exc
    summary["inputs"] = {"predictions": files, "runs": _pairs(runs, "--runs"),
                         "ratings": str(ratings) if ratings else None, "rounds": rounds, "seed": seed}
    written = write_comparison(summary, out_dir)
    err.print(f"compare: {', '.join(p.name for p in written)} in {out_dir}", highlight=False)


report_app.command("compare")(compare_command)
