"""Rating rubrics: the criteria a physician grades one answer on (a YAML file, validated on load).

A criterion has an id, a question and a scale: `likert` (n points, an anchor text per point),
`binary` (yes / no) or `choice` (named options). A rubric may ask for free text. The stored value
of a grade is the one `Criterion.check` returns: 1..n, 0/1, or the option's id; the export's
`scale` column (`Criterion.scale_code`) tells the statistics how to read it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from data.bounded import load_yaml
from data.records import DataError

MAX_CRITERIA = 16  # criteria one screen shows (one radio group each)
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (true/false only): under PyYAML's YAML 1.1 rules the binary scale's own
    keys `yes:` and `no:` would be read as the booleans True and False."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Likert(_Strict):
    type: Literal["likert"]
    points: int = Field(ge=2, le=10)
    anchors: dict[int, str]  # point -> what it means, one per point

    @field_validator("anchors")
    @classmethod
    def _every_point_anchored(cls, anchors: dict[int, str], info: ValidationInfo) -> dict[int, str]:
        points = info.data.get("points")
        if points is None:  # `points` itself is invalid; that error is reported
            return anchors
        missing = sorted(set(range(1, points + 1)) - set(anchors))
        extra = sorted(set(anchors) - set(range(1, points + 1)))
        if missing or extra:
            raise ValueError(f"anchors must name every point 1..{points} exactly once"
                             + (f"; missing {missing}" if missing else "") + (f"; not on the scale {extra}" if extra else ""))
        return anchors


class Binary(_Strict):
    type: Literal["binary"]
    yes: str = "Yes"
    no: str = "No"


class Option(_Strict):
    id: str
    label: str


class Choice(_Strict):
    type: Literal["choice"]
    options: list[Option] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_ids(self) -> Choice:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        return self


Scale = Annotated[Likert | Binary | Choice, Field(discriminator="type")]


class Criterion(_Strict):
    id: str
    question: str
    scale: Scale
    required: bool = True
    higher_is_better: bool = True  # False for harm-like criteria (more harm = worse)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("criterion ids are lower-case letters, digits and _ (e.g. 'quality')")
        return value

    @property
    def scale_code(self) -> str:
        return f"likert-{self.scale.points}" if isinstance(self.scale, Likert) else self.scale.type

    def options(self) -> list[tuple[int | str, str]]:
        """(stored value, label) in screen order; the n-th option is picked with digit key n."""
        scale = self.scale
        if isinstance(scale, Likert):
            return [(p, f"{p}: {scale.anchors[p]}") for p in range(1, scale.points + 1)]
        if isinstance(scale, Binary):
            return [(1, scale.yes), (0, scale.no)]
        return [(o.id, o.label) for o in scale.options]

    def check(self, value) -> int | str:
        """The stored form of a grade, or ValueError naming the criterion."""
        allowed = {stored: stored for stored, _label in self.options()}
        if isinstance(value, bool) or value not in allowed:
            choices = ", ".join(str(v) for v in allowed)
            raise ValueError(f"criterion {self.id!r}: {value!r} is not one of {choices}")
        return allowed[value]


class FreeText(_Strict):
    question: str = "Comments (optional)"
    required: bool = False
    max_chars: int = Field(default=2000, ge=1, le=20_000)


class Rubric(_Strict):
    name: str
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)
    free_text: FreeText | None = None

    @field_validator("criteria")
    @classmethod
    def _unique_criteria(cls, criteria: list[Criterion]) -> list[Criterion]:
        ids = [c.id for c in criteria]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"criterion ids must be unique; repeated: {', '.join(repeated)}")
        return criteria

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def check(self, values: dict, free_text: str = "") -> dict[str, int | str]:
        """A complete, valid set of grades in stored form; ValueError names what is wrong."""
        unknown = sorted(set(values) - {c.id for c in self.criteria})
        if unknown:
            raise ValueError(f"unknown criteria {unknown}")
        out = {}
        for criterion in self.criteria:
            value = values.get(criterion.id)
            if value is None:
                if criterion.required:
                    raise ValueError(f"criterion {criterion.id!r} needs an answer")
                continue
            out[criterion.id] = criterion.check(value)
        if self.free_text is not None:
            if self.free_text.required and not free_text.strip():
                raise ValueError("the comment box needs an answer")
            if len(free_text) > self.free_text.max_chars:
                raise ValueError(f"the comment has {len(free_text)} characters, more than {self.free_text.max_chars}")
        return out

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> Rubric:
        return cls.model_validate_json(text)


def _where(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"] if not str(part).startswith(("likert", "binary", "choice")))


def load_rubric(path: Path) -> Rubric:
    """Read and validate a rubric; a DataError names the file and the key that is wrong. A path that
    is not a file here but names a shipped rubric (configs/rubrics/X.yaml) reads the shipped one."""
    from data.config_files import resolve_config

    path = resolve_config(path)
    raw = load_yaml(path, _Yaml12Loader)  # bounded, depth-limited, repeated keys refused (issue 23)
    if not isinstance(raw, dict):
        raise DataError("a rubric is a mapping with name and criteria", file=str(path))
    try:
        return Rubric.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = {"extra_forbidden": "unknown key",
                   "value_error": str((first.get("ctx") or {}).get("error", first["msg"]))}.get(first["type"], first["msg"])
        raise DataError(message, file=str(path), field=_where(first) or None) from None
