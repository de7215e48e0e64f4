"""YAML recipes, one per stage, validated on load: an unknown or misspelled key is an error.

Every key can be overridden from the command line with `--set section.key=value` (the value
is parsed as YAML, so `--set training.learning_rate=1e-4` gives a float).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class LoraSettings(Strict):
    r: int = Field(gt=0)
    alpha: int = Field(gt=0)
    dropout: float = Field(ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class QuantizationSettings(Strict):
    """4-bit loading (bitsandbytes). Used on CUDA only; on CPU the model trains unquantized."""

    load_in_4bit: bool = True
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    # ZeRO-3 / FSDP shard the 4-bit weights: their storage dtype must match the other weights (bfloat16)
    quant_storage: Literal["uint8", "bfloat16", "float16", "float32"] = "uint8"


class TrainingSettings(Strict):
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs (tests and smoke runs)
    per_device_train_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(gt=0)
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    max_length: int = Field(1024, gt=0)
    logging_steps: int = Field(1, gt=0)
    save_steps: int = Field(0, ge=0)  # a checkpoint every N optimizer steps (0: none); `--resume` continues from the last
    save_total_limit: int | None = Field(2, gt=0)  # checkpoints kept on disk (older ones are deleted)
    eval_fraction: float = Field(0.0, ge=0, lt=1)  # share of the training rows held out for eval loss (0: no eval split)
    eval_steps: int | None = Field(None, gt=0)  # evaluate every N steps (default: every logging_steps)
    seed: int = 0
    gradient_checkpointing: bool = True
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    # an example longer than max_length: "none" drops it (prompt alone too long) or lets TRL cut the answer,
    # "context" cuts the item's context and keeps the question; either way every one is counted with its id
    truncate: Literal["none", "context"] = "none"
    # experiment tracking: used when the package is installed, a clear error before training when not
    report_to: Literal["none", "tensorboard", "trackio", "wandb"] = "none"
    # use the tokenizer's chat template (TRL's conversational format) when it has one
    chat_template: bool = True


class DPOSettings(TrainingSettings):
    beta: float = Field(0.1, gt=0)
    loss_type: Literal["sigmoid", "hinge", "ipo", "robust"] = "sigmoid"


class SFTRecipe(Strict):
    stage: Literal["sft"]
    model_name_or_path: str
    train_file: str  # prepared JSONL (prompt, answer), from `medalign data prepare`
    output_dir: str
    lora: LoraSettings
    training: TrainingSettings
    merge: bool = True  # also save the adapter merged into the base (DPO starts from it)


class DPORecipe(Strict):
    stage: Literal["dpo"]
    model_name_or_path: str  # the merged SFT model
    pairs_dir: str  # from `medalign train pairs` or `medalign train feedback`
    output_dir: str
    lora: LoraSettings
    training: DPOSettings
    quantization: QuantizationSettings | None = None
    merge: bool = True


class TinyModelRecipe(Strict):
    stage: Literal["tiny-model"]
    vocab_size: int = Field(2048, ge=300)
    hidden_size: int = Field(64, gt=0)
    intermediate_size: int = Field(128, gt=0)
    num_hidden_layers: int = Field(2, gt=0)
    num_attention_heads: int = Field(4, gt=0)
    num_key_value_heads: int = Field(2, gt=0)
    max_position_embeddings: int = Field(1024, gt=0)
    pretrain_steps: int = Field(200, ge=0)  # a short causal-LM pass so answers look like text
    pretrain_batch_size: int = Field(8, gt=0)
    pretrain_learning_rate: float = Field(3e-3, gt=0)
    seed: int = 0
    chat_template: bool = False  # give the tokenizer a chat template (training/chat.py) and pre-train in that format

    @model_validator(mode="after")
    def heads_divide(self) -> TinyModelRecipe:
        if self.hidden_size % self.num_attention_heads or self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("hidden_size must divide by num_attention_heads, and heads by num_key_value_heads")
        return self


RECIPES: dict[str, type[Strict]] = {"sft": SFTRecipe, "dpo": DPORecipe, "tiny-model": TinyModelRecipe}


def _set_dotted(tree: dict, dotted: str, value: Any, *, where: str) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise RecipeError(f"{where}: override {dotted!r}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> list[tuple[str, Any]]:
    parsed = []
    for pair in pairs:
        if "=" not in pair:
            raise RecipeError(f"override {pair!r} must look like key=value (e.g. training.learning_rate=1e-4)")
        key, raw = pair.split("=", 1)
        parsed.append((key.strip(), yaml.safe_load(raw) if raw.strip() else raw))
    return parsed


def load_recipe(path: Path, overrides: list[str] = (), *, stage: str | None = None) -> Strict:
    """Read, override and validate a recipe; RecipeError names the file and each bad key. A path
    that is not a file here but names a shipped recipe (configs/tiny/sft.yaml) reads the shipped one."""
    from data.config_files import resolve_config

    path = resolve_config(path)
    from data.bounded import load_yaml
    from data.records import DataError

    try:  # bounded, depth-limited, repeated keys refused (issue 23)
        tree = load_yaml(Path(path))
    except DataError as exc:
        if exc.message.startswith("not valid YAML: "):
            raise RecipeError(f"{path}: invalid YAML (line {exc.line}): {exc.message[16:]}") from None
        raise RecipeError(str(exc)) from None
    if not isinstance(tree, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of keys")
    for key, value in parse_overrides(list(overrides)):
        _set_dotted(tree, key, value, where=str(path))
    kind = tree.get("stage")
    if kind not in RECIPES:
        raise RecipeError(f"{path}: 'stage' must be one of {sorted(RECIPES)}, got {kind!r}")
    if stage is not None and kind != stage:
        raise RecipeError(f"{path}: this is a {kind!r} recipe, expected {stage!r}")
    try:
        return RECIPES[kind].model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise RecipeError(f"{path}: {problems}") from exc
