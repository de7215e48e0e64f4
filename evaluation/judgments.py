"""Reading judgment exports (CSV or JSONL, as `medalign export` writes them) into typed rows.

The columns used by the statistics are checked up front; a missing column or a bad value
stops with the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

from data.records import DataError
from data.tables import iter_csv, iter_jsonl
from evaluation.contract import PairwiseJudgment, StudyKind, parse_export, parse_pairwise


def normalise_row(row: dict, *, file: str = "<rows>", line: int = 0) -> PairwiseJudgment:
    """One pairwise export row, checked by the judgment contract (display labels of old exports load too)."""
    return parse_pairwise(row, file=file, line=line)


def read_export(path: Path) -> tuple[StudyKind, list]:
    """A judgment export of either kind of study (.csv or .jsonl, as `medalign export` writes it):
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
    if kind is not StudyKind.pairwise:
        raise DataError("this is a rating-study export; the pairwise report needs pairwise judgments", file=str(path))
    return rows


def load_generations(path: Path) -> list[dict]:
    """A generation file (`id`, `question`, `reference`?, `outputs` {system: text})."""
    rows = []
    for line, row in iter_jsonl(Path(path)):
        if not isinstance(row.get("outputs"), dict):
            raise DataError("missing or not an object", file=str(path), line=line, field="outputs")
        rows.append(row)
    if not rows:
        raise DataError("the file holds no generations", file=str(path))
    return rows


def dumps_rows(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
