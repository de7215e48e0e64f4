"""Writing judgment exports (system names revealed) as CSV or JSONL. Researchers only: the
callers check the role."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from app.storage import EXPORT_COLUMNS

FORMATS = ("csv", "jsonl")


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


def write_atomic(path: Path, payload: bytes) -> None:
    """Write via a temporary file in the same folder, so a failure leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
