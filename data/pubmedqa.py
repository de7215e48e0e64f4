"""PubMedQA loaders: the Hugging Face Hub copy, the original release file, and plain tables.

All return RawRecord lists; normalisation, de-duplication and splitting happen in prepare.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from data.records import DataError, RawRecord
from data.tables import iter_csv, iter_jsonl, read_text, sha256_file, text_field

HUB_REPO = "qiaojin/PubMedQA"
HUB_CONFIGS = ("pqa_labeled", "pqa_artificial", "pqa_unlabeled")
DECISIONS = ("yes", "no", "maybe")
SAMPLE_PATH = Path(__file__).parent / "sample" / "pubmedqa_sample.json"


def join_context(contexts: list[str], labels: list[str] | None) -> str:
    """The abstract's sections, one per line, each with its section label when there is one."""
    if labels:
        return "\n".join(f"{label.strip().upper()}: {text.strip()}" for label, text in zip(labels, contexts, strict=True))
    return "\n".join(text.strip() for text in contexts)


def _decision(value: Any, *, file: str, line: int | None, record: str) -> str | None:
    if value is None or value == "":
        return None
    decision = str(value).strip().lower()
    if decision not in DECISIONS:
        raise DataError(
            f"final_decision must be one of {list(DECISIONS)}, got {value!r}",
            file=file, line=line, record=record, field="final_decision",
        )
    return decision


def _sections(value: Any, labels: Any, *, file: str, line: int | None, record: str, field: str) -> str:
    """Context from a list of sections (+ labels), a hub-style dict, or a plain string."""
    if isinstance(value, dict):
        labels = value.get("labels")
        value = value.get("contexts")
    if isinstance(value, str):
        if not value.strip():
            raise DataError("empty text", file=file, line=line, record=record, field=field)
        return value.strip()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DataError("expected a non-empty list of section texts", file=file, line=line, record=record, field=field)
    if any(not v.strip() for v in value):
        raise DataError("a context section is empty", file=file, line=line, record=record, field=field)
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(value)):
        raise DataError(
            f"labels must be a list as long as the {len(value)} context sections",
            file=file, line=line, record=record, field="labels",
        )
    return join_context(value, labels)


def _line_of_key(text: str, key: str) -> int | None:
    """Line on which a top-level JSON key appears, for error messages in large files."""
    match = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def load_original(path: Path) -> list[RawRecord]:
    """The original release format (`ori_pqal.json`): one object keyed by PubMed id."""
    file = str(path)
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise DataError("expected a JSON object keyed by PubMed id", file=file, line=1)
    records = []
    for pmid, item in data.items():
        line = _line_of_key(text, pmid)
        if not isinstance(item, dict):
            raise DataError("expected an object", file=file, line=line, record=pmid)
        records.append(
            RawRecord(
                id=str(pmid),
                question=text_field(item, "QUESTION", file=file, line=line, record=pmid),
                context=_sections(
                    item.get("CONTEXTS"), item.get("LABELS"), file=file, line=line, record=pmid, field="CONTEXTS"
                ),
                answer=text_field(item, "LONG_ANSWER", file=file, line=line, record=pmid),
                final_decision=_decision(item.get("final_decision"), file=file, line=line, record=pmid),
                file=file,
                line=line,
            )
        )
    return records


def _from_row(row: dict[str, Any], *, file: str, line: int | None, fallback_id: str) -> RawRecord:
    """A table or hub row: `question`, `context`, `answer` (or the hub's `long_answer`)."""
    raw_id = row.get("id", row.get("pubid"))
    record = str(raw_id).strip() if raw_id not in (None, "") else fallback_id
    answer_field = "long_answer" if "long_answer" in row and "answer" not in row else "answer"
    if "context" not in row or row["context"] is None:
        raise DataError("missing field", file=file, line=line, record=record, field="context")
    return RawRecord(
        id=record,
        question=text_field(row, "question", file=file, line=line, record=record),
        context=_sections(row["context"], row.get("labels"), file=file, line=line, record=record, field="context"),
        answer=text_field(row, answer_field, file=file, line=line, record=record),
        final_decision=_decision(row.get("final_decision"), file=file, line=line, record=record),
        file=file,
        line=line,
    )


def load_table(path: Path) -> list[RawRecord]:
    """JSONL or CSV with `question`, `context` and `answer` columns (`id` optional)."""
    file = str(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = iter_jsonl(path)
    elif suffix == ".csv":
        rows = iter_csv(path, required=["question", "context", "answer"])
    else:
        raise DataError("expected a .jsonl or .csv file", file=file)
    return [_from_row(row, file=file, line=line, fallback_id=f"line{line}") for line, row in rows]


def load_hub(config: str, *, repo: str = HUB_REPO, split: str = "train") -> list[RawRecord]:
    """The Hugging Face Hub copy (`qiaojin/PubMedQA`); needs a network unless cached.

    `repo` may also be a local folder laid out like the hub repository (used offline).
    """
    if config not in HUB_CONFIGS:
        raise DataError(f"unknown PubMedQA config {config!r}; expected one of {list(HUB_CONFIGS)}", field="config")
    import datasets

    try:
        dataset = datasets.load_dataset(repo, config, split=split)
    except Exception as exc:  # datasets raises many types (network, missing config, ...)
        raise DataError(f"cannot load {repo} config {config!r}: {exc}", file=repo) from exc
    where = f"{repo}[{config}]"
    return [_from_row(dict(row), file=where, line=None, fallback_id=f"row{i}") for i, row in enumerate(dataset)]


def load_source(source: str | None) -> tuple[list[RawRecord], dict]:
    """Dispatch on SOURCE: None (bundled sample), `hf:CONFIG`, `hf:REPO:CONFIG`, or a file path."""
    if source is None or source == "sample":
        return load_original(SAMPLE_PATH), {
            "kind": "sample", "name": SAMPLE_PATH.name, "sha256": sha256_file(SAMPLE_PATH)
        }
    if source.startswith("hf:"):
        parts = source[3:].split(":")
        repo, config = (HUB_REPO, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        return load_hub(config, repo=repo), {"kind": "hub", "repo": repo, "config": config}
    path = Path(source)
    if path.suffix.lower() == ".json":
        records = load_original(path)
        return records, {"kind": "pubmedqa-original", "name": path.name, "sha256": sha256_file(path)}
    if path.suffix.lower() in (".jsonl", ".csv"):
        records = load_table(path)
        return records, {"kind": f"table-{path.suffix.lower()[1:]}", "name": path.name, "sha256": sha256_file(path)}
    raise DataError(
        "unknown source: expected 'sample', 'hf:CONFIG', 'hf:REPO:CONFIG', or a .json/.jsonl/.csv file",
        file=source,
    )


OFFICIAL_TEST_FILE = "test_ground_truth.json"  # PubMedQA's release: the 500 test PMIDs of PQA-L and their labels


def official_test_ids(source: str | None) -> tuple[list[str], dict]:
    """The official PQA-L test split: the ids in test_ground_truth.json beside an ori_pqal.json source."""
    if source is None or not source.endswith(".json"):
        raise DataError(f"--split official-test needs the original release file (ori_pqal.json) as --source, with "
                        f"{OFFICIAL_TEST_FILE} beside it", field="split")
    path = Path(source).parent / OFFICIAL_TEST_FILE
    text = read_text(path)
    try:
        labels = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(labels, dict) or not labels:
        raise DataError("expected an object mapping PubMed ids to yes/no/maybe", file=str(path))
    return [str(k) for k in labels], {"name": path.name, "sha256": sha256_file(path), "items": len(labels),
                                      "labels": {str(k): v for k, v in labels.items()}}
