"""Versioned prompt templates of the model judge, one per study kind, and the parsers of its replies.

A template is frozen once released: changing its wording means a new version (a new key in
TEMPLATES), so every stored verdict names the exact text it was asked with (version + sha256).

Pairwise: the judge sees the two answers as "Answer 1" / "Answer 2" and replies 1, 2 or tie; the
runner asks in both orders. Rating: one criterion of the study's rubric at a time, with its scale
and anchors; the reply is a point of the scale (likert), yes/no (binary) or an option id (choice).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

PAIRWISE_CHOICES = ("1", "2", "tie")


@dataclass(frozen=True)
class Template:
    kind: str  # "pairwise" or "rating"
    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.version}"


PAIRWISE_V1 = Template("pairwise", "v1", (
    "You are a physician reviewing two answers to a medical question. Judge which answer is better: more "
    "accurate, more complete on what matters clinically, safer, and clearer. Length is not quality.\n\n"
    "### Context:\n{context}\n\n### Question:\n{question}\n\n### Answer 1:\n{answer_1}\n\n### Answer 2:\n{answer_2}\n\n"
    "Reply with one word: 1 if Answer 1 is better, 2 if Answer 2 is better, tie if neither is better.\n"
    "### Verdict:\n"))

RATING_V1 = Template("rating", "v1", (
    "You are a physician grading one answer to a medical question.\n\n"
    "### Context:\n{context}\n\n### Question:\n{question}\n\n### Answer:\n{answer}\n\n"
    "### Criterion:\n{criterion}\n\n### Scale:\n{scale}\n\n"
    "Reply with {reply} only.\n### Grade:\n"))

TEMPLATES = {t.name: t for t in (PAIRWISE_V1, RATING_V1)}
DEFAULT_VERSION = "v1"


class TemplateError(ValueError):
    pass


def template(kind: str, version: str = DEFAULT_VERSION) -> Template:
    name = f"{kind}-{version}"
    if name not in TEMPLATES:
        raise TemplateError(f"no judge template {name!r}; known: {sorted(TEMPLATES)}")
    return TEMPLATES[name]


def pairwise_prompt(tmpl: Template, *, question: str, context: str, answer_1: str, answer_2: str) -> str:
    return tmpl.text.format(question=question, context=context or "(none)", answer_1=answer_1, answer_2=answer_2)


def criterion_choices(criterion: dict) -> list[str]:
    """The replies a criterion accepts, as text: "1".."n", "yes"/"no", or the option ids."""
    scale = criterion["scale"]
    if scale["type"] == "likert":
        return [str(p) for p in range(1, int(scale["points"]) + 1)]
    if scale["type"] == "binary":
        return ["yes", "no"]
    return [str(option["id"]) for option in scale["options"]]


def _scale_text(criterion: dict) -> tuple[str, str]:
    scale = criterion["scale"]
    if scale["type"] == "likert":
        anchors = {int(k): v for k, v in scale["anchors"].items()}
        lines = "\n".join(f"{p}: {anchors[p]}" for p in sorted(anchors))
        return lines, f"one number from 1 to {scale['points']}"
    if scale["type"] == "binary":
        return f"yes: {scale.get('yes', 'Yes')}\nno: {scale.get('no', 'No')}", "yes or no"
    lines = "\n".join(f"{o['id']}: {o.get('label', o['id'])}" for o in scale["options"])
    return lines, "one of: " + ", ".join(str(o["id"]) for o in scale["options"])


def rating_prompt(tmpl: Template, *, question: str, context: str, answer: str, criterion: dict) -> str:
    scale, reply = _scale_text(criterion)
    return tmpl.text.format(question=question, context=context or "(none)", answer=answer,
                            criterion=criterion["question"], scale=scale, reply=reply)


_PAIRWISE_REPLY = re.compile(r"^\W*(?:answer\s*)?(1|2|tie)\b", re.IGNORECASE)


def parse_pairwise(reply: str) -> str | None:
    """"1", "2" or "tie" from the start of a reply; None when the reply is off-format."""
    match = _PAIRWISE_REPLY.match(reply or "")
    return match.group(1).lower() if match else None


def parse_rating(reply: str, criterion: dict) -> int | str | None:
    """The stored value of a grade (int for likert, 0/1 for binary, option id for choice); None
    when off-format."""
    word = re.match(r"^\W*([\w-]+)", reply or "")
    if not word:
        return None
    token = word.group(1).lower()
    kind = criterion["scale"]["type"]
    if kind == "likert":
        return int(token) if token.isdigit() and 1 <= int(token) <= int(criterion["scale"]["points"]) else None
    if kind == "binary":
        return {"yes": 1, "no": 0}.get(token)
    ids = {str(o["id"]).lower(): o["id"] for o in criterion["scale"]["options"]}
    return ids.get(token)
