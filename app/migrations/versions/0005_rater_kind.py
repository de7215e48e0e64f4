"""model raters and physician samples (issue 21)

`user.rater_kind`: "physician" (every existing user) or "model", a model judge whose verdicts are
stored as its judgments and kept apart from physicians' statistics. `study.physician_sample`: N when
physicians are assigned a uniform random sample of N items (None: all items), and
`item.in_physician_sample` marks the sampled items (every existing item: true).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("rater_kind", sa.String(), nullable=False, server_default="physician"))
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("physician_sample", sa.Integer(), nullable=True))
    with op.batch_alter_table("item") as batch:
        batch.add_column(sa.Column("in_physician_sample", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("item") as batch:
        batch.drop_column("in_physician_sample")
    with op.batch_alter_table("study") as batch:
        batch.drop_column("physician_sample")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("rater_kind")
