"""The shapes every loader produces, and the one error type bad input raises."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class DataError(ValueError):
    """Bad input. Names the file, the line or record, and the field, so a user can fix it."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.record = record
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        place = self.file or "<input>"
        if self.line is not None:
            place += f":{self.line}"
        parts = [place]
        if self.record is not None:
            parts.append(f"record {self.record!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts) + f": {self.message}"


@dataclass(frozen=True)
class RawRecord:
    """One item as read from a source, before normalisation.

    `where` is a human-readable location ("file.jsonl:12") used in error messages.
    """

    id: str
    question: str
    context: str
    answer: str
    final_decision: str | None
    file: str
    line: int | None


@dataclass(frozen=True)
class Example:
    """One prepared example, as written to train.jsonl / holdout.jsonl."""

    id: str
    question: str
    context: str
    prompt: str
    answer: str
    final_decision: str | None = None

    def to_json_dict(self) -> dict:
        row = asdict(self)
        if row["final_decision"] is None:
            del row["final_decision"]
        return row
