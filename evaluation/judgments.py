"""Reading judgment exports (CSV or JSONL, as `medalign export` writes them) into typed rows.

The columns used by the statistics are checked up front; a missing column or a bad value
stops with the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path

from data.records import DataError
from data.tables import iter_csv, iter_jsonl

REQUIRED = ["item_id", "rater", "system_a", "system_b", "choice", "preferred_system"]
CHOICES = ("A better", "B better", "Tie", "Both bad")
BOOL_COLUMNS = ("is_gold", "evasive_a", "evasive_b", "rater_simulated")


def _bool(value, *, file: str, line: int, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise DataError(f"expected true/false, got {value!r}", file=file, line=line, field=field)


def normalise_row(row: dict, *, file: str = "<rows>", line: int = 0) -> dict:
    for column in REQUIRED:
        if column not in row or row[column] is None:
            raise DataError("missing field", file=file, line=line, field=column)
    out = dict(row)
    out["item_id"] = str(row["item_id"])
    out["rater"] = str(row["rater"])
    if row["choice"] not in CHOICES:
        raise DataError(f"choice must be one of {list(CHOICES)}, got {row['choice']!r}", file=file, line=line, field="choice")
    expected = {"A better": row["system_a"], "B better": row["system_b"]}.get(row["choice"], "")
    if (row["preferred_system"] or "") != expected:
        raise DataError(f"preferred_system {row['preferred_system']!r} does not match choice {row['choice']!r}",
                        file=file, line=line, field="preferred_system")
    out["preferred_system"] = expected
    for column in BOOL_COLUMNS:
        out[column] = _bool(row.get(column, False), file=file, line=line, field=column)
    out["gold_better"] = row.get("gold_better") or ""
    return out


def load_judgments(path: Path) -> list[dict]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = iter_csv(path, REQUIRED)
    elif suffix == ".jsonl":
        rows = iter_jsonl(path)
    else:
        raise DataError("expected a .csv or .jsonl judgment export", file=str(path))
    return [normalise_row(row, file=str(path), line=line) for line, row in rows]


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
