"""Import: import batches (for undo), saved segments, suppressed address hashes.

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
        "import_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("policy", sa.String(10), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("first_lead_id", sa.Integer, nullable=True),
        sa.Column("last_lead_id", sa.Integer, nullable=True),
        sa.Column("created_tag_ids", sa.JSON, nullable=False),
        sa.Column("undone_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "import_batch_updates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "batch_id",
            sa.Integer,
            sa.ForeignKey("import_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("before", sa.JSON, nullable=False),
    )
    op.create_index("ix_import_batch_updates_batch_id", "import_batch_updates", ["batch_id"])
    op.create_index("ix_import_batch_updates_lead_id", "import_batch_updates", ["lead_id"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "suppressed_hashes",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("suppressed_hashes", "segments", "import_batch_updates", "import_batches"):
        op.drop_table(table)
