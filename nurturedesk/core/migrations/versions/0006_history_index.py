"""Stage history: drop the index on moved_at.

No query looks stage history up by date (the board, a lead's timeline and undo go by lead
id), yet the index was updated on every move and cost a big import about a twentieth of its
time and 4 MB per 100,000 leads. A report that needs it can bring it back.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_stage_history_moved_at", table_name="stage_history")


def downgrade() -> None:
    op.create_index("ix_stage_history_moved_at", "stage_history", ["moved_at"])
