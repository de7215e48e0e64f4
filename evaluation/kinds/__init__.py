"""The study kinds: one object per kind (evaluation/kinds/base.py `Kind`), in one registry.

A kind says how an item's answers become units, how a judgment is checked once on entry (from
the judging screen through storage, or from a file through its export parser), its stored
columns, its export columns and rows, which report builds its results and which UI panel shows
it. Storage (app/storage), exports (app/exports.py), the report command and the dashboard look
the kind up here and branch on nothing else. A judgment is carried in screen order (`a` = left)
from entry to report; see base.py for the one place that meets the stored answer slots.

Adding a kind (the README's checklist): a module here defining `KIND` and a line in `KINDS`;
a UI panel in app/ui registered under `KIND.panel`; the report `KIND.report` names; and an
Alembic migration only if its stored form needs a column the judgment table lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from evaluation.kinds import pairwise, rating
from evaluation.kinds.base import Judged, Kind, KindError, Shown, UnitPlan, in_screen_order, screen_flags, slot_flags

KINDS: dict[str, Kind] = {kind.name: kind for kind in (pairwise.KIND, rating.KIND)}

# Exports made before study kinds existed have neither kind's signature columns complete; they are
# pairwise, and the pairwise parser names the field they lack.
DEFAULT_KIND = pairwise.KIND.name

# The shipped kinds' names, for command-line choices and type hints; derived, never listed twice.
StudyKind = StrEnum("StudyKind", {name: name for name in KINDS})


def get_kind(name) -> Kind:
    """The kind named `name` (a study's stored `kind`); KindError naming the known kinds."""
    kind = KINDS.get(str(name))
    if kind is None:
        raise KindError(f"unknown study kind {name!r}; known kinds: {', '.join(sorted(KINDS))}")
    return kind


def kind_of_columns(columns: Iterable[str]) -> Kind:
    """The kind whose export an export header (or a row's keys) is: the one whose signature
    columns are all present (the most specific if several), else the default."""
    present = set(columns)
    matches = [kind for kind in KINDS.values() if kind.signature <= present]
    return max(matches, key=lambda kind: len(kind.signature)) if matches else KINDS[DEFAULT_KIND]


__all__ = ["DEFAULT_KIND", "KINDS", "Judged", "Kind", "KindError", "Shown", "StudyKind", "UnitPlan", "get_kind",
           "in_screen_order", "kind_of_columns", "screen_flags", "slot_flags"]
