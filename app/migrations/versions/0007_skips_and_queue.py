""""cannot judge" and the physicians' queues (issues 22 and 26)

`assignment.skipped_reason/skipped_note/skipped_at`: a physician's "cannot judge" (a reason code of
evaluation.kinds.skip.SkipReason, a note, when); existing assignments are not skipped.
`physician_queue`: one row per unit of each physician's seeded order, the rows of
`physicianorder.unit_order` (kept as the record of the order), so that the next unit is claimed by
one indexed statement; existing orders are copied into it.

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignment") as batch:
        batch.add_column(sa.Column("skipped_reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("skipped_note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=True))
    queue = op.create_table(
        "physician_queue",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("study.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), nullable=False),
        sa.UniqueConstraint("study_id", "user_id", "position", name="uq_physician_queue_position"),
    )
    orders = op.get_bind().execute(sa.text("SELECT study_id, user_id, unit_order FROM physicianorder")).all()
    rows = [{"study_id": study_id, "user_id": user_id, "position": position, "unit_id": unit_id}
            for study_id, user_id, unit_order in orders for position, unit_id in enumerate(json.loads(unit_order))]
    if rows:
        op.bulk_insert(queue, rows)


def downgrade() -> None:
    op.drop_table("physician_queue")
    with op.batch_alter_table("assignment") as batch:
        for name in ("skipped_at", "skipped_note", "skipped_reason"):
            batch.drop_column(name)
