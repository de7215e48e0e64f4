"""Reading the answers file (and gold file) a study is created from.

One JSONL item per line: `id`, `question`, optional `context`, optional `reference`, and
`outputs`: {system name: answer text} - what `medalign generate` writes (every system the study
names must be there; others are ignored). Gold lines add
`better`: the system whose answer is known to be better. The whole file is validated before
anything is stored; the first problem stops the import with file:line and field.
"""

from __future__ import annotations

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
        if item_id in seen:
            raise DataError(f"duplicate id (first on line {seen[item_id]})", file=file, line=line, record=item_id, field="id")
        seen[item_id] = line
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
