"""model raters and judge verdicts (issue 21)

Revision ID: 0005
Revises: 0004
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the change


def downgrade() -> None:
    pass
