"""The one reader of generation files (`medalign generate`'s output, the app's study import, the
report's HQ and ROUGE): one item a line, `id`, `question`, `reference`?, `outputs` {system: text}."""

from __future__ import annotations

from pathlib import Path

from data.records import DataError
from data.tables import iter_jsonl


def read_generations(path: Path, *, may_be_absent: bool = False) -> list[dict]:
    """Every row, checked to have its `outputs` object. `may_be_absent`: an absent or empty file is
    no rows (a generation run that starts or resumes), instead of an error."""
    path = Path(path)
    if may_be_absent and not path.exists():
        return []
    rows = []
    for line, row in iter_jsonl(path):
        if not isinstance(row.get("outputs"), dict):
            raise DataError("missing or not an object", file=str(path), line=line, field="outputs")
        rows.append(row)
    if not rows and not may_be_absent:
        raise DataError("the file holds no generations", file=str(path))
    return rows
