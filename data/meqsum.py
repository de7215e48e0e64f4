"""MeQSum loader: the published Excel file (columns File, CHQ, Summary), or CSV/JSONL alike."""

from __future__ import annotations

from pathlib import Path

from data.records import DataError, RawRecord
from data.tables import iter_csv, iter_jsonl, iter_xlsx, sha256_file, text_field

COLUMNS = ["File", "CHQ", "Summary"]
SAMPLE_PATH = Path(__file__).parent / "sample" / "meqsum_sample.csv"


def load(path: Path) -> list[RawRecord]:
    """Read MeQSum rows: id = File, question = CHQ (the consumer question), answer = Summary."""
    file = str(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = iter_xlsx(path, COLUMNS)
    elif suffix == ".csv":
        rows = iter_csv(path, COLUMNS)
    elif suffix == ".jsonl":
        rows = iter_jsonl(path)
    else:
        raise DataError("expected a .xlsx, .csv or .jsonl file", file=file)
    records = []
    for line, row in rows:
        record_id = text_field(row, "File", file=file, line=line).strip()
        records.append(
            RawRecord(
                id=record_id,
                question=text_field(row, "CHQ", file=file, line=line, record=record_id),
                context="",
                answer=text_field(row, "Summary", file=file, line=line, record=record_id),
                final_decision=None,
                file=file,
                line=line,
            )
        )
    return records


def load_source(source: str | None) -> tuple[list[RawRecord], dict]:
    if source is None or source == "sample":
        path, kind = SAMPLE_PATH, "sample"
    else:
        path = Path(source)
        kind = f"meqsum-{path.suffix.lower()[1:]}"
    records = load(path)
    return records, {"kind": kind, "name": path.name, "sha256": sha256_file(path)}
