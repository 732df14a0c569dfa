"""Nurture: assets, templates, sequences, enrolments, outbox, suppression, newsletters.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("topic", sa.String(120), nullable=False),
        sa.Column("target_tags", sa.String(400), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
    )
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "sequences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("window_days", sa.String(20), nullable=False),
        sa.Column("window_start_hour", sa.Integer, nullable=False),
        sa.Column("window_end_hour", sa.Integer, nullable=False),
        sa.Column("enroll_tag", sa.String(80), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "sequence_steps",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "sequence_id",
            sa.Integer,
            sa.ForeignKey("sequences.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("template_id", sa.Integer, sa.ForeignKey("email_templates.id"), nullable=False),
        sa.Column("delay_days", sa.Float, nullable=False),
    )
    op.create_index("ix_sequence_steps_sequence_id", "sequence_steps", ["sequence_id"])
    op.create_table(
        "stage_sequences",
        sa.Column(
            "stage_id",
            sa.Integer,
            sa.ForeignKey("stages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "sequence_id",
            sa.Integer,
            sa.ForeignKey("sequences.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "sequence_id",
            sa.Integer,
            sa.ForeignKey("sequences.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("next_step", sa.Integer, nullable=False),
        sa.Column("next_send_at", sa.DateTime, nullable=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("enrolled_at", sa.DateTime, nullable=False),
        sa.Column("how", sa.String(40), nullable=False),
        sa.Column("stopped_reason", sa.String(200), nullable=False),
        sa.UniqueConstraint("lead_id", "sequence_id", name="uq_enrollments_lead_sequence"),
    )
    op.create_index("ix_enrollments_due", "enrollments", ["state", "next_send_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "enrollment_id",
            sa.Integer,
            sa.ForeignKey("enrollments.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("round", sa.Integer, nullable=True),
        sa.Column("step_position", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("to_name", sa.String(250), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(250), nullable=False, unique=True),
        sa.Column("list_unsubscribe", sa.String(500), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("enrollment_id", "round", "step_position", name="uq_outbox_step"),
    )
    op.create_index("ix_outbox_lead_id", "outbox", ["lead_id"])
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"])
    op.create_table(
        "suppressions",
        sa.Column("email_key", sa.String(320), primary_key=True),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "bounces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column(
            "outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_bounces_lead_id", "bounces", ["lead_id"])
    op.create_table(
        "unsubscribe_tokens",
        sa.Column(
            "lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "newsletters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("template_id", sa.Integer, sa.ForeignKey("email_templates.id"), nullable=False),
        sa.Column(
            "stage_id", sa.Integer, sa.ForeignKey("stages.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("tag", sa.String(80), nullable=False),
        # A segment's name (segments live in 0004_import): no foreign key, matched by name.
        sa.Column("segment", sa.String(80), nullable=False, server_default=""),
        sa.Column("recurrence", sa.String(12), nullable=False),
        sa.Column("next_run_at", sa.DateTime, nullable=True),
        sa.Column("runs", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "newsletters",
        "unsubscribe_tokens",
        "bounces",
        "suppressions",
        "outbox",
        "enrollments",
        "stage_sequences",
        "sequence_steps",
        "sequences",
        "email_templates",
        "assets",
    ):
        op.drop_table(table)
