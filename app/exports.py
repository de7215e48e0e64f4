"""Writing judgment exports (system names revealed) as CSV or JSONL. Researchers only: the
callers check the role."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from app.storage import EXPORT_COLUMNS
from data.files import write_atomic

FORMATS = ("csv", "jsonl", "parquet", "hf")


def render(rows: list[dict], fmt: str) -> bytes:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")


def write_export(rows: list[dict], fmt: str, path: Path) -> None:
    """Write an export; nothing is left behind when it fails. `hf` writes a datasets folder."""
    if fmt in ("csv", "jsonl"):
        write_atomic(path, render(rows, fmt))
        return
    if fmt == "parquet":
        import pandas as pd

        frame = pd.DataFrame(rows, columns=EXPORT_COLUMNS)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_atomic(path, buffer.getvalue())
        return
    if fmt == "hf":
        import shutil

        from datasets import Dataset

        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent if path.parent.exists() else None))
        try:
            Dataset.from_dict({c: [r[c] for r in rows] for c in EXPORT_COLUMNS}).save_to_disk(str(staging / "data"))
            if path.exists():
                shutil.rmtree(path)
            shutil.move(str(staging / "data"), path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
