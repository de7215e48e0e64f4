"""Database tables, all in one place (SQLModel). Schema changes go through Alembic migrations
in app/migrations; add a migration whenever this file changes."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.roles import Role  # defined apart so that the command line offers the roles without SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kwargs) -> Field:
    return Field(default_factory=utcnow, sa_column_kwargs=kwargs, sa_type=DateTime(timezone=True))


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: Role
    password_hash: str
    disabled: bool = False
    simulated: bool = False  # demo raters; shown as simulated wherever they appear
    # "physician", or "model": a model judge's verdicts (issue 21), never a login, never counted as a physician
    rater_kind: str = Field(default="physician", sa_column_kwargs={"server_default": "physician"})
    created_at: datetime = _ts()
    # Set when the password changes or the account is disabled: login sessions issued before
    # this moment are refused by the server.
    credentials_changed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Study(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    # a name in evaluation.kinds.KINDS (the kind says how units are made and judgments checked)
    kind: str = Field(default="pairwise", sa_type=String, sa_column_kwargs={"server_default": "pairwise"})
    systems: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, in the order given at creation
    rubric: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))  # JSON (rating)
    overlap: int = 1  # physicians per unit of work (per comparison of a non-gold item, or per answer)
    seed: int = 0
    guidelines: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    source_name: str = ""
    source_sha256: str = ""
    created_at: datetime = _ts()
    # analysis plan (evaluation.plan.AnalysisPlan), declared at creation; migration 0006
    primary_estimand: str = Field(default="decisive", sa_column_kwargs={"server_default": "decisive"})
    target_system: str | None = None
    alpha: float = Field(default=0.05, sa_column_kwargs={"server_default": "0.05"})
    planned_physicians: int | None = None
    planned_items: int | None = None
    max_share: float | None = None
    # --physician-sample N: physicians are assigned a uniform random sample of N items (Item.in_physician_sample);
    # None: every item. PPI needs this to be a known random sample (issue 21, migration 0005)
    physician_sample: int | None = None

    @property
    def system_names(self) -> list[str]:
        return json.loads(self.systems)


class Item(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    external_id: str
    position: int  # order in the imported file
    question: str = Field(sa_column=Column(Text, nullable=False))
    context: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reference: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    is_gold: bool = False
    gold_system: str | None = None  # gold items: the system whose answer is known to be better
    in_physician_sample: bool = Field(default=True, sa_column_kwargs={"server_default": "1"})  # see Study.physician_sample


class Answer(SQLModel, table=True):
    """One system's answer to one item."""

    __table_args__ = (UniqueConstraint("item_id", "system", name="uq_answer_item_system"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    system: str
    text: str = Field(sa_column=Column(Text, nullable=False))


class Unit(SQLModel, table=True):
    """One piece of work handed out: a pair of answers (pairwise) or one answer (rating).

    `comparison` names what is compared ("sft:dpo", or "dpo" for a rating) so that overlap and
    left/right balance are kept per comparison; the assignment engine needs nothing else.
    """

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    answer_1_id: int = Field(foreign_key="answer.id")
    answer_2_id: int | None = Field(default=None, foreign_key="answer.id")
    comparison: str
    is_gold: bool = False  # every physician gets gold units (attention checks), beyond the overlap


class PhysicianOrder(SQLModel, table=True):
    """The seeded random order in which one physician meets a study's units."""

    __table_args__ = (UniqueConstraint("study_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    seed: int
    unit_order: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of unit ids
    created_at: datetime = _ts()


class QueueEntry(SQLModel, table=True):
    """One unit in one physician's order (the rows of PhysicianOrder.unit_order, migration 0007):
    an indexed table, so that the next unit is claimed by one INSERT ... SELECT instead of being
    recomputed in Python from every assignment of the study."""

    __tablename__ = "physician_queue"
    __table_args__ = (UniqueConstraint("study_id", "user_id", "position", name="uq_physician_queue_position"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id")
    user_id: int = Field(foreign_key="user.id")
    position: int
    unit_id: int = Field(foreign_key="unit.id")


class Assignment(SQLModel, table=True):
    """One unit handed to one physician, with its left/right placement.

    `slot` numbers the physicians of a non-gold unit (0..overlap-1); the unique constraint on
    (unit_id, slot) makes the database itself refuse a unit beyond its overlap, whatever the
    concurrency. Gold units use slot = -user_id, as every physician sees them.
    """

    __table_args__ = (
        UniqueConstraint("user_id", "unit_id", name="uq_assignment_user_unit"),
        UniqueConstraint("unit_id", "slot", name="uq_assignment_unit_slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    slot: int
    sequence: int  # position in this physician's work (0, 1, 2, ...)
    left_system: int  # 1 or 2: which of the unit's answers is shown as "Answer A" (1 for ratings)
    # Random handle the browser holds for the work on screen: a submit names it, so a retry
    # after a lost reply or a server restart lands on the same unit (and is a no-op there).
    token: str = Field(default_factory=lambda: secrets.token_urlsafe(16), unique=True, index=True)
    created_at: datetime = _ts()
    shown_at: datetime = _ts()
    # "Cannot judge" (issue 22, migration 0007): an evaluation.kinds.skip.SkipReason code, a note
    # (required for "other"), when. A skipped unit is done for its physician, never a judgment;
    # its slot moves below SKIP_SLOT_BASE so that another physician can take the unit.
    skipped_reason: str | None = None
    skipped_note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    skipped_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Judgment(SQLModel, table=True):
    """A physician's judgment of one assignment; one per assignment (revisions update it).

    Pairwise: `choice` (an evaluation.contract.Choice code, relative to the screen) and the
    derived `preferred_system`. Rating: `ratings`, a JSON object {criterion id: stored value}.
    """

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", unique=True, index=True)
    choice: str | None = None
    preferred_system: str | None = None  # derived on the server; None for tie / both_bad
    evasive_1: bool = False  # evasive flag of the unit's answer 1
    evasive_2: bool = False
    ratings: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rationale: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    time_on_task_ms: int
    revisions: int = 0
    app_version: str
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class LoginSession(SQLModel, table=True):
    """A browser login (issue 22): kept in the database so that a restart, or another app process
    on the same database, keeps it. The browser holds the token; only its sha256 is stored."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(unique=True, index=True)
    user_name: str = Field(index=True)
    issued_at: datetime = _ts()
    last_seen_at: datetime = _ts()  # the last request that was the physician's own doing (idle timeout)
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_reason: str = ""  # "logout", "idle"


class LoginAttempt(SQLModel, table=True):
    """A login attempt counted by the throttle (issue 22), shared by every app process: one row
    per throttle key (address, or user and address) and attempt, until it succeeds or expires."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)
    attempt: str = Field(index=True)  # one id per attempt, shared by its keys (to withdraw it)
    at: float  # seconds since the epoch


class StudyMember(SQLModel, table=True):
    """A physician of a study (issue 22). A study with members is shown to and assigned to its
    members only; a study without any is open to every physician (as before memberships)."""

    __tablename__ = "study_member"
    __table_args__ = (UniqueConstraint("study_id", "user_id", name="uq_study_member"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    added_at: datetime = _ts()


class Invitation(SQLModel, table=True):
    """A one-time sign-up link for a named physician (issue 22): the link carries a random token,
    only its sha256 is stored. Opened before `expires_at` and not yet used, it lets the physician
    set their password once; the account exists (disabled) from the invitation on, so that it can
    be a study's member before the physician signs up."""

    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(unique=True, index=True)
    user_name: str = Field(index=True)
    study_id: int | None = Field(default=None, foreign_key="study.id")  # made a member of it at once
    created_by: str
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # set when a newer invitation for the same physician replaces this one, or a researcher revokes it
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_by: str | None = None  # the researcher who revoked it (empty when replaced; migration 0009)
