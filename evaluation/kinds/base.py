"""What a study kind is made of (the Kind object), and what every kind shares.

Orientation, once: a judgment is carried in screen terms from the moment it enters to the
report. `Shown` lists a unit's answers in the order the physician saw them (left to right,
"Answer A" first); a submitted judgment, its stored choice, its export row and the report all
speak of that order (`a` = left). The one place that meets the unit's stored answer slots is
`in_screen_order`, `slot_flags` and `screen_flags` below: the evasive flags have been stored per
answer slot (`evasive_1`, `evasive_2`) since the first schema, and stored values never change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from data.records import DataError


@dataclass(frozen=True)
class Shown:
    """One answer of a unit as it was on screen: its system, text and stored slot (1 or 2)."""

    system: str
    text: str
    slot: int


@dataclass(frozen=True)
class UnitPlan:
    """One unit of work made from an item's answers: the systems in stored slot order."""

    systems: tuple[str, ...]
    is_gold: bool = False

    @property
    def comparison(self) -> str:
        return ":".join(self.systems)


@dataclass(frozen=True)
class Judged:
    """A stored judgment read back in screen terms, with what the export needs of its unit."""

    shown: tuple[Shown, ...]
    choice: str | None
    preferred_system: str | None
    ratings: dict | None
    evasive: tuple[bool, ...]  # per answer on screen, left to right
    is_gold: bool = False
    gold_system: str | None = None


class KindError(ValueError):
    """A study or a judgment does not fit its kind; the message says what is wrong."""


def _resolve(target: str | Callable) -> Callable:
    """A function, or "module:function" imported when first used (the registry sits below the
    reports in the import graph: a report imports the contract, so the kind names its report)."""
    if callable(target):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Kind:
    """Everything that differs between study kinds. Storage, exports, the report command and the
    dashboard ask the kind; nothing else branches on a kind's name."""

    name: str
    description: str
    answers_per_unit: int  # 1 or 2 (the unit's answer_1 / answer_2)
    # (systems, comparisons or None, rubric or None, has_gold) -> the comparisons the units follow;
    # KindError when the study does not fit the kind.
    plan: Callable[[list[str], list | None, object, bool], list[tuple[str, ...]]]
    # (comparisons, gold_system or None) -> the units of one item.
    units: Callable[[list[tuple[str, ...]], str | None], list[UnitPlan]]
    # (submitted values, answers as shown, rubric or None) -> the kind's stored columns
    # (choice, preferred_system, ratings); KindError when invalid. The only check on entry from the UI.
    validate: Callable[[Mapping, tuple[Shown, ...], object], dict]
    # (columns common to every kind, judged, rubric or None) -> the export rows of one judgment.
    export_rows: Callable[[dict, Judged, object], list[dict]]
    columns: tuple[str, ...]  # export columns, in order
    signature: frozenset[str]  # columns that tell this kind's export from the others'
    # (row, file, line) -> typed row; DataError naming file, line and field. The only check on entry from a file.
    parse_row: Callable[..., dict]
    report: str | Callable  # (judgments, settings, out_dir, **options) -> written paths
    panel: str  # the UI panel that shows a unit of this kind (app/ui maps names to panels)
    report_options: tuple[str, ...] = ()  # report options this kind's report uses
    reader: str | Callable | None = None  # path -> judgments for the report (default: parsed rows)

    def write_report(self, judgments, settings: dict, out_dir: Path, **options) -> list[Path]:
        used = {k: v for k, v in options.items() if k in self.report_options and v is not None}
        return _resolve(self.report)(judgments, settings, out_dir, **used)

    def unused_options(self, **options) -> list[str]:
        """Options given (not None) that this kind's report does not use."""
        return [k for k, v in options.items() if v is not None and k not in self.report_options]

    def read(self, path: Path, parsed_rows: Callable[[Path], list]):
        """A judgment export for this kind's report: its own reader, else the contract's rows."""
        return _resolve(self.reader)(path) if self.reader else parsed_rows(path)


def in_screen_order(slots: Sequence[tuple[str, str]], left_slot: int) -> tuple[Shown, ...]:
    """A unit's answers, (system, text) in stored slot order, as shown: the assignment's
    `left_slot` (1 or 2) is "Answer A"."""
    shown = [Shown(system, text, slot) for slot, (system, text) in enumerate(slots, 1)]
    return tuple(reversed(shown)) if left_slot == 2 and len(shown) == 2 else tuple(shown)


def slot_flags(on_screen: Sequence[bool], shown: Sequence[Shown]) -> dict[str, bool]:
    """Evasive flags in screen order -> the stored columns evasive_1 / evasive_2."""
    out = {"evasive_1": False, "evasive_2": False}
    for answer, flag in zip(shown, on_screen, strict=False):  # a one-answer unit ignores a second flag
        out[f"evasive_{answer.slot}"] = flag
    return out


def screen_flags(stored: Mapping[str, bool], shown: Sequence[Shown]) -> tuple[bool, ...]:
    """The stored evasive_1 / evasive_2 -> flags in screen order."""
    return tuple(bool(stored[f"evasive_{answer.slot}"]) for answer in shown)


def parse_bool(value, *, file: str = "<rows>", line: int = 0, field: str = "") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise DataError(f"expected true/false, got {value!r}", file=file, line=line, field=field)


RATER_KINDS = ("physician", "model")  # who judged: a physician, or a model judge (issue 21)


def parse_rater_kind(value, *, file: str = "<rows>", line: int = 0) -> str:
    """"physician" (also for exports made before the column existed) or "model"."""
    text = str(value or "physician").strip().lower()
    if text not in RATER_KINDS:
        raise DataError(f"rater_kind must be one of {list(RATER_KINDS)}, got {value!r}", file=file, line=line,
                        field="rater_kind")
    return text


def require(row: Mapping, columns, file: str, line: int) -> None:
    for column in columns:
        if column not in row or row[column] is None:
            raise DataError("missing field", file=file, line=line, field=column)


def typed(row: Mapping, columns: Sequence[str]) -> dict:
    """A row with every column of its kind (missing ones ""), extra columns kept after them."""
    out = {column: row.get(column, "") for column in columns}
    out.update({k: v for k, v in row.items() if k not in out})
    out["item_id"], out["rater"] = str(row["item_id"]), str(row["rater"])
    return out

