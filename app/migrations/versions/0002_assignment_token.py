"""assignment token: a random handle for the pair on screen, so retries land on the same pair

Revision ID: 0002
Revises: 0001
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no table rebuild: on SQLite a rebuild of `assignment` would trip the
    # foreign keys of stored judgments. SQLite keeps the column nullable; the app always sets it.
    op.add_column("assignment", sa.Column("token", sa.String(), nullable=True))
    connection = op.get_bind()
    ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM assignment"))]
    for assignment_id in ids:  # existing assignments (and their judgments) keep working
        connection.execute(sa.text("UPDATE assignment SET token = :token WHERE id = :id"),
                           {"token": secrets.token_urlsafe(16), "id": assignment_id})
    if connection.dialect.name != "sqlite":
        op.alter_column("assignment", "token", existing_type=sa.String(), nullable=False)
    op.create_index("ix_assignment_token", "assignment", ["token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_assignment_token", table_name="assignment")
    op.drop_column("assignment", "token")
