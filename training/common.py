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
    )


def load_model(path: str, *, precision: str, quantization: QuantizationSettings | None = None):
    """A causal LM, in 4-bit when quantization is given (CUDA), else in the given precision.

    A folder holding only a LoRA adapter (adapter_config.json) is loaded with its base model.
    """
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": torch_dtype(precision)}
    if quantization is not None and quantization.load_in_4bit:
        kwargs["quantization_config"] = bnb_config(quantization)
        kwargs["device_map"] = {"": 0} if cuda_available() else {"": "cpu"}
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


def trainer_arguments(settings: TrainingSettings, output_dir: Path, precision: str) -> dict:
    """Keyword arguments common to SFTConfig and DPOConfig."""
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio
        max_length=settings.max_length,
        logging_steps=settings.logging_steps,
        save_strategy=settings.save_strategy,
        seed=settings.seed,
        activation_checkpointing=settings.gradient_checkpointing,  # transformers 5 name
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not cuda_available(),
        report_to="none",
        disable_tqdm=False,
    )


def save_adapter_and_merged(trainer, tokenizer, output_dir: Path, *, merge: bool) -> None:
    """adapter/ always; merged/ (the adapter merged into its base) when asked for."""
    trainer.model.save_pretrained(output_dir / "adapter")
    tokenizer.save_pretrained(output_dir / "adapter")
    if merge:
        save_merged(trainer.model, tokenizer, output_dir / "merged")


def save_merged(peft_model, tokenizer, out_dir: Path) -> Path:
    """Merge the LoRA adapter into its base and save a plain model (for the next stage)."""
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
