"""Model loading and trainer arguments shared by the SFT and DPO stages."""

from __future__ import annotations

from pathlib import Path

from training.recipes import LoraSettings, QuantizationSettings, TrainingSettings


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_precision(precision: str) -> str:
    """auto: bf16 on a CUDA GPU that supports it, else fp32 (CPU)."""
    import torch

    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def torch_dtype(precision: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def bnb_config(settings: QuantizationSettings):
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=settings.quant_type,
        bnb_4bit_use_double_quant=settings.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, settings.compute_dtype),
        bnb_4bit_quant_storage=getattr(torch, settings.quant_storage),
    )


def load_model(path: str, *, precision: str, quantization: QuantizationSettings | None = None):
    """A causal LM, in 4-bit when quantization is given, else in the given precision.

    A folder holding only a LoRA adapter (adapter_config.json) is loaded with its base model.
    A 4-bit model goes to this process's own GPU (one per rank under `accelerate launch`).
    """
    from transformers import AutoModelForCausalLM

    from training.distributed import quantized_device_map

    kwargs = {"dtype": torch_dtype(precision)}
    if quantization is not None and quantization.load_in_4bit:
        kwargs["quantization_config"] = bnb_config(quantization)
        device_map = quantized_device_map()
        if device_map is not None:
            kwargs["device_map"] = device_map
    if (Path(path) / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(path, **kwargs)
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def lora_config(settings: LoraSettings):
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def trainer_arguments(settings: TrainingSettings, output_dir: Path, precision: str, *, evaluate: bool = False) -> dict:
    """Keyword arguments common to SFTConfig and DPOConfig (checkpoints and eval included)."""
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        per_device_eval_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio
        max_length=settings.max_length,
        logging_steps=settings.logging_steps,
        save_strategy="steps" if settings.save_steps else "no",
        save_steps=settings.save_steps or 500,  # unused without checkpoints; must still be positive
        save_total_limit=settings.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=settings.eval_steps or settings.logging_steps,
        seed=settings.seed,
        activation_checkpointing=settings.gradient_checkpointing,  # transformers 5 name
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not cuda_available(),
        report_to=tracking(settings.report_to),
        disable_tqdm=False,
    )


TRACKERS = {"tensorboard": ("is_tensorboard_available", "tensorboard"), "trackio": ("is_trackio_available", "trackio"),
            "wandb": ("is_wandb_available", "wandb")}


def tracking(report_to: str) -> str:
    """training.report_to, checked before any model is loaded: a tracker that is not installed is an
    error that says how to install it (transformers would otherwise fail late or log nowhere)."""
    if report_to == "none":
        return "none"
    from transformers.integrations import integration_utils

    check, package = TRACKERS[report_to]
    if not getattr(integration_utils, check)():
        from training.recipes import RecipeError

        raise RecipeError(f"training.report_to={report_to}: the {package!r} package is not installed "
                          f"(pip install {package}), or set training.report_to=none")
    return report_to


def keep_adapters_fp32(model) -> int:
    """Put trainable (LoRA) weights back in fp32 after the trainer is set up; returns how many.

    With a 4-bit base, TRL casts LoRA weights to bf16. At the recipe's learning rate (5e-6) most
    AdamW updates are below bf16 resolution and are lost; fp32 weights keep them, and the
    optimizer (built at `train()`) then holds fp32 state. Compute stays bf16 under autocast.
    Under ZeRO-3/FSDP the weights stay as TRL sets them: the engine keeps fp32 master weights
    itself, and ZeRO-3 fails on mixed-dtype parameters.
    """
    import torch

    from training.distributed import shards_parameters

    if shards_parameters():
        return 0
    cast = 0
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
            cast += 1
    return cast


def save_outputs(trainer, tokenizer, output_dir: Path, *, merge: bool, precision: str) -> None:
    """adapter/ always; merged/ (the adapter merged into its base) when asked for.

    Called on every rank: `trainer.save_model` gathers ZeRO-3/FSDP shards collectively and
    writes on the main process only. The merge reloads the saved adapter with an unquantized
    base on the main process, so it works after sharded or 4-bit training alike.
    """
    from training.distributed import is_main_process, wait_for_everyone

    trainer.save_model(str(output_dir / "adapter"))
    wait_for_everyone()
    if merge and is_main_process():
        merge_adapter(output_dir / "adapter", tokenizer, output_dir / "merged", precision=precision)
    wait_for_everyone()


def merge_adapter(adapter_dir: Path, tokenizer, out_dir: Path, *, precision: str) -> Path:
    """Load a saved adapter with its unquantized base (CPU), merge, save a plain model for the next stage."""
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype=torch_dtype(precision))
    merged = model.merge_and_unload()
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def split_eval(rows: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, eval): a seeded random share of the rows held out for eval loss; none when fraction is 0."""
    import random

    if fraction <= 0 or len(rows) < 2:
        return list(rows), []
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = set(order[:min(len(rows) - 1, max(1, round(fraction * len(rows))))])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]
