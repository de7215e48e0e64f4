"""Writing judgment exports (system names revealed) as CSV or JSONL. Researchers only: the
callers check the role."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from data.files import neutralise_formula, write_atomic
from evaluation.contract import COLUMNS, StudyKind

FORMATS = ("csv", "jsonl", "parquet", "hf")
def render(rows: list[dict], fmt: str, kind: StudyKind | str = StudyKind.pairwise) -> bytes:
    if fmt == "csv":
        buffer = io.StringIO()
        # Every field quoted, so a separator inside a text (',' or a locale's ';') cannot start
        # a new cell whose first character would then be a formula.
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS[StudyKind(kind)], lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows({k: neutralise_formula(v) for k, v in row.items()} for row in rows)
        return buffer.getvalue().encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")


def write_export(rows: list[dict], fmt: str, path: Path, kind: StudyKind | str = StudyKind.pairwise) -> None:
    """Write an export; nothing is left behind when it fails. `hf` writes a datasets folder."""
    if fmt in ("csv", "jsonl"):
        write_atomic(path, render(rows, fmt, kind))
        return
    if fmt == "parquet":
        import pandas as pd

        frame = pd.DataFrame(rows, columns=COLUMNS[StudyKind(kind)])
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_atomic(path, buffer.getvalue())
        return
    if fmt == "hf":
        import shutil

        from datasets import Dataset

        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent if path.parent.exists() else None))
        try:
            Dataset.from_dict({c: [r[c] for r in rows] for c in COLUMNS[StudyKind(kind)]}).save_to_disk(str(staging / "data"))
            if path.exists():
                shutil.rmtree(path)
            shutil.move(str(staging / "data"), path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
