"""Reading the answers file (and gold file) a study is created from.

One JSONL item per line: `id`, `question`, optional `context`, optional `reference`, and
`outputs`: {system name: answer text} - what `medalign generate` writes (every system the study
names must be there; others are ignored). Gold lines add
`better`: the system whose answer is known to be better. The whole file is validated before
anything is stored; the first problem stops the import with file:line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from data.records import DataError
from data.tables import iter_jsonl, text_field

MAX_ANSWER_CHARS = 200_000  # a longer "answer" is a broken generation, not something to judge


@dataclass(frozen=True)
class StudyItem:
    external_id: str
    question: str
    context: str
    reference: str | None
    answers: dict[str, str]  # system -> answer, for every system of the study
    gold_system: str | None = None  # gold items: the system whose answer is known to be better


def fold(text: str) -> str:
    """Names compared the way users' are (app/storage/base.py; imported late: storage imports this module)."""
    from app.storage.base import fold as storage_fold

    return storage_fold(text)


def read_study_items(path: Path, systems: list[str] | tuple[str, ...], *, gold: bool = False) -> list[StudyItem]:
    file = str(path)
    items: list[StudyItem] = []
    seen: dict[str, int] = {}
    for line, row in iter_jsonl(path):
        raw_id = row.get("id")
        if raw_id is None or str(raw_id).strip() == "":
            raise DataError("missing field", file=file, line=line, field="id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise DataError(f"an id is text or a whole number, not {type(raw_id).__name__}", file=file, line=line, field="id")
        item_id = str(raw_id).strip()
        if fold(item_id) in seen:  # look-alikes too (qＡ and qA, Q1 and q1): physicians could not tell them apart
            raise DataError(f"duplicate id (first on line {seen[fold(item_id)]}, same after NFKC and case folding)",
                            file=file, line=line, record=item_id, field="id")
        seen[fold(item_id)] = line
        _no_control_characters(row, file, line, item_id)
        question = text_field(row, "question", file=file, line=line, record=item_id)
        context = row.get("context") or ""
        if not isinstance(context, str):
            raise DataError("expected text", file=file, line=line, record=item_id, field="context")
        reference = row.get("reference")
        if reference is not None and not isinstance(reference, str):
            raise DataError("expected text", file=file, line=line, record=item_id, field="reference")
        outputs = row.get("outputs")
        if not isinstance(outputs, dict):
            raise DataError("missing or not an object {system: answer}", file=file, line=line, record=item_id, field="outputs")
        answers = {}
        for system in systems:
            if system not in outputs:
                raise DataError(
                    f"system {system!r} absent (has {sorted(outputs)})",
                    file=file, line=line, record=item_id, field=f"outputs.{system}",
                )
            answer = text_field(outputs, system, file=file, line=line, record=item_id)
            if len(answer) > MAX_ANSWER_CHARS:
                raise DataError(
                    f"answer has {len(answer)} characters, more than {MAX_ANSWER_CHARS}",
                    file=file, line=line, record=item_id, field=f"outputs.{system}",
                )
            answers[system] = answer
        gold_system = None
        if gold:
            gold_system = row.get("better")
            if gold_system not in systems:
                raise DataError(
                    f"gold items need 'better': one of {list(systems)}", file=file, line=line, record=item_id, field="better"
                )
        items.append(StudyItem(item_id, question, context, reference, answers, gold_system))
    if not items:
        raise DataError("the file holds no items", file=file)
    return items


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(row: dict, file: str, line: int, item_id: str) -> None:
    """A NUL or other control character in a text is a broken file (and some databases refuse it)."""
    texts = [("id", row.get("id")), ("question", row.get("question")), ("context", row.get("context")),
             ("reference", row.get("reference"))]
    outputs = row.get("outputs")
    if isinstance(outputs, dict):
        texts += [(f"outputs.{k}", v) for k, v in outputs.items()] + [(f"outputs.{k}", k) for k in outputs]
    for field, value in texts:
        if isinstance(value, str) and _CONTROL.search(value):
            code = ord(_CONTROL.search(value).group())
            raise DataError(f"control character U+{code:04X} in the text", file=file, line=line, record=item_id, field=field)


def check_study_name(name: str, existing: list[str]) -> None:
    """Refuse names that are only dots (`..`) and names that look like an existing study's
    (NFKC + case folding, as for users: `ｘｓｓ３` beside `xss3`)."""
    if not name.strip():
        return  # storage says the name is empty
    if not name.strip(" ."):
        raise DataError(f"the study name {name!r} is only dots or spaces", field="--name")
    if name != name.strip():
        raise DataError(f"the study name {name!r} starts or ends with a space", field="--name")
    for other in existing:
        if fold(other) == fold(name):
            raise DataError(f"the study name {name!r} looks like the existing study {other!r} "
                            "(the same after NFKC and case folding)", field="--name")


# Words an answer uses when it names its own training: physicians would no longer be blind.
_STAGE_TERMS = [r"sft", r"dpo", r"rlhf", r"ppo", r"orpo", r"kto", r"lora", r"qlora",
                r"supervised fine[- ]?tun\w*", r"direct preference optimi[sz]\w*", r"preference optimi[sz]\w*",
                r"fine[- ]?tuned (?:model|version|with|on|using)", r"(?:language|ai) model (?:trained|fine[- ]?tuned)",
                r"reward model", r"base model", r"aligned model"]
# System names that are ordinary words are only flagged as "<name> model".
_COMMON_WORDS = {"base", "gold", "reference", "baseline", "model", "new", "old", "a", "b", "control", "human"}


def _blinding_pattern(systems) -> re.Pattern:
    names = []
    for system in systems:
        folded = fold(system)
        if len(folded) < 2:
            continue
        names.append(re.escape(folded) + (r"[ -]?model" if folded in _COMMON_WORDS else ""))
    words = "|".join([*_STAGE_TERMS, *names])
    return re.compile(rf"(?<![a-z0-9])(?:{words})(?![a-z0-9])")


def blinding_warnings(items: list[StudyItem], systems, extra_names=()) -> list[str]:
    """Why physicians might tell the systems apart by content: an answer naming a system, model
    or training stage of the study, or the two answers of a pair being identical. `study create`
    warns, and with --strict refuses."""
    pattern = _blinding_pattern([*systems, *extra_names])
    found = []
    for item in items:
        for system, answer in item.answers.items():
            hit = pattern.search(fold(answer))
            if hit:
                found.append(f"item {item.external_id!r}: the {system} answer says {hit.group()!r}")
        seen: dict[str, str] = {}
        for system, answer in item.answers.items():
            key = " ".join(fold(answer).split())
            if key in seen:
                found.append(f"item {item.external_id!r}: the {seen[key]} and {system} answers are identical")
            seen.setdefault(key, system)
    return found
