"""`medalign train tiny-model|sft|pairs|dpo|feedback` and `medalign generate`: thin wrappers
around training/'s stage functions.

This module never imports app/ (`python -m training`, the entry `accelerate launch` starts on
every rank, builds its commands from here): `train feedback --study` reads the database through
a reader the medalign root passes to `build`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medalign.errors import add_commands, fail, guard
from medalign.options import DB, OVERWRITE

err = Console(stderr=True, soft_wrap=True)

CONFIG = Annotated[Path, typer.Option("--config", help="YAML recipe (configs/...).")]
SET = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe key: section.key=value (repeatable).")]
RESUME = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in OUTPUT_DIR/checkpoints.")]
CHAT = Annotated[bool, typer.Option("--chat-template/--no-chat-template", help="Use the tokenizer's chat template "
                                    "when it has one (TRL's conversational format); recorded in run.json.")]
THREADS = Annotated[int | None, typer.Option("--threads", help="CPU threads for torch (default: torch's, one per core); "
                                             "kept in the run record.")]
TRUNCATE = Annotated[str | None, typer.Option("--truncate", help="An example longer than max_length: none (drop it, or "
                                              "cut the answer; counted with ids) or context (cut the context, keep the "
                                              "question). Sets training.truncate.")]
PUSH = Annotated[str | None, typer.Option("--push-to-hub", help="Share the adapter (with its model card) to a Hub "
                                          "repository user/name, or a local folder (file:///path).")]
PUSH_MERGED = Annotated[str | None, typer.Option("--push-merged-to-hub", help="Share the merged model (with its card) "
                                                 "to a Hub repository or a local folder.")]
TASK = Annotated[str | None, typer.Option("--task", help="Task name (`medalign tasks list`) or a task .yaml path: its "
                                          "template, targets and pairs; fills {task} in the recipe's paths.")]


def _task(name: str | None):
    from data.records import DataError
    from training.task_data import load_stage_task  # torch through training.pairs: start-up cost

    try:
        return load_stage_task(name) if name is not None else None
    except DataError as exc:
        exc.file = exc.file or "--task"  # an unknown name: the option, not "<input>"
        raise


def _recipe(path: Path, overrides: list[str] | None, stage: str, task_name: str | None = None, *,
            truncate: str | None = None, chat_template: bool = True):
    """The recipe with `{task}` in its paths filled in, and the task (None without --task)."""
    from training.recipes import load_recipe  # pydantic: start-up cost
    from training.task_data import resolve_recipe_paths

    task = _task(task_name)
    overrides = [*(overrides or []), *([f"training.truncate={truncate}"] if truncate else []),
                 *([] if chat_template else ["training.chat_template=false"])]
    return resolve_recipe_paths(load_recipe(path, overrides or [], stage=stage), task, source=str(path)), task


def tiny_model(
    data: Annotated[Path, typer.Option("--data", help="Folder with prepared .jsonl files (the corpus).")],
    out: Annotated[Path, typer.Option("--out", help="Where to save the model and tokenizer.")],
    config: Annotated[Path, typer.Option("--config")] = Path("configs/tiny/model.yaml"),
    overrides: SET = None,
    overwrite: OVERWRITE = False,
) -> None:
    """Build a tiny Mistral-architecture model and BPE tokenizer from the local corpus."""
    from data.safe_output import check_output_folder, output_folder
    from training.recipes import load_recipe  # pydantic: start-up cost
    from training.tiny_model import build_tiny_model  # torch, transformers: start-up cost

    check_output_folder(out, overwrite=overwrite)  # before any work: a user's folder is never written into
    recipe = load_recipe(config, overrides or [], stage="tiny-model")
    with output_folder(out, overwrite=overwrite) as staging:  # built beside it, then renamed into place
        summary = build_tiny_model(data, staging, recipe)
    err.print(f"tiny model: {summary['parameters']:,} parameters, saved to {out}")


def _share(output_dir: str, push: str | None, push_merged: str | None) -> None:
    """Upload (or copy) adapter/ and merged/ with the cards the stage wrote."""
    from training.distributed import is_main_process
    from training.share import push_folder

    if not is_main_process():
        return
    for folder, repo in (("adapter", push), ("merged", push_merged)):
        if repo:
            err.print(f"shared {folder}/ -> {push_folder(Path(output_dir) / folder, repo)}", highlight=False)


RUN_OVERWRITE = Annotated[bool, typer.Option("--overwrite", help="Train into a non-empty output_dir that is not an "
                                             "earlier run of this stage: written beside its files, never over them.")]


def sft(config: CONFIG, overrides: SET = None, resume: RESUME = False, task: TASK = None, truncate: TRUNCATE = None,
        chat_template: CHAT = True, push_to_hub: PUSH = None, push_merged_to_hub: PUSH_MERGED = None,
        overwrite: RUN_OVERWRITE = False) -> None:
    """Supervised fine-tuning with LoRA; saves the adapter, the merged model and run.json."""
    from training.distributed import is_main_process
    from training.runs import claim_run_folder

    recipe, spec = _recipe(config, overrides, "sft", task, truncate=truncate, chat_template=chat_template)
    claim_run_folder(recipe.output_dir, "sft", overwrite=overwrite, resume=resume, record=False)  # before TRL's imports
    from training.sft import run_sft  # torch, transformers, TRL: start-up cost

    record = run_sft(recipe, resume=resume, task=spec, overwrite=overwrite)
    if is_main_process():
        err.print(f"SFT done in {record['wall_time_s']} s: {recipe.output_dir}")
    _share(recipe.output_dir, push_to_hub, push_merged_to_hub)


def pairs(
    model: Annotated[str, typer.Option("--model", help="The SFT model (merged folder).")],
    data: Annotated[Path, typer.Option("--data", help="Prepared train.jsonl.")],
    out: Annotated[Path, typer.Option("--out")],
    batch_size: Annotated[int | None, typer.Option(help="Prompts per batch; default: the most that fit memory.")] = None,
    max_new_tokens: int = 128,
    task: TASK = None,
    seed: Annotated[int, typer.Option(help="Label/option tasks: seed of the random wrong answers.")] = 0,
    chat_template: CHAT = True,
    threads: THREADS = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty --out that is not an earlier "
                                            "`train pairs` output: beside its files, never over them.")] = False,
) -> None:
    """DPO pairs: chosen = gold answer, rejected = the SFT model's answer (for a label or option task,
    its wrong answer, or a random wrong one where it was right)."""
    from training.distributed import single_process_only
    from training.generate import GenerationSettings  # torch, transformers: start-up cost
    from training.pairs import make_pairs

    spec = _task(task)
    single_process_only("pairs")
    counts = make_pairs(model, data, out, GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens,
                                                                       chat_template=chat_template, threads=threads),
                        task=spec, seed=seed, overwrite=overwrite)
    err.print(f"pairs: {json.dumps(counts)}")


def dpo(
    config: CONFIG,
    pairs_dir: Annotated[Path | None, typer.Option("--pairs", help="Pairs folder (overrides pairs_dir).")] = None,
    overrides: SET = None,
    resume: RESUME = False,
    task: TASK = None,
    truncate: TRUNCATE = None,
    chat_template: CHAT = True,
    push_to_hub: PUSH = None,
    push_merged_to_hub: PUSH_MERGED = None,
    overwrite: RUN_OVERWRITE = False,
) -> None:
    """DPO with a new LoRA on the merged SFT model; 4-bit on CUDA (fp32 LoRA), unquantized on CPU."""
    from training.distributed import is_main_process
    from training.runs import claim_run_folder

    recipe, spec = _recipe(config, overrides, "dpo", task, truncate=truncate, chat_template=chat_template)
    claim_run_folder(recipe.output_dir, "dpo", overwrite=overwrite, resume=resume, record=False)  # before TRL's imports
    from training.dpo import run_dpo  # torch, transformers, TRL: start-up cost

    record = run_dpo(recipe, pairs_dir=pairs_dir, resume=resume, task=spec, overwrite=overwrite)
    if is_main_process():
        err.print(f"DPO done in {record['wall_time_s']} s: reward margin {record['reward_margin_first']} -> "
                  f"{record['reward_margin_last']}; {recipe.output_dir}")
    _share(recipe.output_dir, push_to_hub, push_merged_to_hub)


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
    chat_template: CHAT = True,
    threads: THREADS = None,
    resume: Annotated[bool, typer.Option("--resume", help="Merge into an existing --out that medalign did not write "
                                         "(e.g. before this release): its rows are kept. Its own files are merged "
                                         "into without this.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out (its rows are not "
                                            "kept).")] = False,
) -> None:
    """Batched generation (left padding, greedy by default); resumable; merges systems; records precision.
    Into an existing --out only when medalign wrote it (its folder's manifest), or with --resume/--overwrite."""
    from data.safe_output import check_merge_file, claim_file
    from training.distributed import single_process_only
    from training.generate import ENGINES, PRECISIONS, GenerationSettings, generate_file, generation_record_path  # torch: start-up cost
    from training.vllm_engine import EngineUnavailable

    fresh = check_merge_file(out, overwrite=overwrite, resume=resume, command="`medalign generate`")  # before any work
    spec = _task(task)
    single_process_only("generate")
    if precision not in PRECISIONS or engine not in ENGINES:
        raise fail(f"--precision must be one of {', '.join(PRECISIONS)} and --engine one of {', '.join(ENGINES)}")
    settings = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, do_sample=sample,
                                  temperature=temperature, top_p=top_p, seed=seed, precision=precision, engine=engine,
                                  chat_template=chat_template, threads=threads)
    try:
        claim_file(out, generation_record_path(out))  # medalign's own from now on: a later run merges into it
        stats = generate_file(model, data, system, out, settings, limit=limit, task=spec, fresh=fresh)
    except EngineUnavailable as exc:  # a RuntimeError: the engine cannot run on this machine
        raise fail(str(exc)) from exc
    err.print(f"{system}: generated {stats['generated']}, skipped {stats['skipped_existing']} already done -> {out}")


FEEDBACK_TASK = Annotated[str | None, typer.Option("--task", help="The study's task (name or .yaml path): its template "
                                                   "builds the pairs' prompts (default: training.feedback.DEFAULT_TASK, "
                                                   "the task of the physician studies so far).")]


def _rubric(rubric_file: Path | None, settings: dict):
    """The rubric that gives each criterion's direction: --rubric FILE, else the study's own."""
    from evaluation.rubric import Rubric, load_rubric

    if rubric_file is not None:
        return load_rubric(rubric_file)
    return Rubric.model_validate(settings["rubric"]) if settings.get("rubric") else None


def feedback_command(read_study: Callable | None) -> Callable:
    """`train feedback`: judgments from a study (`--study`, through read_study(db, name)) or from an
    export file (`--judgments`) -> DPO pairs. Without a reader (`python -m training`) only exports."""

    def feedback(
        out: Annotated[Path, typer.Option("--out", help="Pairs folder to write (for `train dpo --pairs`).")],
        study: Annotated[str | None, typer.Option("--study", help="The study in the database.")] = None,
        judgments: Annotated[Path | None, typer.Option(
            "--judgments", help="A judgment export (`medalign export`), .csv or .jsonl, instead of --study.")] = None,
        min_agreement: Annotated[float, typer.Option(
            "--min-agreement", help="Share of all votes (ties and both-bad included) that agree with the pair.")] = 0.5,
        min_votes: Annotated[int | None, typer.Option(
            "--min-votes", help="Decisive votes a pair needs (default: 2 when the study's overlap is 2 or more, "
                                "else 1).")] = None,
        min_gold_accuracy: Annotated[float | None, typer.Option(
            "--min-gold-accuracy", help="Pairwise: leave out raters below this gold accuracy.")] = None,
        criterion: Annotated[str | None, typer.Option(
            "--criterion", help="Rating: the rubric criterion pairs are built on, in the rubric's direction "
                                "(higher_is_better).")] = None,
        criteria: Annotated[str | None, typer.Option(
            "--criteria", help="Rating: several criteria combined by an explicit rule, e.g. "
                               "harm_extent:-1,accuracy:+1 (score = sum of weight x grade).")] = None,
        rubric: Annotated[Path | None, typer.Option(
            "--rubric", help="Rating, with --judgments: the study's rubric YAML (each criterion's direction).")] = None,
        task_data: Annotated[Path | None, typer.Option(
            "--task-data", help="Prepared task JSONL whose options complete an export of an option task "
                                "(MedQA) that does not carry them.")] = None,
        margin: Annotated[float, typer.Option(
            "--margin", help="Rating: the smallest difference of mean grades that makes a pair.")] = 1.0,
        merge: Annotated[Path | None, typer.Option("--merge", help="Pairs folder to merge with (no duplicates).")] = None,
        task: FEEDBACK_TASK = None,
        db: DB = None,
        overwrite: OVERWRITE = False,
    ) -> None:
        """Physicians' judgments (pairwise votes or rubric ratings) -> new DPO pairs for the next round."""
        if (study is None) == (judgments is None):
            raise fail("give either --study (the database) or --judgments (an export file)")
        from data.safe_output import check_output_folder

        check_output_folder(out, overwrite=overwrite)  # a user's non-empty folder is refused before any work
        if study is not None:
            if read_study is None:
                raise fail("`python -m training feedback` reads exports (--judgments); "
                           "`medalign train feedback --study` reads the database")
            found = read_study(db, study)
            rows, settings, source = found.rows, found.settings, {"study": study}
        else:
            from evaluation.judgments import read_export

            rows, settings, source = read_export(judgments)[1], {}, {"judgments": str(judgments)}
        from training.feedback import DEFAULT_TASK
        from training.feedback_io import write_feedback_pairs  # torch, TRL: start-up cost

        write_feedback_pairs(rows, out, source=source, task=task or DEFAULT_TASK, rubric=_rubric(rubric, settings),
                             merge=merge, task_data=task_data, criterion=criterion, criteria=criteria, margin=margin,
                             min_agreement=min_agreement, min_votes=min_votes, min_gold_accuracy=min_gold_accuracy,
                             overlap=settings.get("overlap"), overwrite=overwrite)

    return feedback


def build(read_study: Callable | None = None) -> typer.Typer:
    """The `train` group; read_study(db, name) -> export rows lets `feedback --study` read the database."""
    group = typer.Typer(help="Training stages: tiny-model, sft, pairs, dpo, feedback.", no_args_is_help=True)
    return add_commands(group, {"tiny-model": tiny_model, "sft": sft, "pairs": pairs, "dpo": dpo,
                                "feedback": feedback_command(read_study)})


def training_entry() -> typer.Typer:
    """`python -m training`: the train group's commands at the top level, and generate (exports only for feedback)."""
    entry = build()
    entry.info.help = "medalign training stages (python -m training STAGE --help)."
    entry.command("generate")(guard(generate_command))
    return entry


def register(root: typer.Typer, read_study: Callable | None = None) -> None:
    root.add_typer(build(read_study), name="train")
    root.command("generate")(guard(generate_command))
