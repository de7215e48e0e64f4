"""Stage 1: supervised fine-tuning with LoRA (TRL SFTTrainer, loss on the answer only)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from data.records import DataError
from training.chat import template_record
from training.checkpoints import prepare_checkpoints
from training.common import (
    keep_adapters_fp32,
    load_model,
    load_tokenizer,
    lora_config,
    resolve_precision,
    save_outputs,
    split_eval,
    tracking,
    trainer_arguments,
)
from training.distributed import check_final_save_is_gathered, is_main_process
from training.fit import announce, fit_rows
from training.recipes import SFTRecipe
from training.runs import RunRecord, claim_run_folder, finish_run, metrics_callback

console = Console(stderr=True)

SFT_PANELS = [("loss", "eval_loss"), ("mean_token_accuracy", "eval_mean_token_accuracy")]


def sft_rows(train_file: Path, tokenizer, max_length: int, task=None, *, truncate: str = "none",
             chat_template: bool = False) -> tuple[list[dict], dict]:
    """prompt/completion rows (TRL computes the loss on the completion only); with a task, the
    task's template and SFT targets (training/task_data.py).

    Examples whose prompt alone fills max_length have no answer token left to learn from: they
    are dropped, longer ones have their answer cut, or with truncate="context" their context cut;
    each is counted with its id and said on the terminal (training/fit.py). With chat_template
    (the tokenizer has one): TRL's conversational format, the prompt as the user's turn.
    """
    from data.prepare import read_examples
    from training.chat import chat_prompt, conversational
    from training.task_data import task_examples

    examples, rerendered = read_examples(train_file), 0
    if task is not None:
        examples, rerendered = task_examples(task, examples, file=str(train_file))
    rows = [{"id": e["id"], "prompt": e["prompt"], "completion": e["answer"], "context": e.get("context") or ""}
            for e in examples]
    kept, report = fit_rows(rows, tokenizer, max_length, truncate=truncate,
                            wrap=lambda prompt: chat_prompt(tokenizer, prompt, use=chat_template))
    announce("SFT", report, max_length)
    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in kept]
    if chat_template:
        rows = [conversational(r, ("completion",)) for r in rows]
    return rows, {"examples_read": report["rows_read"], "examples_used": len(rows), "truncated": report["answer_truncated"],
                  **{k: v for k, v in report.items() if k not in ("rows_read", "rows_used")},
                  **({"prompts_rerendered_from_task_template": rerendered} if task is not None else {})}


def run_sft(recipe: SFTRecipe, *, resume: bool = False, callbacks: list = (), task=None,
            overwrite: bool = False) -> dict:
    """Train, save (adapter, merged model), record. Runs on every rank under `accelerate launch`.
    With a task (data.tasks.Task): its template and SFT targets, its name and version in run.json."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    check_final_save_is_gathered()
    output_dir = Path(recipe.output_dir)
    claim_run_folder(output_dir, "sft", overwrite=overwrite, resume=resume, record=False)  # refused before any work
    config = recipe.model_dump() | ({"task": {"name": task.name, "version": task.version}} if task is not None else {})
    record = RunRecord("sft", output_dir, config, {"train_file": Path(recipe.train_file)})
    precision = resolve_precision(recipe.training.precision)
    tracking(recipe.training.report_to)  # a tracker that is not installed stops here, before the model loads
    tokenizer = load_tokenizer(recipe.model_name_or_path)
    record.chat_template = template_record(tokenizer, recipe.training.chat_template)
    rows, counts = sft_rows(Path(recipe.train_file), tokenizer, recipe.training.max_length, task,
                            truncate=recipe.training.truncate, chat_template=record.chat_template["used"])
    record.counts.update(counts)
    if not rows:
        raise DataError(f"no usable examples (none, or every prompt reaches max_length={recipe.training.max_length} tokens)",
                        file=str(recipe.train_file))
    train_rows, eval_rows = split_eval(rows, recipe.training.eval_fraction, recipe.training.seed)
    record.counts.update({"train_rows": len(train_rows), "eval_rows": len(eval_rows)})
    claim_run_folder(output_dir, "sft", overwrite=overwrite, resume=resume)  # inputs checked: the folder is made
    checkpoint = prepare_checkpoints(output_dir / "checkpoints", record.config, record.inputs, resume=resume)
    model = load_model(recipe.model_name_or_path, precision=precision)
    args = SFTConfig(**trainer_arguments(recipe.training, output_dir / "checkpoints", precision, evaluate=bool(eval_rows)),
                     completion_only_loss=True)
    metrics_path = output_dir / "metrics.jsonl"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(recipe.lora),
        callbacks=[metrics_callback(metrics_path), *callbacks],
    )
    keep_adapters_fp32(trainer.model)
    if is_main_process():
        console.print(f"SFT: {len(train_rows)} examples ({len(eval_rows)} for eval), {precision}, "
                      f"LoRA r={recipe.lora.r} alpha={recipe.lora.alpha}" + (f", resuming from {checkpoint}" if checkpoint else ""))
    trainer.train(resume_from_checkpoint=checkpoint)
    save_outputs(trainer, tokenizer, output_dir, merge=recipe.merge, precision=precision)
    record.notes += [f"resumed from {checkpoint}"] if checkpoint else []
    run = finish_run(record, metrics_path, [(SFT_PANELS, output_dir / "sft_loss.png", "SFT")], summarise_sft)
    if is_main_process():  # cards beside adapter/ and merged/, written in every case (training/share.py)
        from training.share import write_model_cards

        write_model_cards(output_dir, run)
    return run


def summarise_sft(metrics: list[dict]) -> dict:
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    return {"final_loss": next((m["train_loss"] for m in metrics if "train_loss" in m), None),
            "eval_loss_first": evals[0] if evals else None, "eval_loss_last": evals[-1] if evals else None}
