"""Scoring: interactions, per-lead scoring state, qualification, release events, hand-offs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _lead_fk() -> sa.ForeignKey:
    return sa.ForeignKey("leads.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lead_id", sa.Integer, _lead_fk(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_interactions_timeline", "interactions", ["lead_id", "occurred_at", "id"])
    op.create_index("ix_interactions_score", "interactions", ["lead_id", "type", "day"])
    op.create_index(
        "uq_interactions_source_ref",
        "interactions",
        ["source_ref"],
        unique=True,
        sqlite_where=sa.text("source_ref IS NOT NULL"),
        postgresql_where=sa.text("source_ref IS NOT NULL"),
    )
    op.create_table(
        "lead_scoring",
        sa.Column("lead_id", sa.Integer, _lead_fk(), primary_key=True),
        sa.Column("fit_points", sa.Integer, nullable=False, server_default="0"),
        sa.Column("grade", sa.String(1), nullable=False, server_default=""),
        sa.Column("released", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("released_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "qualification_answers",
        sa.Column("lead_id", sa.Integer, _lead_fk(), primary_key=True),
        sa.Column("question", sa.String(40), primary_key=True),
        sa.Column("answer", sa.String(80), nullable=False),
        sa.Column("answered_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "release_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lead_id", sa.Integer, _lead_fk(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("message", sa.String(400), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
        sa.Column("delivered_via", sa.String(20), nullable=False),
    )
    op.create_index("ix_release_events_lead_id", "release_events", ["lead_id"])
    op.create_index("ix_release_events_pending", "release_events", ["delivered_at", "id"])
    op.create_table(
        "handoffs",
        sa.Column("lead_id", sa.Integer, _lead_fk(), primary_key=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("released_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("overdue_at", sa.DateTime, nullable=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("recycle_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_handoffs_due_at", "handoffs", ["due_at"])


def downgrade() -> None:
    for table in (
        "handoffs",
        "release_events",
        "qualification_answers",
        "lead_scoring",
        "interactions",
    ):
        op.drop_table(table)
