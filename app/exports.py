"""Writing judgment exports (system names revealed) as CSV or JSONL. Researchers only: the
callers check the role."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from data.files import neutralise_formula, write_atomic  # noqa: F401  (app.eval_cli imports it from here)
from data.safe_output import check_output_file, output_folder, write_file
from evaluation.kinds import DEFAULT_KIND, get_kind

FORMATS = ("csv", "jsonl", "parquet", "hf")
def render(rows: list[dict], fmt: str, kind: str = DEFAULT_KIND) -> bytes:
    if fmt == "csv":
        buffer = io.StringIO()
        # Every field quoted, so a separator inside a text (',' or a locale's ';') cannot start
        # a new cell whose first character would then be a formula.
        writer = csv.DictWriter(buffer, fieldnames=get_kind(kind).columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows({k: neutralise_formula(v) for k, v in row.items()} for row in rows)
        return buffer.getvalue().encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")


def write_export(rows: list[dict], fmt: str, path: Path, kind: str = DEFAULT_KIND, *,
                 overwrite: bool = False) -> None:
    """Write an export; nothing is left behind when it fails, and nothing the user owns is
    replaced (data/safe_output.py): an existing file or non-empty folder is refused unless
    `overwrite`. `hf` writes a datasets folder."""
    if fmt in ("csv", "jsonl"):
        write_file(path, render(rows, fmt, kind), overwrite=overwrite)
        return
    if fmt == "parquet":
        import pandas as pd

        check_output_file(path, overwrite=overwrite)
        frame = pd.DataFrame(rows, columns=list(get_kind(kind).columns))
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_file(path, buffer.getvalue(), overwrite=overwrite)
        return
    if fmt == "hf":
        from datasets import Dataset

        with output_folder(path, overwrite=overwrite) as staging:
            Dataset.from_dict({c: [r[c] for r in rows] for c in get_kind(kind).columns}).save_to_disk(str(staging))
        return
    raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
