"""`medalign train ...` and `medalign generate`: thin wrappers around the stage functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from data.records import DataError
from training.checkpoints import ResumeError
from training.distributed import LaunchError
from training.recipes import RecipeError, load_recipe

err = Console(stderr=True, soft_wrap=True)
train_app = typer.Typer(help="Training stages: tiny-model, sft, pairs, dpo, feedback.", no_args_is_help=True)

CONFIG = Annotated[Path, typer.Option("--config", help="YAML recipe (configs/...).")]
SET = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe key: section.key=value (repeatable).")]
RESUME = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUTPUT_DIR/checkpoints.")]
TASK = Annotated[str | None, typer.Option("--task", help="Task name (`medalign tasks list`) or a task .yaml path: its "
                                          "template, targets and pairs; fills {task} in the recipe's paths.")]


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(2)


def recipe_or_exit(path: Path, overrides: list[str] | None, stage: str):
    try:
        return load_recipe(path, overrides or [], stage=stage)
    except RecipeError as exc:
        raise fail(str(exc)) from exc


def task_or_exit(name: str | None):
    from training.task_data import load_stage_task

    try:
        return load_stage_task(name) if name is not None else None
    except DataError as exc:
        raise fail(str(exc)) from exc


def task_recipe_or_exit(path: Path, overrides: list[str] | None, stage: str, task_name: str | None):
    """The recipe with `{task}` in its paths filled in, and the task (None without --task)."""
    from training.task_data import resolve_recipe_paths

    task = task_or_exit(task_name)
    try:
        return resolve_recipe_paths(recipe_or_exit(path, overrides, stage), task, source=str(path)), task
    except DataError as exc:
        raise fail(str(exc)) from exc


@train_app.command("tiny-model")
def tiny_model(
    data: Annotated[Path, typer.Option("--data", help="Folder with prepared .jsonl files (the corpus).")],
    out: Annotated[Path, typer.Option("--out", help="Where to save the model and tokenizer.")],
    config: Annotated[Path, typer.Option("--config")] = Path("configs/tiny/model.yaml"),
    overrides: SET = None,
) -> None:
    """Build a tiny Mistral-architecture model and BPE tokenizer from the local corpus."""
    from training.tiny_model import build_tiny_model

    recipe = recipe_or_exit(config, overrides, "tiny-model")
    try:
        summary = build_tiny_model(data, out, recipe)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from exc
    err.print(f"tiny model: {summary['parameters']:,} parameters, saved to {out}")


@train_app.command("sft")
def sft(config: CONFIG, overrides: SET = None, resume: RESUME = False, task: TASK = None) -> None:
    """Supervised fine-tuning with LoRA; saves the adapter, the merged model and run.json."""
    from training.distributed import is_main_process
    from training.sft import run_sft

    recipe, spec = task_recipe_or_exit(config, overrides, "sft", task)
    try:
        record = run_sft(recipe, resume=resume, task=spec)
    except (DataError, ResumeError, LaunchError, FileNotFoundError) as exc:  # a message, not a traceback
        raise fail(str(exc)) from exc
    if is_main_process():
        err.print(f"SFT done in {record['wall_time_s']} s: {recipe.output_dir}")


@train_app.command("pairs")
def pairs(
    model: Annotated[str, typer.Option("--model", help="The SFT model (merged folder).")],
    data: Annotated[Path, typer.Option("--data", help="Prepared train.jsonl.")],
    out: Annotated[Path, typer.Option("--out")],
    batch_size: Annotated[int | None, typer.Option(help="Prompts per batch; default: the most that fit memory.")] = None,
    max_new_tokens: int = 128,
    task: TASK = None,
    seed: Annotated[int, typer.Option(help="Label/option tasks: seed of the random wrong answers.")] = 0,
) -> None:
    """DPO pairs: chosen = gold answer, rejected = the SFT model's answer (for a label or option task,
    its wrong answer, or a random wrong one where it was right)."""
    from training.distributed import single_process_only
    from training.generate import GenerationSettings
    from training.pairs import make_pairs

    spec = task_or_exit(task)
    try:
        single_process_only("pairs")
        counts = make_pairs(model, data, out, GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens),
                            task=spec, seed=seed)
    except (LaunchError, DataError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from exc
    err.print(f"pairs: {json.dumps(counts)}")


@train_app.command("dpo")
def dpo(
    config: CONFIG,
    pairs_dir: Annotated[Path | None, typer.Option("--pairs", help="Pairs folder (overrides pairs_dir).")] = None,
    overrides: SET = None,
    resume: RESUME = False,
    task: TASK = None,
) -> None:
    """DPO with a new LoRA on the merged SFT model; 4-bit on CUDA (fp32 LoRA), unquantized on CPU."""
    from training.distributed import is_main_process
    from training.dpo import run_dpo

    recipe, spec = task_recipe_or_exit(config, overrides, "dpo", task)
    try:
        record = run_dpo(recipe, pairs_dir=pairs_dir, resume=resume, task=spec)
    except (DataError, ResumeError, LaunchError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    if is_main_process():
        err.print(f"DPO done in {record['wall_time_s']} s: reward margin {record['reward_margin_first']} -> "
                  f"{record['reward_margin_last']}; {recipe.output_dir}")


def generate_command(
    model: Annotated[str, typer.Option("--model", help="Model folder (base, merged SFT/DPO, or an adapter).")],
    data: Annotated[Path, typer.Option("--data", help="Prepared JSONL (e.g. holdout.jsonl).")],
    system: Annotated[str, typer.Option("--system", help="Name under which answers are stored, e.g. sft.")],
    out: Annotated[Path, typer.Option("--out", help="Generation JSONL to write or merge into.")],
    batch_size: Annotated[int | None, typer.Option(help="Prompts per batch; default: the most that fit memory.")] = None,
    max_new_tokens: int = 128,
    sample: Annotated[bool, typer.Option("--sample/--greedy")] = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    precision: Annotated[str, typer.Option(
        help="auto (bf16 on a CUDA GPU, fp32 on CPU), bf16, fp16, fp32 or 4bit. Keep the default for every system: "
             "then physicians compare alignment, not quantization.")] = "auto",
    engine: Annotated[str, typer.Option(help="transformers, or vllm (optional extra, CUDA GPUs).")] = "transformers",
    limit: Annotated[int | None, typer.Option(help="Only the first N examples.")] = None,
    task: TASK = None,
) -> None:
    """Batched generation (left padding, greedy by default); resumable; merges systems; records precision."""
    from training.distributed import single_process_only
    from training.generate import ENGINES, PRECISIONS, GenerationSettings, generate_file
    from training.vllm_engine import EngineUnavailable

    spec = task_or_exit(task)
    try:
        single_process_only("generate")
    except LaunchError as exc:
        raise fail(str(exc)) from exc
    if precision not in PRECISIONS or engine not in ENGINES:
        raise fail(f"--precision must be one of {', '.join(PRECISIONS)} and --engine one of {', '.join(ENGINES)}")
    settings = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, do_sample=sample,
                                  temperature=temperature, top_p=top_p, seed=seed, precision=precision, engine=engine)
    try:
        stats = generate_file(model, data, system, out, settings, limit=limit, task=spec)
    except (EngineUnavailable, DataError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    err.print(f"{system}: generated {stats['generated']}, skipped {stats['skipped_existing']} already done -> {out}")
