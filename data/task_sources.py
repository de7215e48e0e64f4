"""Read a task's source file into TaskRecords: the item's text, its gold answer, and where it
came from. One function per loader format named in the task file; the PubMedQA and MeQSum
formats reuse their existing loaders. Every problem is a DataError naming file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data import meqsum, pubmedqa
from data.records import DataError
from data.tables import iter_csv, iter_jsonl, sha256_file, text_field
from data.tasks import Task, sample_path


@dataclass(frozen=True)
class TaskRecord:
    """One item before normalisation. `gold`: the reference text, label name or option letter."""

    id: str
    question: str
    context: str
    gold: str
    options: dict[str, str] | None
    file: str
    line: int | None
    fields: dict[str, str] | None = None  # the task's per-item fields (`fields:` in its file)


def _item_fields(task: Task, row: dict, *, file: str, line: int, record: str) -> dict[str, str] | None:
    """The task's per-item fields of one source row (each a non-empty text), or None when it keeps none."""
    if not task.fields:
        return None
    for name, source in task.fields.items():
        if row.get(source) in (None, ""):
            raise DataError(f"missing field (the task keeps it as {name!r}: for a source without it, use a copy of "
                            "the task file without that entry of `fields:`)", file=file, line=line, record=record,
                            field=source)
    return {name: text_field(row, source, file=file, line=line, record=record).strip()
            for name, source in task.fields.items()}


def _from_pubmedqa(task: Task, source: str | None) -> tuple[list[TaskRecord], dict]:
    raws, info = pubmedqa.load_source(source)
    records = []
    for raw in raws:
        if task.output == "label":
            if raw.final_decision is None:
                raise DataError("missing field (this task's answer is the yes/no/maybe decision)",
                                file=raw.file, line=raw.line, record=raw.id, field="final_decision")
            gold = _label_name(task, raw.final_decision, file=raw.file, line=raw.line, record=raw.id,
                               field="final_decision")
        else:
            gold = raw.answer
        records.append(TaskRecord(raw.id, raw.question, raw.context, gold, None, raw.file, raw.line))
    return records, info


def _from_meqsum(task: Task, source: str | None) -> tuple[list[TaskRecord], dict]:
    raws, info = meqsum.load_source(source)
    return [TaskRecord(r.id, r.question, r.context, r.answer, None, r.file, r.line) for r in raws], info


def _from_medqa(task: Task, path: Path) -> list[TaskRecord]:
    """MedQA US JSONL: `question`, `options` {"A".."D": text}, `answer_idx`; `answer` (text) if present
    must be the text of that option; `id` optional (else the line number)."""
    file = str(path)
    records = []
    for line, row in iter_jsonl(path):
        record = str(row["id"]) if row.get("id") not in (None, "") else f"line{line}"
        question = text_field(row, "question", file=file, line=line, record=record)
        options = row.get("options")
        if not isinstance(options, dict) or sorted(options) != sorted(task.options):
            found = sorted(options) if isinstance(options, dict) else type(options).__name__
            raise DataError(f"expected an object with options {task.options}, got {found}",
                            file=file, line=line, record=record, field="options")
        for letter in task.options:
            text_field(options, letter, file=file, line=line, record=record)
        letter = row.get("answer_idx")
        if letter not in task.options:
            raise DataError(f"option letter must be one of {task.options}, got {letter!r}",
                            file=file, line=line, record=record, field="answer_idx")
        answer = row.get("answer")
        if answer not in (None, "") and str(answer).strip() != options[letter].strip():
            raise DataError(f"answer {answer!r} is not the text of option {letter} ({options[letter]!r})",
                            file=file, line=line, record=record, field="answer")
        ordered = {k: options[k].strip() for k in task.options}
        fields = _item_fields(task, row, file=file, line=line, record=record)
        records.append(TaskRecord(record, question, "", letter, ordered, file, line, fields))
    return records


def _label_name(task: Task, value: object, *, file: str, line: int | None, record: str | None, field: str,
                codes: dict[str, str] | None = None) -> str:
    """The task's label name for a source value: a code (from the labels file or the task), or a name."""
    text = str(value).strip() if value is not None else ""
    if codes is not None and text in codes:
        return codes[text]
    for label in task.labels:
        if text.casefold() == label.name.casefold() or (label.code is not None and text == label.code):
            return label.name
    expected = sorted(codes) if codes is not None else task.label_names
    raise DataError(f"unknown label {text!r}; expected one of {expected}", file=file, line=line, record=record,
                    field=field)


def _label_codes(task: Task, source: Path, labels_file: Path | None) -> dict[str, str] | None:
    """code -> label name from a labels file: the one given, else the task's file name beside the source."""
    spec = task.loader
    if labels_file is None:
        beside = source.parent / spec.labels_file if spec.labels_file else None
        if beside is None or not beside.is_file():
            return None  # the source spells labels as the task's names or codes
        labels_file = beside
    path = labels_file
    file = str(path)
    if not path.is_file():
        raise DataError("labels file not found", file=file, field="labels_file")
    codes = {}
    for line, row in iter_csv(path, [spec.labels_file_code_column, spec.labels_file_name_column]):
        code = text_field(row, spec.labels_file_code_column, file=file, line=line).strip()
        name = text_field(row, spec.labels_file_name_column, file=file, line=line).strip()
        if name.casefold() not in {n.casefold() for n in task.label_names}:
            raise DataError(f"label {name!r} is not in the task's label set {task.label_names}",
                            file=file, line=line, field=spec.labels_file_name_column)
        codes[code] = next(n for n in task.label_names if n.casefold() == name.casefold())
    return codes


def _from_label_table(task: Task, path: Path, labels_file: Path | None) -> list[TaskRecord]:
    """A CSV or JSONL of labelled texts, columns named in the task's loader section."""
    spec = task.loader
    file = str(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = iter_csv(path, [spec.text_column, spec.label_column] + ([spec.id_column] if spec.id_column else [])
                        + list(task.fields.values()))
    elif suffix == ".jsonl":
        rows = iter_jsonl(path)
    else:
        raise DataError("expected a .csv or .jsonl file", file=file)
    codes = _label_codes(task, path, labels_file)
    records = []
    for line, row in rows:
        record = text_field(row, spec.id_column, file=file, line=line).strip() if spec.id_column else f"line{line}"
        text = text_field(row, spec.text_column, file=file, line=line, record=record)
        if spec.label_column not in row:
            raise DataError("missing field", file=file, line=line, record=record, field=spec.label_column)
        gold = _label_name(task, row[spec.label_column], file=file, line=line, record=record,
                           field=spec.label_column, codes=codes)
        fields = _item_fields(task, row, file=file, line=line, record=record)
        records.append(TaskRecord(record, text, "", gold, None, file, line, fields))
    return records


def load_task_source(task: Task, source: str | None, *, labels_file: Path | None = None) -> tuple[list[TaskRecord], dict]:
    """Records and a description of the source (kind, name, sha256) for the manifest."""
    fmt = task.loader.format
    if fmt == "pubmedqa":
        return _from_pubmedqa(task, source)
    if fmt == "meqsum":
        return _from_meqsum(task, source)
    path = sample_path(task) if source in (None, "sample") else Path(source)
    if not path.is_file():
        raise DataError("source file not found", file=str(path), field="source")
    if fmt == "medqa-jsonl":
        records = _from_medqa(task, path)
    else:
        records = _from_label_table(task, path, labels_file)
    kind = "sample" if source in (None, "sample") else f"{fmt}-{path.suffix.lower()[1:]}"
    info = {"kind": kind, "name": path.name, "sha256": sha256_file(path)}
    used = labels_file or (path.parent / task.loader.labels_file if task.loader.labels_file else None)
    if used is not None and used.is_file():
        info["labels_file"] = {"name": used.name, "sha256": sha256_file(used)}
    return records, info
