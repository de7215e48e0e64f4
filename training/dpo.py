"""Stage 3: DPO with a new LoRA on the merged SFT model (TRL DPOTrainer, sigmoid loss).

The reference model is the same model with the new adapter disabled (ref_model=None and a
peft_config): no second copy in memory. On CUDA the model is loaded in 4-bit as the recipe
says; on a CPU it trains unquantized, because bitsandbytes' CPU path silently loses LoRA
gradients after a no-grad forward pass (see README).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from training.common import (
    cuda_available,
    load_model,
    load_tokenizer,
    lora_config,
    resolve_precision,
    save_adapter_and_merged,
    trainer_arguments,
)
from training.recipes import DPORecipe
from training.runs import RunRecord, metrics_callback, plot_metrics, read_metrics, tokens_from_logs

console = Console(stderr=True)

DPO_PLOT_KEYS = ["rewards/margins", "rewards/accuracies", "loss", "rewards/chosen", "rewards/rejected"]


def read_pairs(pairs_dir: Path) -> list[dict]:
    path = Path(pairs_dir) / "pairs.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (run `medalign train pairs` or `medalign train feedback`)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise ValueError(f"{path}:{number}: field {key!r} missing or empty")
        rows.append({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]})
    return rows


def filter_long_prompts(rows: list[dict], tokenizer, max_length: int) -> tuple[list[dict], int]:
    """TRL drops pairs whose prompt alone reaches max_length without saying so; drop and count them here."""
    kept = [r for r in rows if len(tokenizer(r["prompt"])["input_ids"]) < max_length]
    return kept, len(rows) - len(kept)


def run_dpo(recipe: DPORecipe, *, pairs_dir: Path | None = None, callbacks: list = ()) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    pairs_dir = Path(pairs_dir or recipe.pairs_dir)
    output_dir = Path(recipe.output_dir)
    config = recipe.model_dump()
    config["pairs_dir"] = str(pairs_dir)
    record = RunRecord("dpo", output_dir, config, {"pairs": pairs_dir / "pairs.jsonl"})
    precision = resolve_precision(recipe.training.precision)
    quantization = recipe.quantization if recipe.quantization and recipe.quantization.load_in_4bit else None
    if quantization is not None and not cuda_available():
        note = ("CPU: training unquantized (the 4-bit recipe needs CUDA; bitsandbytes on CPU silently loses LoRA "
                "gradients after a no-grad forward)")
        console.print(f"[yellow]{note}[/yellow]")
        record.notes.append(note)
        quantization = None
    tokenizer = load_tokenizer(recipe.model_name_or_path)
    rows, dropped = filter_long_prompts(read_pairs(pairs_dir), tokenizer, recipe.training.max_length)
    record.counts.update({"pairs_read": len(rows) + dropped, "pairs_used": len(rows), "dropped_prompt_too_long": dropped})
    if not rows:
        raise ValueError(f"{pairs_dir}: no usable pairs")
    model = load_model(recipe.model_name_or_path, precision=precision, quantization=quantization)
    if quantization is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=recipe.training.gradient_checkpointing)
    args = DPOConfig(
        **trainer_arguments(recipe.training, output_dir / "checkpoints", precision),
        beta=recipe.training.beta,
        loss_type=[recipe.training.loss_type],
    )
    metrics_path = output_dir / "metrics.jsonl"
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(recipe.lora),
        callbacks=[metrics_callback(metrics_path), *callbacks],
    )
    console.print(f"DPO: {len(rows)} pairs, beta={recipe.training.beta}, {'4-bit' if quantization else precision}")
    trainer.train()
    # merging into 4-bit weights rounds them: a quantized run keeps only the adapter
    save_adapter_and_merged(trainer, tokenizer, output_dir, merge=recipe.merge and quantization is None)
    metrics = read_metrics(metrics_path)
    plot_metrics(metrics, DPO_PLOT_KEYS[:2], output_dir / "reward_margin.png", "DPO reward margin and accuracy")
    margins = [m["rewards/margins"] for m in metrics if "rewards/margins" in m]
    return record.write(
        tokens_processed=tokens_from_logs(metrics),
        extra={"quantized_4bit": quantization is not None,
               "reward_margin_first": margins[0] if margins else None,
               "reward_margin_last": margins[-1] if margins else None},
    )
