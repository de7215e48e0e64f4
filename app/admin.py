"""What the researcher commands and the demo read from a study, in one transaction each.

The command line and the demo call these instead of opening sessions themselves; storage
functions do the work, and their refusals (StorageError) reach the caller unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app import storage
from app.db import open_database


@dataclass(frozen=True)
class StudyJudgments:
    """A study's judgments in the export format (system names revealed), its kind, and what a
    report states about it."""

    rows: list[dict]
    kind: str  # a name in evaluation.kinds.KINDS
    settings: dict


def engine_for(db: str | Engine | None) -> Engine:
    """An engine for a URL (None: MEDALIGN_DATABASE_URL or the default), migrated; an engine as it is."""
    return db if isinstance(db, Engine) else open_database(db)


def in_transaction(db: str | Engine | None, action: Callable):
    """action(session) in one transaction; returns what it returns."""
    with storage.transaction(engine_for(db)) as session:
        return action(session)


def study_judgments(db: str | Engine | None, name: str) -> StudyJudgments:
    def read(session) -> StudyJudgments:
        study = storage.get_study(session, name)
        return StudyJudgments(storage.export_judgments(session, study), study.kind,
                              storage.study_settings(session, study))
    return in_transaction(db, read)
