"""Reading judgment exports (CSV or JSONL, as `medalign export` writes them) into typed rows, and
handing judgments of any kind to their kind's report.

A file is a judgment's entry from outside: every row is checked once, by its kind's parser
(evaluation.contract), and a missing column or a bad value stops with the file, line and
field. A study's own rows (app storage) were checked when they were stored and reach the
report as they are.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from data.records import DataError
from data.tables import iter_csv, iter_jsonl
from evaluation.contract import PairwiseJudgment, StudyKind, parse_export, parse_pairwise
from evaluation.kinds import Kind, kind_of_columns


def normalise_row(row: dict, *, file: str = "<rows>", line: int = 0) -> PairwiseJudgment:
    """One pairwise export row, checked by the judgment contract (display labels of old exports load too)."""
    return parse_pairwise(row, file=file, line=line)


def read_export(path: Path) -> tuple[StudyKind | str, list]:
    """A judgment export of any kind of study (.csv or .jsonl, as `medalign export` writes it):
    (kind, rows), every row checked by the contract; the kind is read off the first row."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = iter_csv(path, ["item_id", "rater"])
    elif suffix == ".jsonl":
        rows = iter_jsonl(path)
    else:
        raise DataError("expected a .csv or .jsonl judgment export", file=str(path))
    return parse_export(rows, file=str(path))


def load_judgments(path: Path) -> list[PairwiseJudgment]:
    """A pairwise judgment export, every row checked by contract.parse_pairwise."""
    kind, rows = read_export(path)
    if kind != StudyKind.pairwise:
        raise DataError(f"this is a {kind}-study export; the pairwise report needs pairwise judgments", file=str(path))
    return rows


def export_kind(path: Path) -> Kind:
    """The kind of a .csv/.jsonl judgment export, by its header or first record (only the first
    non-blank line is read: a pairwise export can be a gigabyte). The reader reports bad files."""
    from data.bounded import read_first_line

    path = Path(path)
    head = read_first_line(path)  # bounded: a file of one huge line, or /dev/zero, is not read whole
    text = head.decode("utf-8-sig", errors="replace")
    columns: list = []
    if path.suffix.lower() == ".csv":
        columns = next(csv.reader([text]), [])
    elif text.strip():
        try:
            record = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested absurdly deep: the reader says where
            record = {}
        columns = list(record) if isinstance(record, dict) else []
    return kind_of_columns(columns)


def read_for_report(path: Path) -> tuple[Kind, object]:
    """(kind, judgments) of an export, as that kind's report takes them (its own reader, e.g. the
    pairwise columns, or rows checked by the contract)."""
    from data.bounded import check_input_file, check_json_depth, read_first_line

    check_input_file(Path(path))  # a device, folder or oversized file: refused before any reader opens it
    if Path(path).suffix.lower() == ".jsonl":  # pyarrow's JSON reader crashes (segfault) on absurd nesting
        check_json_depth(Path(path))
    if Path(path).suffix.lower() == ".csv":  # a repeated column would make the columnar reader fail
        header = next(csv.reader([read_first_line(Path(path)).decode("utf-8-sig", "replace")]), [])
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise DataError(f"column(s) {repeated} appear more than once in the header", file=str(path), line=1,
                            field=repeated[0])
    kind = export_kind(path)
    _import_report_meanwhile(kind)
    return kind, kind.read(path, lambda p: _rows_of_kind(p, kind))


def _import_report_meanwhile(kind: Kind) -> None:
    """Import the kind's report module in a thread while the file is read: pyarrow parses a CSV
    without holding the GIL, so the report's imports load on the other core meanwhile. pandas comes
    first: pyarrow imports it (~0.15 s) at its first Python-to-arrow conversion, which the reader
    makes as soon as the parse ends (the parse itself makes none). The reader's own modules are
    imported first, here, so that the two threads never wait on each other's half-imported modules."""
    import importlib
    import threading

    if not isinstance(kind.report, str) or not isinstance(kind.reader, str):
        return
    importlib.import_module(kind.reader.partition(":")[0])
    importlib.import_module("data.files")
    import pyarrow.csv  # noqa: F401  (the reader's)

    def load(module: str = kind.report.partition(":")[0]) -> None:
        try:
            importlib.import_module("pandas")
        except ImportError:  # not installed: pyarrow then does without it
            pass
        try:
            report = importlib.import_module(module)
            for later in getattr(report, "LATER_IMPORTS", ()):  # what the report imports on its way
                importlib.import_module(later)
        except Exception:  # noqa: BLE001 (imported again when the report runs, which raises it there, without a traceback)
            pass

    threading.Thread(target=load, name="report-imports", daemon=True).start()


def _rows_of_kind(path: Path, kind: Kind) -> list:
    found, rows = read_export(path)
    if found != kind.name:
        raise DataError(f"this is a {found}-study export, not {kind.name}", file=str(path))
    return rows
