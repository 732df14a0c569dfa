"""Timestamps as microseconds since the epoch (an int) instead of SQLAlchemy's 26-character text.

Every date column of the workspace at once: SQL compares some of them with each other
(an enrolment's start with its lead's stage entry), and an int is smaller than any text,
so a half-converted workspace would answer wrongly. The columns keep their declared type;
SQLite stores the values as they come. See nurturedesk/core/timestamps.py.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = {
    "leads": ("stage_entered_at", "created_at", "updated_at", "deleted_at"),
    "stage_history": ("moved_at",),
    "email_templates": ("updated_at",),
    "sequences": ("created_at",),
    "enrollments": ("next_send_at", "enrolled_at"),
    "outbox": ("next_attempt_at", "created_at", "sent_at"),
    "suppressions": ("created_at",),
    "bounces": ("at",),
    "newsletters": ("next_run_at",),
    "interactions": ("occurred_at", "created_at"),
    "lead_scoring": ("released_at",),
    "qualification_answers": ("answered_at",),
    "release_events": ("created_at", "delivered_at"),
    "handoffs": ("released_at", "due_at", "overdue_at", "decided_at", "recycle_at"),
    "import_batches": ("started_at", "finished_at", "undone_at"),
    "segments": ("created_at", "updated_at"),
    "suppressed_hashes": ("created_at",),
}

# 'YYYY-MM-DD HH:MM:SS.ffffff' (the fraction may be missing or short) -> microseconds
# since 1970. The seconds without the fraction: strftime rounds it to milliseconds, and
# .999999 would become the next second.
_TO_MICROS = (
    "CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000"
    " + CAST(substr(substr({c}, 21) || '000000', 1, 6) AS INTEGER)"
)
# And back. SQLite's / and % round toward zero; before 1970 the fraction must count up
# from the second below, so both are floored.
_FRACTION = "((({c} % 1000000) + 1000000) % 1000000)"
_TO_TEXT = (
    f"strftime('%Y-%m-%d %H:%M:%S', ({{c}} - {_FRACTION}) / 1000000, 'unixepoch')"
    f" || '.' || substr('000000' || {_FRACTION}, -6)"
)


def _convert(expression: str, from_type: str) -> None:
    for table, columns in COLUMNS.items():
        sets = ", ".join(
            f"{c} = CASE WHEN typeof({c}) = '{from_type}' THEN {expression.format(c=c)}"
            f" ELSE {c} END"
            for c in columns
        )
        op.execute(f"UPDATE {table} SET {sets}")


def upgrade() -> None:
    _convert(_TO_MICROS, "text")


def downgrade() -> None:
    _convert(_TO_TEXT, "integer")
