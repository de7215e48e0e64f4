"""Stage 1: supervised fine-tuning with LoRA (TRL SFTTrainer, loss on the answer only)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from training.common import load_model, load_tokenizer, lora_config, resolve_precision, save_adapter_and_merged, trainer_arguments
from training.recipes import SFTRecipe
from training.runs import RunRecord, metrics_callback, plot_metrics, read_metrics, tokens_from_logs

console = Console(stderr=True)


def sft_rows(train_file: Path, tokenizer, max_length: int) -> tuple[list[dict], dict]:
    """prompt/completion rows (TRL computes the loss on the completion only).

    Examples whose prompt alone fills max_length have no answer token left to learn from:
    they are dropped and counted; longer ones are truncated by TRL and counted.
    """
    from data.prepare import read_examples

    rows, dropped, truncated = [], [], 0
    for example in read_examples(train_file):
        prompt_tokens = len(tokenizer(example["prompt"])["input_ids"])
        total = prompt_tokens + len(tokenizer(example["answer"])["input_ids"]) + 1
        if prompt_tokens >= max_length:
            dropped.append(example["id"])
            continue
        truncated += total > max_length
        rows.append({"prompt": example["prompt"], "completion": example["answer"]})
    return rows, {"examples_read": len(rows) + len(dropped), "examples_used": len(rows),
                  "dropped_prompt_too_long": len(dropped), "dropped_ids": dropped[:50], "truncated": truncated}


def run_sft(recipe: SFTRecipe, *, callbacks: list = ()) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    output_dir = Path(recipe.output_dir)
    record = RunRecord("sft", output_dir, recipe.model_dump(), {"train_file": Path(recipe.train_file)})
    precision = resolve_precision(recipe.training.precision)
    tokenizer = load_tokenizer(recipe.model_name_or_path)
    rows, counts = sft_rows(Path(recipe.train_file), tokenizer, recipe.training.max_length)
    record.counts.update(counts)
    if not rows:
        raise ValueError(f"{recipe.train_file}: no usable examples (all prompts exceed max_length)")
    model = load_model(recipe.model_name_or_path, precision=precision)
    args = SFTConfig(**trainer_arguments(recipe.training, output_dir / "checkpoints", precision),
                     completion_only_loss=True)
    metrics_path = output_dir / "metrics.jsonl"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(recipe.lora),
        callbacks=[metrics_callback(metrics_path), *callbacks],
    )
    console.print(f"SFT: {len(rows)} examples, {precision}, LoRA r={recipe.lora.r} alpha={recipe.lora.alpha}")
    trainer.train()
    save_adapter_and_merged(trainer, tokenizer, output_dir, merge=recipe.merge)
    metrics = read_metrics(metrics_path)
    plot_metrics(metrics, ["loss", "mean_token_accuracy"], output_dir / "sft_loss.png", "SFT")
    return record.write(tokens_processed=tokens_from_logs(metrics),
                        extra={"final_loss": next((m["train_loss"] for m in metrics if "train_loss" in m), None)})
