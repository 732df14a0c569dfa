"""Foundation: stages, leads, tags, stage history, settings.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("colour", sa.String(9), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(120), nullable=False),
        sa.Column("last_name", sa.String(120), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(60), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("stage_id", sa.Integer, sa.ForeignKey("stages.id"), nullable=False),
        sa.Column("position", sa.Float, nullable=False),
        sa.Column("stage_entered_at", sa.DateTime, nullable=False),
        sa.Column("score", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime, nullable=True),
    )
    op.create_index(
        "uq_leads_email_key_live",
        "leads",
        ["email_key"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_leads_board", "leads", ["stage_id", "deleted_at", "position", "id", "search_text"]
    )
    op.create_index("ix_leads_owner", "leads", ["owner", "deleted_at"])
    op.create_index("ix_leads_source", "leads", ["source", "deleted_at"])
    op.create_table(
        "lead_tags",
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "tag_id", sa.Integer, sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_lead_tags_tag", "lead_tags", ["tag_id"])
    op.create_table(
        "stage_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "from_stage_id",
            sa.Integer,
            sa.ForeignKey("stages.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "to_stage_id",
            sa.Integer,
            sa.ForeignKey("stages.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("moved_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
    )
    op.create_index("ix_stage_history_lead_id", "stage_history", ["lead_id"])
    op.create_index("ix_stage_history_moved_at", "stage_history", ["moved_at"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("settings", "stage_history", "lead_tags", "leads", "tags", "stages"):
        op.drop_table(table)
