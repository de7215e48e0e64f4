"""Tasks as data: one YAML file per task under configs/tasks/, validated on load.

A task says how to read its source (loader and columns), how an example is shown to the model
(prompt template), what kind of output it expects (free text, a label from a set, an option
letter), how SFT targets and DPO pairs are built, which metrics apply (names checked against
evaluation's metric table by the caller, since data/ does not import evaluation/), the published
reference numbers, and a version written into every prepared example and result.
Unknown keys are errors; every error names the file and the key.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data.bounded import load_yaml
from data.config_files import configs_dir, resolve_config
from data.records import DataError

TASKS_DIR = configs_dir() / "tasks"  # shipped with the package (data/config_files.py)
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"

#: Placeholders a prompt template may use: the item's text (`question`), its context, the
#: lettered options ("A. ...", one per line) and the label names (comma separated).
TEMPLATE_FIELDS = ("question", "context", "options", "labels")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(Strict):
    name: str = Field(min_length=1)
    synonyms: list[str] = []  # other words a model may use for it (parsing only)
    code: str | None = None  # how the source file spells it, when not the name (e.g. "1")


class LoaderSpec(Strict):
    """How `data prepare T --source FILE` reads FILE."""

    format: Literal["pubmedqa", "meqsum", "medqa-jsonl", "label-table"]
    sample: str | None = None  # bundled sample under data/sample/ used without --source
    # label-table only: which columns hold the text, the label and (optionally) the id
    text_column: str | None = None
    label_column: str | None = None
    id_column: str | None = None
    # label-table only: a CSV mapping the source's label codes to names, looked up beside the source
    labels_file: str | None = None
    labels_file_code_column: str = "code"
    labels_file_name_column: str = "name"

    @model_validator(mode="after")
    def _table_columns(self) -> LoaderSpec:
        if self.format == "label-table" and not (self.text_column and self.label_column):
            raise ValueError("a label-table loader needs text_column and label_column")
        return self


class PublishedRow(Strict):
    """One row of a published table, shown beside measured numbers (never used as a result)."""

    model: str
    metric: str
    base: float | None = None
    sft: float | None = None
    dpo: float | None = None
    p_value: str | None = None  # as printed, e.g. "<.001"
    source: str


class Task(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    description: str
    output: Literal["free-text", "label", "option"]
    loader: LoaderSpec
    prompt_template: str
    dedup_fields: list[Literal["question", "context", "options"]] = Field(min_length=1)
    labels: list[Label] = []
    options: list[str] = []  # option letters, in order
    sft_target: Literal["reference", "label", "option"]
    dpo_pairs: Literal["reference-vs-sft", "correct-vs-wrong"]
    metrics: list[str] = Field(min_length=1)
    primary_metric: str
    helpfulness_checks: list[Literal["hq"]] = []
    human_evaluation: Literal["none", "pairwise", "rating"] = "none"
    rubric: str | None = None  # rating studies: the rubric name (evaluation/rubric.py)
    #: Per-item fields kept from the source through preparation into predictions, NAME: source key or
    #: column (MedQA's `step: meta_info`), so that `report compare --by NAME` splits results by them.
    fields: dict[str, str] = {}
    published: list[PublishedRow] = []

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        if self.primary_metric not in self.metrics:
            raise ValueError(f"primary_metric {self.primary_metric!r} is not among metrics {self.metrics}")
        if self.output == "label":
            if len(self.labels) < 2:
                raise ValueError("a label task needs at least two labels")
            if self.sft_target != "label" or self.dpo_pairs != "correct-vs-wrong":
                raise ValueError("a label task uses sft_target 'label' and dpo_pairs 'correct-vs-wrong'")
        if self.output == "option":
            if len(self.options) < 2 or any(len(o) != 1 or not o.isupper() for o in self.options):
                raise ValueError("an option task needs at least two single upper-case option letters")
            if self.sft_target != "option" or self.dpo_pairs != "correct-vs-wrong":
                raise ValueError("an option task uses sft_target 'option' and dpo_pairs 'correct-vs-wrong'")
        if self.output == "free-text" and (self.sft_target != "reference" or self.dpo_pairs != "reference-vs-sft"):
            raise ValueError("a free-text task uses sft_target 'reference' and dpo_pairs 'reference-vs-sft'")
        spellings = [s.casefold() for label in self.labels for s in (label.name, *label.synonyms)]
        if len(spellings) != len(set(spellings)):
            raise ValueError("label names and synonyms must be distinct (case ignored)")
        if self.human_evaluation == "rating" and not self.rubric:
            raise ValueError("a rating study needs a rubric")
        _check_fields(self)
        _check_template(self)
        return self

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def public_dict(self) -> dict:
        return self.model_dump(mode="json")


FIELD_LOADERS = ("medqa-jsonl", "label-table")  # the loaders that read per-item fields
FIELD_NAME = r"^[a-z][a-z0-9_]*$"


def _check_fields(task: Task) -> None:
    if task.fields and task.loader.format not in FIELD_LOADERS:
        raise ValueError(f"fields are read by the {' and '.join(FIELD_LOADERS)} loaders, not {task.loader.format!r}")
    for name, source in task.fields.items():
        if not re.match(FIELD_NAME, name):
            raise ValueError(f"field name {name!r} must be lower-case letters, digits and underscores")
        if not source.strip():
            raise ValueError(f"field {name!r} names no source key or column")


def _check_template(task: Task) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(task.prompt_template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"prompt_template is not valid format syntax: {exc}") from exc
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(f"prompt_template has unknown placeholder(s) {sorted(unknown)}; allowed: {list(TEMPLATE_FIELDS)}")
    if "question" not in fields:
        raise ValueError("prompt_template must contain {question}")
    if "options" in fields and task.output != "option":
        raise ValueError("prompt_template uses {options} but the task has no options")
    if not task.prompt_template.endswith("\n"):
        raise ValueError("prompt_template must end on a newline, so that the answer starts a fresh token")


def render_prompt(task: Task, *, question: str, context: str, options: dict[str, str] | None) -> str:
    option_lines = "\n".join(f"{letter}. {text}" for letter, text in (options or {}).items())
    return task.prompt_template.format(
        question=question, context=context, options=option_lines, labels=", ".join(task.label_names)
    )


def _error_path(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def load_task_file(path: Path, *, known_metrics: set[str] | None = None) -> Task:
    """Read and validate one task file; DataError names the file and each bad key."""
    file = str(path)
    raw = load_yaml(path)  # bounded, depth-limited, repeated keys refused (issue 23)
    if not isinstance(raw, dict):
        raise DataError("a task file is a mapping of keys", file=file)
    try:
        task = Task.model_validate(raw)
    except ValidationError as exc:
        # A misspelt key also makes the intended one "missing": name the unknown key first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        problems = "; ".join(f"{_error_path(e)}: {e['msg']}" for e in errors)
        first = errors[0]
        raise DataError(problems, file=file, field=_error_path(first)) from exc
    if path.stem != task.name and path.parent.resolve() == TASKS_DIR:
        raise DataError(f"task name {task.name!r} differs from the file name {path.name!r}", file=file, field="name")
    if known_metrics is not None:
        unknown = [m for m in task.metrics if m not in known_metrics]
        if unknown:
            raise DataError(f"unknown metric(s) {unknown}; known: {sorted(known_metrics)}", file=file, field="metrics")
    return task


def task_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def load_task(name_or_path: str, *, known_metrics: set[str] | None = None) -> Task:
    """A shipped task by name (configs/tasks/NAME.yaml), or a task file of one's own by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return load_task_file(resolve_config(path), known_metrics=known_metrics)
    shipped = TASKS_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise DataError(f"unknown task {name_or_path!r}; shipped tasks: {task_names()} (or give a .yaml path)",
                        field="task")
    return load_task_file(shipped, known_metrics=known_metrics)


def sample_path(task: Task) -> Path:
    if task.loader.sample is None:
        raise DataError(f"task {task.name!r} has no bundled sample: give --source FILE", field="source")
    return SAMPLE_DIR / task.loader.sample
