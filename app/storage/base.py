"""The transaction helper, the errors storage raises, and the text checks every writer uses."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from data.tables import visible_text


class StorageError(ValueError):
    """A request the data does not allow (unknown user, study exists, not your assignment...)."""


class AccessDenied(StorageError):
    """The user may not do this."""


# One lock per SQLite database (by URL). Every SQLite transaction takes the write lock (BEGIN
# IMMEDIATE, app/db.py), and a thread that finds it taken sleeps in SQLite's busy handler in steps
# of up to 100 ms, and can sleep on while the lock sits free. Queueing the app's own threads on a
# Python lock hands it over the moment it is released; other processes (the CLI) still meet the
# busy timeout.
_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _writer_lock(engine: Engine):
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(str(engine.url), threading.RLock())


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    with _writer_lock(engine), Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fold(text: str) -> str:
    """The form two names are compared in: look-alikes (NFKC), case and invisibles folded away."""
    return unicodedata.normalize("NFKC", visible_text(text)).casefold().strip()


def checked_text(value, what: str, *, limit: int, required: bool = False) -> str:
    """A free text as stored: a real string, within its size limit, non-empty when required."""
    if not isinstance(value, str):
        raise StorageError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise StorageError(f"{what} has {len(value):,} characters; the limit is {limit:,}")
    if required and not visible_text(value).strip():
        raise StorageError(f"{what} is empty")
    return value
