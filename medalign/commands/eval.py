"""`medalign eval run|score|pairs`: answer a task's examples with a model, parse and score them.
Generation is training/generate.py's; parsing, metrics and files are evaluation/predictions.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medalign.commands.tasks import load_task_checked
from medalign.commands.train import CHAT, THREADS
from medalign.errors import add_commands, fail
from medalign.options import OVERWRITE

err = Console(stderr=True, soft_wrap=True)

TASK = Annotated[str, typer.Option("--task", help="Task name (`medalign tasks list`) or a task .yaml path.")]
DATA = Annotated[Path, typer.Option("--data", help="Prepared JSONL with gold answers (e.g. holdout.jsonl).")]
OUT = Annotated[Path, typer.Option("--out", help="Predictions JSONL; metrics go to NAME.metrics.json.")]
ROUNDS = Annotated[int, typer.Option(help="Bootstrap resamples of the intervals.")]


def _check_outputs(out_file: Path, overwrite: bool) -> None:
    """Before any work: the predictions and NAME.metrics.json refuse an existing file unless --overwrite."""
    from data.safe_output import check_output_file
    from evaluation.predictions import metrics_path

    for path in (out_file, metrics_path(out_file)):
        check_output_file(path, overwrite=overwrite)


def _print_metrics(metrics: dict) -> None:
    shown = {k: v for k, v in metrics.items() if isinstance(v, dict) and "value" in v}
    for name, entry in shown.items():
        err.print(f"{name}: {entry['value']:.3f} (95% {entry['ci_low']:.3f}-{entry['ci_high']:.3f})", highlight=False)
    if "unparsed" in metrics:
        err.print(f"unparseable answers (scored wrong): {metrics['unparsed']} of {metrics['n']}", highlight=False)


def _score_and_write(spec, examples: list[dict], generations: Path, system: str, out_file: Path, rounds: int) -> None:
    # evaluation.predictions imports numpy/scipy through evaluation.compare: start-up cost.
    from data.generations import read_generations
    from evaluation.predictions import score_rows, write_predictions

    by_id = {row["id"]: row for row in read_generations(generations)}
    rows = score_rows(spec, examples, by_id, system, file=str(generations))
    _print_metrics(write_predictions(spec, rows, out_file, rounds=rounds))
    err.print(f"{system}: {len(rows)} predictions -> {out_file}", highlight=False)


def eval_score(
    task: TASK,
    data: DATA,
    generations: Annotated[Path, typer.Option("--generations", help="Generation JSONL (`medalign generate`).")],
    system: Annotated[str, typer.Option("--system")],
    out_file: OUT,
    rounds: ROUNDS = 2000,
    overwrite: OVERWRITE = False,
) -> None:
    """Score outputs already generated (by `medalign generate` or elsewhere) against the gold answers."""
    from evaluation.predictions import read_gold_examples  # numpy/scipy: start-up cost

    _check_outputs(out_file, overwrite)
    spec = load_task_checked(task)
    _score_and_write(spec, read_gold_examples(spec, data), generations, system, out_file, rounds)


def eval_run(
    task: TASK,
    model: Annotated[str, typer.Option("--model", help="Model folder (base, merged SFT/DPO, or an adapter).")],
    system: Annotated[str, typer.Option("--system", help="Name of the system, e.g. base, sft, dpo.")],
    data: DATA,
    out_file: OUT,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 64,
    precision: Annotated[str, typer.Option(help="auto (bf16 on CUDA, fp32 on CPU), bf16, fp16, fp32 or 4bit; "
                                                "the same for every system of a comparison.")] = "auto",
    limit: Annotated[int | None, typer.Option(help="Only the first N examples.")] = None,
    rounds: ROUNDS = 2000,
    engine: Annotated[str, typer.Option(help="transformers, or vllm (optional extra, CUDA GPUs), as in "
                                             "`medalign generate`.")] = "transformers",
    chat_template: CHAT = True,
    threads: THREADS = None,
    constrained: Annotated[bool, typer.Option("--constrained", help="Label and option tasks: answer with the allowed "
                                              "label (or letter) of highest log-likelihood, as lm-evaluation-harness "
                                              "scores multiple choice (training/choices.py); recorded in the run "
                                              "record.")] = False,
    normalize: Annotated[str, typer.Option("--normalize", help="With --constrained: none (the summed log-likelihood, "
                                           "lm-evaluation-harness acc) or bytes (divided by the answer's length "
                                           "in UTF-8 bytes, its acc_norm: less favour to short labels); recorded "
                                           "in the run record.")] = "none",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the predictions, NAME.metrics.json and "
                                            "NAME.generations.jsonl (the generations start over).")] = False,
) -> None:
    """Generate greedy answers (kept in NAME.generations.jsonl, resumable), parse, score.
    An existing prediction file is refused unless --overwrite; the generations resume when medalign wrote them."""
    from evaluation.predictions import read_gold_examples  # numpy/scipy: start-up cost
    from training.generate import ENGINES, GenerationSettings, generate_file  # torch, transformers: start-up cost
    from training.vllm_engine import EngineUnavailable

    if engine not in ENGINES:
        raise fail(f"--engine must be one of {', '.join(ENGINES)}")
    from training.choices import NORMALIZATIONS

    if normalize not in NORMALIZATIONS:
        raise fail(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
    if normalize != "none" and not constrained:
        raise fail("--normalize applies to constrained answers: add --constrained (free text is not scored by "
                   "log-likelihood)")
    from data.safe_output import check_merge_file, claim_file
    from evaluation.predictions import metrics_path
    from training.generate import generation_record_path

    generations = out_file.with_name(out_file.stem + ".generations.jsonl")
    _check_outputs(out_file, overwrite)  # before any work
    fresh = check_merge_file(generations, overwrite=overwrite, command="`medalign eval run`")
    spec = load_task_checked(task)
    examples = read_gold_examples(spec, data)[:limit]
    from training.choices import check_resumed_mode, task_choices  # closed answer sets (--constrained)

    settings = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, precision=precision, engine=engine,
                                  chat_template=chat_template, threads=threads,
                                  choices=task_choices(spec) if constrained else (), choice_normalization=normalize)
    if not fresh:
        check_resumed_mode(generations, system, settings.choices, settings.choice_normalization)
    try:
        claim_file(generations, generation_record_path(generations), out_file, metrics_path(out_file))
        stats = generate_file(model, data, system, generations, settings, limit=limit, task=spec, fresh=fresh)
    except EngineUnavailable as exc:  # the engine cannot run on this machine: say so, no traceback
        raise fail(str(exc)) from exc
    err.print(f"{system}: generated {stats['generated']}, reused {stats['skipped_existing']}", highlight=False)
    _score_and_write(spec, examples, generations, system, out_file, rounds)


def eval_pairs(
    task: TASK,
    data: Annotated[Path, typer.Option("--data", help="The prepared train.jsonl the SFT model was trained on.")],
    predictions: Annotated[Path, typer.Option("--predictions", help="The SFT model's predictions on --data "
                                              "(`eval run --system sft --data train.jsonl`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Pairs folder for `train dpo --pairs`.")],
    seed: Annotated[int, typer.Option(help="Seed of the random wrong answers.")] = 0,
    overwrite: OVERWRITE = False,
) -> None:
    """DPO pairs of a label or option task: the correct answer chosen, the SFT model's wrong answer
    rejected (a random wrong answer where it was right)."""
    from data.safe_output import check_output_folder, output_folder
    from evaluation.predictions import read_gold_examples, read_predictions  # numpy/scipy: start-up cost
    from training.pairs import write_choice_pairs  # torch, transformers: start-up cost

    check_output_folder(out_dir, overwrite=overwrite)  # before any work: a user's folder is never written into
    spec = load_task_checked(task)
    examples = read_gold_examples(spec, data)
    rows = {r["id"]: r for r in read_predictions(predictions, None, spec)}
    with output_folder(out_dir, overwrite=overwrite) as staging:  # written beside it, then renamed into place
        counts = write_choice_pairs(spec.public_dict(), examples, rows, staging, seed=seed,
                                    source={"data": str(data), "predictions": str(predictions)})
    err.print(f"pairs: {counts['pairs']} ({counts['sft_wrong']} SFT wrong, {counts['sft_unparsed']} unparseable, "
              f"{counts['sft_right_random_wrong']} SFT right with a random wrong answer) -> {out_dir}", highlight=False)


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="Answer a task's examples with a model and score them.", no_args_is_help=True)
    root.add_typer(add_commands(group, {"run": eval_run, "score": eval_score, "pairs": eval_pairs}), name="eval")
