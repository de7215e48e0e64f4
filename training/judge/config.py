"""A judge's configuration (configs/judges/NAME.yaml), validated on load: an unknown or misspelled
key is an error naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.judge.prompts import TemplateError, template


class JudgeConfigError(ValueError):
    """A judge configuration that cannot be used; the message names the file and the key."""


class JudgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # the model rater's name in the study
    backend: Literal["transformers", "openai"]
    model: str  # a local folder or hub id (transformers), or the served model's name (openai)
    template_version: str = "v1"
    # generate: free text, parsed (off-format replies are counted as unparsed); choice: the reply is
    # constrained to the allowed answers (transformers: the likeliest; openai: the server's
    # structured-outputs choice, as vLLM >= 0.12 and `python -m training.judge.serve` accept)
    decoding: Literal["generate", "choice"] = "generate"
    max_new_tokens: int = Field(8, gt=0)
    temperature: float = Field(0.0, ge=0)
    seed: int = 0
    # transformers backend
    precision: Literal["auto", "bf16", "fp16", "fp32", "4bit"] = "auto"
    batch_size: int | None = Field(None, gt=0)
    # openai backend
    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1 for vLLM
    api_key_env: str | None = None  # name of the environment variable holding the key (never the key)
    concurrency: int = Field(8, gt=0, le=256)
    max_retries: int = Field(3, ge=0, le=20)  # with exponential back-off (the openai client's)
    timeout_s: float = Field(60.0, gt=0)
    max_consecutive_errors: int = Field(5, gt=0)  # then the run stops; verdicts made so far stay cached
    cache_dir: str = "runs/judge-cache"  # (model, settings, prompt) -> reply; a re-run costs nothing

    @model_validator(mode="after")
    def _backend_settings(self) -> JudgeConfig:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("base_url: the openai backend needs the endpoint, e.g. http://127.0.0.1:8000/v1")
        for kind in ("pairwise", "rating"):
            try:
                template(kind, self.template_version)
            except TemplateError as exc:
                raise ValueError(f"template_version: {exc}") from None
        return self

    def settings(self) -> dict:
        """What changes a reply, recorded with every verdict and part of the cache key."""
        return {"backend": self.backend, "model": self.model, "decoding": self.decoding,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "seed": self.seed,
                "precision": self.precision if self.backend == "transformers" else None,
                "base_url": self.base_url if self.backend == "openai" else None}


def load_judge_config(path: Path, overrides: dict | None = None) -> JudgeConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JudgeConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise JudgeConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise JudgeConfigError(f"{path}: a judge configuration is a mapping (name, backend, model, ...)")
    raw.update(overrides or {})
    try:
        return JudgeConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise JudgeConfigError(f"{path}: {key}: {message}") from None
