"""Database tables, all in one place (SQLModel). Schema changes go through Alembic migrations
in app/migrations; add a migration whenever this file changes."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs) -> Field:
    return Field(default_factory=utcnow, sa_column_kwargs=kwargs, sa_type=DateTime(timezone=True))


class Role(StrEnum):
    physician = "physician"
    researcher = "researcher"


class Choice(StrEnum):
    """What a physician can answer for one pair (as shown: left = A, right = B)."""

    a_better = "A better"
    b_better = "B better"
    tie = "Tie"
    both_bad = "Both bad"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: Role
    password_hash: str
    disabled: bool = False
    simulated: bool = False  # demo raters; shown as simulated wherever they appear
    created_at: datetime = _ts()


class Study(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    system_1: str  # the two systems compared, in the order given at creation
    system_2: str
    overlap: int = 1  # physicians per (non-gold) item
    seed: int = 0
    guidelines: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    source_name: str = ""
    source_sha256: str = ""
    created_at: datetime = _ts()


class Item(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    external_id: str
    position: int  # order in the imported file
    question: str = Field(sa_column=Column(Text, nullable=False))
    context: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reference: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answer_1: str = Field(sa_column=Column(Text, nullable=False))  # written by study.system_1
    answer_2: str = Field(sa_column=Column(Text, nullable=False))  # written by study.system_2
    is_gold: bool = False
    gold_better: int | None = None  # 1 or 2: the system whose answer is known to be better


class PhysicianOrder(SQLModel, table=True):
    """The seeded random order in which one physician meets a study's items."""

    __table_args__ = (UniqueConstraint("study_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    seed: int
    item_order: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of item ids
    created_at: datetime = _ts()


class Assignment(SQLModel, table=True):
    """One item handed to one physician, with its left/right placement.

    `slot` numbers the physicians of a non-gold item (0..overlap-1); the unique constraint on
    (item_id, slot) makes the database itself refuse an item beyond its overlap, whatever the
    concurrency. Gold items use slot = -user_id, as every physician sees them.
    """

    __table_args__ = (
        UniqueConstraint("user_id", "item_id"),
        UniqueConstraint("item_id", "slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    slot: int
    sequence: int  # position in this physician's work (0, 1, 2, ...)
    left_system: int  # 1 or 2: which system's answer is shown as "Answer A"
    # Random handle the browser holds for the pair on screen: a submit names it, so a retry
    # after a lost reply or a server restart lands on the same pair (and is a no-op there).
    token: str = Field(default_factory=lambda: secrets.token_urlsafe(16), unique=True, index=True)
    created_at: datetime = _ts()
    shown_at: datetime = _ts()


class Judgment(SQLModel, table=True):
    """A physician's judgment of one assignment; one per assignment (revisions update it)."""

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", unique=True, index=True)
    choice: Choice
    preferred_system: str | None = None  # derived on the server; None for Tie / Both bad
    evasive_1: bool = False  # evasive flag of study.system_1's answer
    evasive_2: bool = False
    rationale: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    time_on_task_ms: int
    revisions: int = 0
    app_version: str
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
