"""Row readers for JSONL, CSV and Excel files that remember where each row came from."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data.records import DataError


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, turning OS and decoding errors into DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 (byte {exc.start})", file=str(path), line=line) from exc


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=number) from exc
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=str(path), line=number)
        yield number, obj


def iter_csv(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) for a CSV with a header; a missing column is an error."""
    text = read_text(path)
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; found {header}", file=str(path), line=1, field=missing[0]
        )
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                raise DataError("row has more cells than the header", file=str(path), line=reader.line_num)
            yield reader.line_num, row
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", file=str(path), line=reader.line_num) from exc


def iter_xlsx(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (spreadsheet row number, row) from the first sheet of an .xlsx workbook."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, BadZipFile, KeyError, ValueError) as exc:
        raise DataError(f"cannot read Excel workbook: {exc}", file=str(path)) from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_cells = next(rows, None) or ()
        header = [str(c).strip() if c is not None else "" for c in header_cells]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"sheet {sheet.title!r} lacks column(s) {missing}; found {[h for h in header if h]}",
                file=str(path),
                line=1,
                field=missing[0],
            )
        for number, cells in enumerate(rows, start=2):
            if cells is None or all(c is None for c in cells):
                continue
            yield number, {h: cells[i] if i < len(cells) else None for i, h in enumerate(header) if h}
    finally:
        workbook.close()


def text_field(row: dict[str, Any], name: str, *, file: str, line: int | None, record: str | None = None) -> str:
    """A required, non-empty text field of a row."""
    if name not in row or row[name] is None:
        raise DataError("missing field", file=file, line=line, record=record, field=name)
    value = row[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataError(f"expected text, got {type(value).__name__}", file=file, line=line, record=record, field=name)
    if not value.strip():
        raise DataError("empty text", file=file, line=line, record=record, field=name)
    return value


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
