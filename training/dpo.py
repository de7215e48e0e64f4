"""Stage 3: DPO with a new LoRA on the merged SFT model (TRL DPOTrainer, sigmoid loss).

The reference model is the same model with the new adapter disabled (ref_model=None and a
peft_config): no second copy in memory. On CUDA the model is loaded in 4-bit as the recipe
says, with the LoRA weights kept in fp32; on a CPU it trains unquantized, because
bitsandbytes' CPU path silently loses LoRA gradients after a no-grad forward pass (see README).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from data.records import DataError
from training.chat import template_record
from training.checkpoints import prepare_checkpoints
from training.common import (
    cuda_available,
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
from training.recipes import DPORecipe
from training.runs import RunRecord, claim_run_folder, finish_run, metrics_callback

console = Console(stderr=True)

DPO_PANELS = [("rewards/margins", "eval_rewards/margins"), ("rewards/accuracies", "eval_rewards/accuracies"),
              ("loss", "eval_loss")]


def read_pairs(pairs_dir: Path) -> list[dict]:
    path = Path(pairs_dir) / "pairs.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (run `medalign train pairs` or `medalign train feedback`)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"not a JSON object ({exc.msg})", file=str(path), line=number) from exc
        if not isinstance(row, dict):
            raise DataError("not a JSON object", file=str(path), line=number)
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DataError("missing or empty", file=str(path), line=number, field=key)
        rows.append({"id": str(row.get("id") or f"line {number}"), "prompt": row["prompt"], "chosen": row["chosen"],
                     "rejected": row["rejected"], "context": row.get("context") or ""})
    return rows


def dpo_rows(pairs_dir: Path, tokenizer, max_length: int, *, truncate: str = "none",
             chat_template: bool = False) -> tuple[list[dict], dict]:
    """The pairs TRL will train on, and what was dropped or cut, with ids (training/fit.py: TRL
    itself drops a pair whose prompt alone reaches max_length without saying so)."""
    from training.chat import chat_prompt, conversational

    kept, report = fit_rows(read_pairs(pairs_dir), tokenizer, max_length, truncate=truncate,
                            answers=("chosen", "rejected"), wrap=lambda prompt: chat_prompt(tokenizer, prompt, use=chat_template))
    announce("DPO", report, max_length)
    if not kept:
        raise DataError(f"no usable pairs (none, or every prompt reaches max_length={max_length} tokens)",
                        file=str(Path(pairs_dir) / "pairs.jsonl"))
    rows = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in kept]
    if chat_template:  # TRL's conversational format: the prompt is the user's turn, each answer the assistant's
        rows = [conversational(r, ("chosen", "rejected")) for r in rows]
    return rows, {"pairs_read": report["rows_read"], "pairs_used": len(rows),
                  **{k: v for k, v in report.items() if k not in ("rows_read", "rows_used")}}


def effective_quantization(recipe: DPORecipe, record: RunRecord):
    """The recipe's 4-bit settings on CUDA; None (unquantized, noted in run.json) on a CPU."""
    quantization = recipe.quantization if recipe.quantization and recipe.quantization.load_in_4bit else None
    if quantization is not None and not cuda_available():
        note = ("CPU: training unquantized (the 4-bit recipe needs CUDA; bitsandbytes on CPU silently loses LoRA "
                "gradients after a no-grad forward)")
        if is_main_process():
            console.print(f"[yellow]{note}[/yellow]")
        record.notes.append(note)
        return None
    return quantization


def build_dpo_trainer(model, tokenizer, recipe: DPORecipe, train_rows: list[dict], eval_rows: list[dict], *,
                      precision: str, quantized: bool, callbacks: list = ()):
    """A DPOTrainer with a new LoRA whose weights (and so optimizer state) stay fp32."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recipe.training.gradient_checkpointing)
    output_dir = Path(recipe.output_dir)
    args = DPOConfig(
        **trainer_arguments(recipe.training, output_dir / "checkpoints", precision, evaluate=bool(eval_rows)),
        beta=recipe.training.beta,
        loss_type=[recipe.training.loss_type],
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(recipe.lora),
        callbacks=[metrics_callback(output_dir / "metrics.jsonl"), *callbacks],
    )
    keep_adapters_fp32(trainer.model)
    return trainer


def run_dpo(recipe: DPORecipe, *, pairs_dir: Path | None = None, resume: bool = False, callbacks: list = (),
            task=None, overwrite: bool = False) -> dict:
    """Train, save (adapter, merged model), record. Runs on every rank under `accelerate launch`.
    With a task: pairs built for another task are refused; its name and version go in run.json."""
    from training.task_data import check_pairs_task

    check_final_save_is_gathered()
    pairs_dir = Path(pairs_dir or recipe.pairs_dir)
    output_dir = Path(recipe.output_dir)
    claim_run_folder(output_dir, "dpo", overwrite=overwrite, resume=resume, record=False)  # refused before any work
    config = recipe.model_dump()
    config["pairs_dir"] = str(pairs_dir)
    note = None
    if task is not None:
        note = check_pairs_task(task, pairs_dir)
        config["task"] = {"name": task.name, "version": task.version}
    record = RunRecord("dpo", output_dir, config, {"pairs": pairs_dir / "pairs.jsonl"})
    record.notes += [note] if note else []
    precision = resolve_precision(recipe.training.precision)
    tracking(recipe.training.report_to)  # a tracker that is not installed stops here, before the model loads
    quantization = effective_quantization(recipe, record)
    tokenizer = load_tokenizer(recipe.model_name_or_path)
    record.chat_template = template_record(tokenizer, recipe.training.chat_template)
    rows, counts = dpo_rows(pairs_dir, tokenizer, recipe.training.max_length, truncate=recipe.training.truncate,
                            chat_template=record.chat_template["used"])
    train_rows, eval_rows = split_eval(rows, recipe.training.eval_fraction, recipe.training.seed)
    record.counts.update({**counts, "train_rows": len(train_rows), "eval_rows": len(eval_rows)})
    claim_run_folder(output_dir, "dpo", overwrite=overwrite, resume=resume)  # inputs checked: the folder is made
    checkpoint = prepare_checkpoints(output_dir / "checkpoints", record.config, record.inputs, resume=resume)
    model = load_model(recipe.model_name_or_path, precision=precision, quantization=quantization)
    trainer = build_dpo_trainer(model, tokenizer, recipe, train_rows, eval_rows, precision=precision,
                                quantized=quantization is not None, callbacks=callbacks)
    if is_main_process():
        console.print(f"DPO: {len(train_rows)} pairs ({len(eval_rows)} for eval), beta={recipe.training.beta}, "
                      f"{'4-bit base, fp32 LoRA' if quantization else precision}" + (f", resuming from {checkpoint}" if checkpoint else ""))
    trainer.train(resume_from_checkpoint=checkpoint)
    # the merge reloads the base unquantized, so a 4-bit run is merged into full weights, not rounded 4-bit ones
    save_outputs(trainer, tokenizer, output_dir, merge=recipe.merge, precision=precision)
    record.notes += [f"resumed from {checkpoint}"] if checkpoint else []
    run = finish_run(record, output_dir / "metrics.jsonl",
                      [(DPO_PANELS, output_dir / "reward_margin.png", "DPO reward margin, accuracy and loss")],
                      lambda metrics: summarise_dpo(metrics, quantized=quantization is not None))
    if is_main_process():  # cards beside adapter/ and merged/, written in every case (training/share.py)
        from training.share import write_model_cards

        write_model_cards(output_dir, run)
    return run


def summarise_dpo(metrics: list[dict], *, quantized: bool) -> dict:
    margins = [m["rewards/margins"] for m in metrics if "rewards/margins" in m]
    eval_margins = [m["eval_rewards/margins"] for m in metrics if "eval_rewards/margins" in m]
    return {"quantized_4bit": quantized,
            "reward_margin_first": margins[0] if margins else None,
            "reward_margin_last": margins[-1] if margins else None,
            "eval_reward_margin_first": eval_margins[0] if eval_margins else None,
            "eval_reward_margin_last": eval_margins[-1] if eval_margins else None}
