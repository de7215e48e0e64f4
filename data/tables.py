"""Row readers for JSONL, CSV and Excel files that remember where each row came from."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data.records import DataError


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, turning OS and decoding errors into DataError; bounded (issue 23:
    size and line length checked, devices, folders and binary files refused, before parsing)."""
    from data.bounded import read_bounded

    raw = read_bounded(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 (byte {exc.start})", file=str(path), line=line) from exc


def visible_text(text: str) -> str:
    """The text without invisible format characters (zero-width spaces, joiners, BOM...)."""
    if text.isascii():  # no ASCII character is in category Cf; skips a per-character scan
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _BadJson(f"key {key!r} appears twice in one object", key)
        seen[key] = value
    return seen


def _no_constant(name: str):
    raise _BadJson(f"{name} is not a number JSON allows", None)


class _BadJson(ValueError):
    def __init__(self, message: str, field: str | None):
        super().__init__(message)
        self.field = field


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """The field holding text with a lone UTF-16 surrogate (it cannot be stored or shown), if any."""
    if isinstance(value, str):
        return where or "<value>" if not value.isascii() and _SURROGATE.search(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, inner in items:
        found = _lone_surrogate(inner, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line: strict JSON (no NaN or Infinity, no
    repeated keys, no lone surrogates, no absurd nesting)."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=number) from exc
        except _BadJson as exc:
            raise DataError(str(exc), file=str(path), line=number, field=exc.field) from None
        except RecursionError:
            raise DataError("JSON nested too deeply", file=str(path), line=number) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=str(path), line=number)
        surrogate = _lone_surrogate(obj)
        if surrogate:
            raise DataError("text holds a lone surrogate (broken Unicode escape)", file=str(path), line=number,
                            field=surrogate)
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
    if not visible_text(value).strip():
        raise DataError("empty text", file=file, line=line, record=record, field=name)
    return value


def sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
