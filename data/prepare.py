"""Turn loaded records into train/holdout JSONL files with a manifest.

Normalise text, reject duplicate ids, drop duplicate questions, shuffle with a seed, take n,
split off a disjoint holdout. Everything is validated before anything is written, and files
are written to a temporary folder first, so bad input never leaves a half-written output.
Same inputs and seed give byte-identical files (no timestamps, sorted JSON keys in manifest).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from data.cards import dataset_card
from data.prompts import render_prompt
from data.records import DataError, Example, RawRecord

FILES = ("train.jsonl", "holdout.jsonl", "README.md", "manifest.json")  # README.md: the dataset card


def normalise_text(text: str) -> str:
    """NFC, spaces collapsed within lines, blank lines and edge whitespace removed."""
    text = unicodedata.normalize("NFC", text)
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def question_key(question: str) -> str:
    """Key under which two questions count as duplicates: case, spacing and punctuation ignored."""
    return re.sub(r"[\W_]+", " ", question.casefold()).strip()


@dataclass
class Prepared:
    train: list[Example]
    holdout: list[Example]
    dropped_duplicates: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records_read: int = 0


def check_request(records: list, *, n: int, holdout: int) -> None:
    """The checks every preparation makes first: sizes that make sense, records, unique ids
    (records of any loader: they carry id, file and line)."""
    # Errors about the command line name the option; about the source as a whole, the command names
    # the file (medalign/commands/data.py fills in DataError.file): never "<input>".
    if n < 1:
        raise DataError(f"must be at least 1, got {n}", file="--n")
    if holdout < 0:
        raise DataError(f"must not be negative, got {holdout}", file="--holdout")
    if not records:
        raise DataError("the source holds no records (an empty file?)", line=1)
    _check_ids(records)


def _check_ids(records: list) -> None:
    seen: dict = {}
    for record in records:
        if record.id in seen:
            first = seen[record.id]
            first_at = f"{first.file}:{first.line}" if first.line else first.file
            raise DataError(
                f"duplicate id (first seen at {first_at})",
                file=record.file, line=record.line, record=record.id, field="id",
            )
        seen[record.id] = record


def build_examples(
    records: list[RawRecord], *, n: int, holdout: int, seed: int, template: str, holdout_ids: list[str] | None = None
) -> Prepared:
    """De-duplicate, shuffle with the seed, split. With holdout_ids (an official test split), the
    holdout is exactly those items (in that order; they win over duplicates elsewhere) and the
    training examples are up to n of the others."""
    check_request(records, n=n, holdout=holdout if holdout_ids is None else 0)
    if holdout_ids is not None:
        wanted = set(holdout_ids)
        missing = sorted(wanted - {r.id for r in records})
        if missing:
            raise DataError(f"{len(missing)} items of the official test split are not in the source: "
                            f"{', '.join(missing[:10])}", field="split")
        records = [r for r in records if r.id in wanted] + [r for r in records if r.id not in wanted]

    unique: list[Example] = []
    first_by_key: dict[str, str] = {}
    dropped = []
    for record in records:
        question = normalise_text(record.question)
        context = normalise_text(record.context)
        key = question_key(question)
        if key in first_by_key:
            dropped.append({"id": record.id, "duplicate_of": first_by_key[key]})
            continue
        first_by_key[key] = record.id
        unique.append(
            Example(
                id=record.id,
                question=question,
                context=context,
                prompt=render_prompt(template, question=question, context=context),
                answer=normalise_text(record.answer),
                final_decision=record.final_decision,
            )
        )

    warnings = []
    if holdout_ids is not None:
        held = {e.id: e for e in unique if e.id in wanted}
        rest = [e for e in unique if e.id not in wanted]
        random.Random(seed).shuffle(rest)
        if not rest:
            raise DataError("the official test split leaves no training examples", field="split")
        return Prepared(train=rest[:n], holdout=[held[i] for i in holdout_ids if i in held], dropped_duplicates=dropped,
                        warnings=warnings, records_read=len(records))
    random.Random(seed).shuffle(unique)
    if len(unique) < n:
        warnings.append(f"asked for n={n} examples but only {len(unique)} unique ones are available; using all")
    selected = unique[:n]
    if holdout >= len(selected):
        raise DataError(
            f"{holdout} leaves no training examples out of {len(selected)} selected; lower it",
            file="--holdout",
        )
    return Prepared(
        train=selected[holdout:],
        holdout=selected[:holdout],
        dropped_duplicates=dropped,
        warnings=warnings,
        records_read=len(records),
    )


def _jsonl_bytes(examples: list[Example]) -> bytes:
    return "".join(json.dumps(e.to_json_dict(), ensure_ascii=False) + "\n" for e in examples).encode("utf-8")


def write_prepared(
    prepared: Prepared, out_dir: Path, *, dataset: str, source: dict, seed: int, n: int, holdout: int, template: str
) -> dict:
    """Write train.jsonl, holdout.jsonl and manifest.json into out_dir; return the manifest."""
    payloads = {"train.jsonl": _jsonl_bytes(prepared.train), "holdout.jsonl": _jsonl_bytes(prepared.holdout)}
    manifest = {
        "dataset": dataset,
        "source": source,
        "seed": seed,
        "requested": {"n": n, "holdout": holdout},
        "counts": {
            "records_read": prepared.records_read,
            "duplicates_dropped": len(prepared.dropped_duplicates),
            "unique": prepared.records_read - len(prepared.dropped_duplicates),
            "train": len(prepared.train),
            "holdout": len(prepared.holdout),
        },
        "dropped_duplicates": prepared.dropped_duplicates,
        "prompt_template": template,
        "warnings": prepared.warnings,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "lines": data.count(b"\n")}
            for name, data in payloads.items()
        },
    }
    payloads["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    payloads["README.md"] = dataset_card(manifest).encode("utf-8")  # the dataset card, from the manifest

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".prepare-", dir=out_dir))
    try:
        for name, data in payloads.items():
            (staging / name).write_bytes(data)
        for name in FILES:  # manifest last: its presence means the set is complete
            (staging / name).replace(out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def read_examples(path: Path) -> list[dict]:
    """Read a prepared JSONL file (train.jsonl / holdout.jsonl) as dicts."""
    from data.tables import iter_jsonl, text_field

    rows = []
    for line, row in iter_jsonl(path):
        for name in ("id", "prompt", "answer"):
            text_field(row, name, file=str(path), line=line)
        rows.append(row)
    return rows
