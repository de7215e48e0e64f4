"""a researcher can revoke an open sign-up link: `invitation.revoked_by` names who did; `revoked_at`
(already there) says when. Links replaced by a newer invitation keep `revoked_by` empty, as every
row revoked before this revision was such a replacement.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invitation") as batch:
        batch.add_column(sa.Column("revoked_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitation") as batch:
        batch.drop_column("revoked_by")
