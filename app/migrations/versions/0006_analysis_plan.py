"""analysis plan of a study: primary estimand, target system, alpha, planned size, cap on one
physician's share (issue 20). Existing studies get the defaults: the decisive-vote rate, alpha
0.05, no planned size, no cap.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("primary_estimand", "target_system", "alpha", "planned_physicians", "planned_items", "max_share")


def upgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("primary_estimand", sa.String(), nullable=False, server_default="decisive"))
        batch.add_column(sa.Column("target_system", sa.String(), nullable=True))
        batch.add_column(sa.Column("alpha", sa.Float(), nullable=False, server_default="0.05"))
        batch.add_column(sa.Column("planned_physicians", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("planned_items", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
