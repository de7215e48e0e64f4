"""analysis plan of a study: primary estimand, alpha, planned size, caps, physician sample (issues 20, 21)

Revision ID: 0006
Revises: 0005
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the change


def downgrade() -> None:
    pass
