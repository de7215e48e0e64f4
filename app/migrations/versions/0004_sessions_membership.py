"""browser sessions, login throttles and study membership in the database (issue 22)

`login_session`: one row per login (sha256 of its token, user, issue time, last activity, end
and why), so that a restart or a second app process on the same database keeps everyone logged
in; `login_attempt`: the login throttle's counted attempts, shared by every process;
`study_member`: the physicians of a study (a study without members stays open to all).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_sha256", sa.String(), nullable=False),
        sa.Column("user_name", sa.String(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(), nullable=False, server_default=""),
    )
    op.create_index("ix_login_session_token_sha256", "login_session", ["token_sha256"], unique=True)
    op.create_index("ix_login_session_user_name", "login_session", ["user_name"])
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("attempt", sa.String(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_login_attempt_key", "login_attempt", ["key"])
    op.create_index("ix_login_attempt_attempt", "login_attempt", ["attempt"])
    op.create_table(
        "study_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("study_id", "user_id", name="uq_study_member"),
    )
    op.create_index("ix_study_member_study_id", "study_member", ["study_id"])
    op.create_index("ix_study_member_user_id", "study_member", ["user_id"])


def downgrade() -> None:
    op.drop_table("study_member")
    op.drop_table("login_attempt")
    op.drop_table("login_session")
